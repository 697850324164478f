import { pino, type Logger, type Level } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout. Redaction is a second line of defence: no code path
 * logs a password on purpose, and these paths catch one that slips into a logged object.
 */
export function createLogger(level: Level | 'silent' = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name: 'canopy',
      level,
      base: undefined,
      redact: { paths: ['password', '*.password', 'credentials', '*.credentials'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
