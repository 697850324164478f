import { createRequire } from 'node:module';
import { pino, type Logger, type Level, type LoggerOptions } from 'pino';
import type Pretty from 'pino-pretty';
import { stdoutLines } from './stdout-lines.js';

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

/** Fields that hold secrets wherever they appear in a log line, at its top level or one object down. */
const SECRET_FIELDS: readonly string[] = ['password', 'credentials'];
const CENSORED = '[redacted]';

/** An object field with its secret fields censored (copied only when it has one); anything else as it is. */
function censorNested(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) return v;
  let out = v as Record<string, unknown>;
  for (const secret of SECRET_FIELDS) {
    if (!Object.hasOwn(v, secret)) continue;
    if (out === v) out = { ...(v as Record<string, unknown>) };
    out[secret] = CENSORED;
  }
  return out;
}

/**
 * Every field of a log line (and of a child logger's bindings) capped and its secrets censored: the net
 * under the explicit caps, and a second line of defence for passwords, which no code path logs on
 * purpose. Done in this one pass over the fields rather than by pino's redaction, which cost a
 * busy server several times as much per line. The caller's object is copied only when a field changes.
 */
function capFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields;
  for (const key in fields) {
    const v = fields[key];
    const capped = SECRET_FIELDS.includes(key) ? CENSORED : censorNested(capField(v));
    if (capped === v) continue;
    if (out === fields) out = { ...fields };
    out[key] = capped;
  }
  return out;
}

// pino-pretty (40 modules) is loaded when a pretty logger is made: JSON logging, the tests and
// `canopy mock` start without it.
const requireOnUse = createRequire(import.meta.url);

/** The process logger, on stdout unless a destination is given: fields capped and secrets censored (capFields). */
export function createLogger(level: Level | 'silent' = 'info', destination?: NodeJS.WritableStream, format: LogFormat = 'json'): Logger {
  const options: LoggerOptions = {
    name: 'canopy',
    level,
    base: undefined,
    formatters: { log: capFields },
  };
  if (format === 'pretty') {
    // Formatting happens in this thread, written synchronously so lines and the welcome printed
    // after start-up come in order: fine for a person watching, JSON is the format for load.
    const pretty = requireOnUse('pino-pretty') as typeof Pretty;
    return withCheckedChildren(pino(options, pretty({ destination: destination ?? 1, sync: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l' })));
  }
  return withCheckedChildren(pino(options, destination ?? stdoutLines()));
}

/** A child logger's bindings go through capFields too (pino gives children no bindings formatter); children inherit this. */
function withCheckedChildren(logger: Logger): Logger {
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, capFields(bindings), options);
  } as Logger['child'];
  return logger;
}


const { streamSym, chindingsSym } = pino.symbols;

/**
 * Writes an info line in `log`'s JSON shape (level, time, the logger's bindings, then `fields`, a
 * JSON fragment starting with a comma, then `msg`) to its destination, as pino would, without
 * pino's work per field: for the access log, a line per operation of a busy server. The caller
 * builds `fields` from capped values (`capLogged`) quoted with `JSON.stringify`, and no secrets.
 */
export function writeInfoLine(log: Logger, fields: string, msg: string): void {
  if (!log.isLevelEnabled('info')) return;
  const internals = log as unknown as Record<symbol, unknown>;
  const destination = internals[streamSym] as { write(line: string): unknown };
  destination.write(`{"level":30,"time":${Date.now()}${internals[chindingsSym] as string}${fields},"msg":${JSON.stringify(msg)}}\n`);
}
