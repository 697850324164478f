import { pino, type Logger, type Level, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** `json`: one JSON object a line, for log collectors (the default); `pretty`: coloured text for people. */
export type LogFormat = 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** Bytes of log lines that start a write, and the longest a line waits for others (stdout JSON only). */
const LOG_BATCH_BYTES = 2048;
/** Bytes a write to a pipe is atomic up to (POSIX PIPE_BUF on Linux). */
const PIPE_BUF = 4096;
const LOG_FLUSH_MS = 100;

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
  // Lines gather up to LOG_BATCH_BYTES (or LOG_FLUSH_MS) per write: one write per line was 10-15 % of a
  // busy server's CPU at info. A write holds whole lines and at most PIPE_BUF bytes, so the workers of
  // serve.workers, sharing standard output, never break each other's lines (their fields are capped,
  // so a line stays below it). pino flushes what is left when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, maxWrite: PIPE_BUF, periodicFlush: LOG_FLUSH_MS }));
}

