import { pino, type Logger, type Level, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** `json`: one JSON object a line, for log collectors (the default); `pretty`: coloured text for people. */
export type LogFormat = 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * The process logger, on stdout unless a destination is given. Redaction is a second line of
 * defence: no code path logs a password on purpose, and these paths catch one that slips into a
 * logged object.
 */
export function createLogger(level: Level | 'silent' = 'info', destination?: NodeJS.WritableStream, format: LogFormat = 'json'): Logger {
  const options: LoggerOptions = {
    name: 'canopy',
    level,
    base: undefined,
    redact: { paths: ['password', '*.password', 'credentials', '*.credentials'], censor: '[redacted]' },
  };
  if (format === 'pretty') {
    // Formatting happens in this thread, written synchronously so lines and the welcome printed
    // after start-up come in order: fine for a person watching, JSON is the format for load.
    return pino(options, pretty({ destination: destination ?? 1, sync: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l' }));
  }
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
