import { pino, type Logger, type Level, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { stdoutBatches } from './stdout-batches.js';

export type { Logger };

/** `json`: one JSON object a line, for log collectors (the default); `pretty`: coloured text for people. */
export type LogFormat = 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** Characters of a client-supplied name or DN (bind names, search bases) a log line keeps. */
export const LOGGED_NAME_CHARS = 256;

/** Characters any other string field of a log line keeps (filters, diagnostic messages, upstream text). */
export const LOGGED_VALUE_CHARS = 1024;

/**
 * A value cut to `max` characters for a log line, followed by its full length: a client must not
 * be able to turn one request into megabytes of log (a 512 KiB bind name, a 1 MiB filter).
 */
export function capLogged(value: string, max: number = LOGGED_NAME_CHARS): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length} characters)`;
}

/** A string field (or string in an array field) of a log line, capped. */
function capField(v: unknown): unknown {
  if (typeof v === 'string') return v.length > LOGGED_VALUE_CHARS ? capLogged(v, LOGGED_VALUE_CHARS) : v;
  if (Array.isArray(v) && v.some((x) => typeof x === 'string' && x.length > LOGGED_VALUE_CHARS)) return v.map(capField);
  return v;
}

/** Every field of a log line capped (the net under the explicit caps); the caller's object is copied only when one is. */
function capFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields;
  for (const key in fields) {
    const v = fields[key];
    const capped = capField(v);
    if (capped === v) continue;
    if (out === fields) out = { ...fields };
    out[key] = capped;
  }
  return out;
}

/**
 * The process logger, on stdout unless a destination is given. Redaction is a second line of
 * defence: no code path logs a password on purpose, and these paths catch one that slips into a
 * logged object. String fields are capped (LOGGED_VALUE_CHARS).
 */
export function createLogger(level: Level | 'silent' = 'info', destination?: NodeJS.WritableStream, format: LogFormat = 'json'): Logger {
  const options: LoggerOptions = {
    name: 'canopy',
    level,
    base: undefined,
    redact: { paths: ['password', '*.password', 'credentials', '*.credentials'], censor: '[redacted]' },
    formatters: { log: capFields },
  };
  if (format === 'pretty') {
    // Formatting happens in this thread, written synchronously so lines and the welcome printed
    // after start-up come in order: fine for a person watching, JSON is the format for load.
    return pino(options, pretty({ destination: destination ?? 1, sync: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l' }));
  }
  return pino(options, destination ?? stdoutBatches());
}

