import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';

/** A debug logger whose lines are collected, raw and parsed. */
export function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      raw.push(line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  return { lines, raw, logger: createLogger('debug', stream) };
}
