import { ResultCode } from '../core/result-codes.js';
import { encodeEnvelopes, tlvEnd } from '../protocol/encoder.js';
import type { CacheKey, CachedResult, KeptOutcome, ResultCache } from './result-cache.js';

/** Where a search's messages go: the connection, with its backpressure (the front end's SearchOutput). */
export interface MessageOutput {
  /** False when the socket's buffer is full. */
  write(message: Buffer): boolean;
  /** Resolves when the socket wants more, closes, or `signal` aborts. */
  drained(signal: AbortSignal): Promise<void>;
}

/** How a search ended, as far as the cache is concerned. */
export interface RunOutcome extends KeptOutcome {
  readonly message?: string;
  /** Success with the whole result (no forest missing, no page to follow): it may be kept. */
  readonly cacheable?: boolean;
}

/** The answers that let a stale result stand in: the forests could not be asked, not a refusal. */
const UNAVAILABLE: ReadonlySet<ResultCode> = new Set([ResultCode.unavailable, ResultCode.busy]);

/** A kept result goes out in writes of about this size, so a slow client's socket still applies backpressure. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Answers a cacheable search: a fresh kept result is written again under the new message ID; otherwise
 * `run` does the search, and its result is kept when it ends whole. A stale kept result (within
 * staleIfErrorSeconds) holds the new answer back until it is known: if the forests are unavailable
 * or busy, the stale result is served instead, unless a write evicted it or it grew too old meanwhile.
 */
export async function answerFromCache<O extends RunOutcome>(
  cache: ResultCache,
  key: CacheKey,
  messageId: number,
  output: MessageOutput,
  signal: AbortSignal,
  run: (output: MessageOutput) => Promise<O>,
): Promise<O | KeptOutcome> {
  const found = cache.lookup(key);
  if (found?.fresh) return replay(found.result, messageId, output, signal);
  const recorder = new Recorder(output, cache, found !== undefined);
  try {
    const outcome = await run(recorder);
    if (found && recorder.holding && UNAVAILABLE.has(outcome.code) && cache.mayStandIn(key, found.result)) {
      cache.servedStale(found.result, outcome.message);
      return await replay(found.result, messageId, output, signal);
    }
    await recorder.release(signal);
    if (outcome.cacheable && recorder.messages) cache.store(key, recorder.messages, outcome);
    return outcome;
  } finally {
    recorder.done();
  }
}

async function replay(result: CachedResult, messageId: number, output: MessageOutput, signal: AbortSignal): Promise<KeptOutcome> {
  const { ops } = result;
  let start = 0;
  while (start < ops.length && !signal.aborted) {
    let end = start;
    while (end < ops.length && end - start < CHUNK_BYTES) end = tlvEnd(ops, end);
    if (!output.write(encodeEnvelopes(messageId, ops, start, end))) await output.drained(signal);
    start = end;
  }
  return result.outcome;
}

/**
 * Between a search and the connection: keeps what the search writes while it stays within the
 * cache's bounds (entries per result, and the room the cache gives running searches' records), and
 * while `holding`, keeps it from the client too (until `release`).
 */
class Recorder implements MessageOutput {
  /** The messages written so far; undefined once the result is too large to keep. */
  messages: Buffer[] | undefined = [];
  private bytes = 0;

  constructor(
    private readonly output: MessageOutput,
    private readonly cache: Pick<ResultCache, 'maxEntriesPerResult' | 'record' | 'recorded'>,
    public holding: boolean,
  ) {}

  write(message: Buffer): boolean {
    if (this.messages) {
      if (this.messages.length < this.cache.maxEntriesPerResult && this.cache.record(message.length)) {
        this.bytes += message.length;
        this.messages.push(message);
        if (this.holding) return true;
      } else {
        // Too large to keep, so no kept result can stand in for it either: what was held goes out now.
        if (this.holding) for (const m of this.messages) this.output.write(m);
        this.holding = false;
        this.messages = undefined;
        this.done();
      }
    }
    return this.output.write(message);
  }

  /** The search ended (or its record was given up): what it recorded no longer counts against the cache's room. */
  done(): void {
    this.cache.recorded(this.bytes);
    this.bytes = 0;
  }

  drained(signal: AbortSignal): Promise<void> {
    return this.output.drained(signal);
  }

  /** Sends what was held back. */
  async release(signal: AbortSignal): Promise<void> {
    if (!this.holding || !this.messages) return;
    this.holding = false;
    for (const m of this.messages) {
      if (signal.aborted) return;
      if (!this.output.write(m)) await this.output.drained(signal);
    }
  }
}
