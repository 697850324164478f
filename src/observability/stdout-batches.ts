import sonicBoom, { type SonicBoom } from 'sonic-boom';

/** Bytes of log lines that start a write, and the longest a line waits for others. */
const BATCH_BYTES = 2048;
/** Bytes a write to a pipe is atomic up to (POSIX PIPE_BUF on Linux). */
const PIPE_BUF = 4096;
const FLUSH_MS = 100;
/** At exit, writes standard output refuses for now (EAGAIN: a reader not reading) retried, 100 ms apart: 2 s. */
const EXIT_WRITE_RETRIES = 20;

let shared: SonicBoom | undefined;

/**
 * Standard output for JSON log lines, shared by every logger of the process. Lines gather up to
 * BATCH_BYTES (or FLUSH_MS) per write: one write per line was 10-15 % of a busy server's CPU at
 * info. A write holds whole lines and at most PIPE_BUF bytes, so the workers of serve.workers,
 * sharing standard output, never break each other's lines (their fields are capped, so a line
 * stays below it). What is left is written when the process exits.
 *
 * When nothing reads standard output any more (EPIPE: the primary of the workers was killed, the
 * pipeline ended) the lines are dropped from then on, and at exit a reader that stalls is given up
 * on: the writer pino builds retries both forever in its exit flush, blocking the process, which
 * then never ends.
 */
export function stdoutBatches(): SonicBoom {
  if (shared) return shared;
  let exiting = false;
  let exitRetries = 0;
  const out = new sonicBoom.SonicBoom({
    fd: 1,
    sync: false,
    minLength: BATCH_BYTES,
    maxWrite: PIPE_BUF,
    periodicFlush: FLUSH_MS,
    // While running, a slow reader is waited for (the retries are timers, nothing blocks).
    retryEAGAIN: () => !exiting || ++exitRetries <= EXIT_WRITE_RETRIES,
  });
  out.on('error', () => drop(out));
  process.on('exit', () => {
    exiting = true;
    try {
      out.flushSync();
    } catch {
      // Nowhere to write: the lines are lost with the output.
    }
  });
  shared = out;
  return out;
}

/** From now on `out` takes lines and writes nothing. */
function drop(out: SonicBoom): void {
  Object.assign(out, {
    write: () => true,
    flush: (cb?: (err?: Error) => void) => cb?.(),
    flushSync: () => undefined,
  });
}
