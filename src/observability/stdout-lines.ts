import { writeSync } from 'node:fs';

/** Bytes of lines that start a write; fewer wait at most FLUSH_MS for others. */
const BATCH_BYTES = 3072;
const FLUSH_MS = 100;
const NEWLINE = 0x0a;
/** Bytes one write holds at most, whole lines only: POSIX PIPE_BUF on Linux, up to which a pipe write is atomic. */
const PIPE_BUF = 4096;
/** Bytes of lines held while standard output takes nothing; lines past it are dropped, and counted. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** At exit, writes standard output refuses for now (EAGAIN: a reader not reading) retried, 100 ms apart: 2 s. */
const EXIT_WRITE_RETRIES = 20;
const EXIT_RETRY_MS = 100;

/** What pino writes its lines to. */
export interface LineDestination {
  write(line: string): boolean;
}

let shared: StdoutLines | undefined;

/**
 * Standard output for JSON log lines, shared by every logger of the process. Lines are joined and
 * go out about 3 KiB a write, or within 100 ms: a write per line cost a busy server several µs a
 * line, a third of a cached search. The event loop writes them itself: a pipe or socket is
 * non-blocking once Node opens it as a stream, so no write waits on a reader, and none goes through
 * the thread pool (a hop that cost more than the write). One write is in flight at a time and holds
 * at most PIPE_BUF bytes of whole lines, so the workers of serve.workers, sharing standard output,
 * never break each other's lines (their fields are capped, so a line stays below it).
 *
 * A reader that stalls is waited for while running, up to MAX_PENDING_BYTES held; later lines are
 * dropped, and a warning says how many once output flows again. When nothing reads standard output
 * any more (EPIPE: the primary of the workers was killed, the pipeline ended) lines are dropped
 * from then on. At exit what is left is written synchronously, and a reader that takes nothing is
 * given up on after 2 s: a process must end, a worker left behind by a killed primary too.
 */
export function stdoutLines(): LineDestination {
  if (shared) return shared;
  const lines = new StdoutLines(process.stdout);
  process.on('exit', () => lines.flushAtExit(1));
  shared = lines;
  return lines;
}

/** Lines batched onto a stream; `stdoutLines` is the one on standard output (exported for tests). */
export class StdoutLines implements LineDestination {
  /** Lines joined for the next chunk: joining strings costs less per line than encoding each. */
  private text = '';
  /**
   * Chunks of whole lines waiting for the stream, from `head` on: text where it fits a write (the
   * stream encodes it in place: a Buffer made per chunk here cost a bind more than its line), else bytes.
   */
  private chunks: (string | Buffer)[] = [];
  private head = 0;
  /** Bytes here not yet handed to the stream (characters, for `text`). */
  private pendingBytes = 0;
  /** The chunk the stream is writing, until its callback. */
  private inFlight: string | Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  /** Standard output is gone (EPIPE and the like): lines are dropped. */
  private gone = false;

  constructor(private readonly out: NodeJS.WritableStream & { readonly writableLength: number }) {
    out.on('error', () => this.close());
  }

  write(line: string): boolean {
    if (this.gone) return true;
    if (this.pendingBytes >= MAX_PENDING_BYTES) {
      this.dropped++;
      return true;
    }
    if (this.text.length + line.length > PIPE_BUF) this.seal();
    this.text += line;
    this.pendingBytes += line.length;
    if (this.pendingBytes >= BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(this.flush, FLUSH_MS).unref();
    return true;
  }

  /**
   * The joined lines join the queue: as one chunk of text when its bytes fit a write, else encoded
   * and cut after a newline (a byte UTF-8 never uses inside a character, and a JSON line only at its
   * end) into chunks of PIPE_BUF bytes at most. A single line longer than that is a chunk alone.
   */
  private seal(): void {
    const { text } = this;
    if (text === '') return;
    this.text = '';
    const length = Buffer.byteLength(text);
    this.pendingBytes += length - text.length;
    if (length <= PIPE_BUF) {
      this.chunks.push(text);
      return;
    }
    let bytes = Buffer.from(text);
    while (bytes.length > PIPE_BUF) {
      const cut = bytes.lastIndexOf(NEWLINE, PIPE_BUF - 1) + 1 || bytes.indexOf(NEWLINE) + 1 || bytes.length;
      this.chunks.push(bytes.subarray(0, cut));
      bytes = bytes.subarray(cut);
    }
    if (bytes.length > 0) this.chunks.push(bytes);
  }

  private readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.gone || this.inFlight !== undefined) return;
    if (this.head === this.chunks.length) {
      if (this.text === '' && this.dropped > 0) this.reportDropped();
      this.seal();
      if (this.head === this.chunks.length) return;
    }
    const chunk = this.chunks[this.head++]!;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
    this.pendingBytes -= typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    this.inFlight = chunk;
    this.out.write(chunk, this.written);
  };

  private readonly written = (err?: Error | null): void => {
    this.inFlight = undefined;
    if (err) this.close();
    else if (this.pendingBytes >= BATCH_BYTES || this.dropped > 0) this.flush();
    else if (this.pendingBytes > 0) this.timer ??= setTimeout(this.flush, FLUSH_MS).unref();
  };

  private reportDropped(): void {
    const line = `{"level":40,"time":${Date.now()},"name":"canopy","dropped":${this.dropped},"msg":"log lines dropped: standard output took nothing while ${MAX_PENDING_BYTES} bytes waited"}\n`;
    this.dropped = 0;
    this.text += line;
    this.pendingBytes += line.length;
  }

  private close(): void {
    this.gone = true;
    this.chunks = [];
    this.head = 0;
    this.text = '';
    this.pendingBytes = 0;
  }

  /** What the stream has not written yet and what waits here, written to `fd` (the stream's) before the process ends. */
  flushAtExit(fd: number): void {
    if (this.gone) return;
    // A chunk still counted by the stream was refused so far (EAGAIN) and sits in its queue, unwritten.
    const unwritten = this.inFlight !== undefined && this.out.writableLength > 0 ? [this.inFlight] : [];
    this.seal();
    let data = Buffer.concat([...unwritten, ...this.chunks.slice(this.head)].map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk)));
    this.close();
    let retries = 0;
    while (data.length > 0) {
      try {
        data = data.subarray(writeSync(fd, data));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++retries > EXIT_WRITE_RETRIES) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, EXIT_RETRY_MS);
      }
    }
  }
}
