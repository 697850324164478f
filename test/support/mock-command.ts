import { PassThrough } from 'node:stream';
import { runMock } from '../../src/mock/mock-command.js';

export interface InProcessMock {
  /** The URL the banner printed. */
  readonly url: string;
  /** Stops it as SIGINT would; resolves with its exit status. */
  stop(): Promise<number>;
}

/** Runs `canopy mock ARGS` in this process (no build needed) and waits for its start-up banner. */
export async function runMockInProcess(args: readonly string[]): Promise<InProcessMock> {
  const out = new PassThrough();
  const err = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  err.on('data', (b: Buffer) => (text += b.toString()));
  let stopped!: () => void;
  const running = runMock(args, { out, err, stopped: new Promise<void>((resolve) => (stopped = resolve)) });
  const exited = running.then((status) => {
    throw new Error(`canopy mock exited with ${status}: ${text}`);
  });
  while (!/password: /.test(text)) await Promise.race([exited, new Promise((r) => setTimeout(r, 20))]);
  exited.catch(() => undefined);
  return {
    url: /listening on (\S+)/.exec(text)![1],
    stop: () => {
      stopped();
      return running;
    },
  };
}
