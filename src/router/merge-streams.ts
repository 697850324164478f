import type { Entry } from '../core/entry.js';
import type { SearchStream } from '../core/directory.js';

export interface NamedStream {
  readonly forest: string;
  readonly stream: SearchStream;
  /** Called with the number of entries when the stream ends by itself (not on failure or early close). */
  readonly complete?: (count: number) => void;
  /** Which entries that number counts, when not all (the sync guard counts what the client may see). */
  readonly counts?: (entry: Entry) => boolean;
}

/** A failure of one forest's part of a merged search, naming the forest. */
export class ForestStreamError extends Error {
  constructor(
    readonly forest: string,
    override readonly cause: unknown,
  ) {
    super(`forest "${forest}" failed`);
  }
}

/** `err` as a failure of `forest`, unless it already names the forest it came from. */
export function forestError(forest: string, err: unknown): ForestStreamError {
  return err instanceof ForestStreamError ? err : new ForestStreamError(forest, err);
}

/**
 * Interleaves several forests' streams as entries arrive, after `first` (entries of the router's
 * own), pulling at most one entry ahead per forest (memory is bounded by the number of forests,
 * and a slow consumer pauses all of them). The first failure ends the merged stream and closes the
 * others: a partial result must never look complete. Settled pulls queue in arrival order (no
 * Promise.race per entry, whose reactions pile up on a forest waiting for its next upstream page).
 * An iterator of its own rather than an async generator: one step per entry, not one per level.
 */
export function mergeStreams(sources: readonly NamedStream[], first: readonly Entry[] = []): SearchStream {
  return { [Symbol.asyncIterator]: () => new Merge(sources, first) };
}

type Pulled = { index: number; result: IteratorResult<Entry> } | { index: number; error: ForestStreamError };

const DONE: IteratorResult<Entry> = { done: true, value: undefined };

class Merge implements AsyncIterator<Entry> {
  private readonly iterators: AsyncIterator<Entry>[];
  private readonly ready: Pulled[] = [];
  /** Which forests' streams still run, and how many do (a Set made per search cost more). */
  private readonly running: boolean[];
  private runningCount: number;
  private readonly counts: number[];
  /** The pull waiting for a forest's entry (one at a time: a consumer awaits each pull). */
  private waiting: { resolve(result: IteratorResult<Entry>): void; reject(err: unknown): void } | undefined;
  private firstSent = 0;
  private ended = false;

  constructor(
    private readonly sources: readonly NamedStream[],
    private readonly first: readonly Entry[],
  ) {
    this.iterators = sources.map((s) => s.stream[Symbol.asyncIterator]());
    this.running = sources.map(() => true);
    this.runningCount = sources.length;
    this.counts = sources.map(() => 0);
    for (let i = 0; i < sources.length; i++) this.pull(i);
  }

  // Not an async function: an answer that has arrived is given at once, with no frame or await to resume.
  next(): Promise<IteratorResult<Entry>> {
    if (this.firstSent < this.first.length) return Promise.resolve({ done: false, value: this.first[this.firstSent++] });
    try {
      const answer = this.settle();
      if (answer !== undefined) return Promise.resolve(answer);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** Abandon, size limit, failure elsewhere: the forests still running stop; their pulls settle into `ready`, unread. */
  async return(): Promise<IteratorResult<Entry>> {
    this.stop();
    return DONE;
  }

  /** The answer to a pull from what has arrived (an entry or the end; a forest's failure is thrown), or undefined while it must wait. */
  private settle(): IteratorResult<Entry> | undefined {
    while (!this.ended && this.runningCount > 0) {
      const pulled = this.ready.shift();
      if (pulled === undefined) return undefined;
      if ('error' in pulled) {
        this.finished(pulled.index);
        this.stop();
        throw pulled.error;
      }
      if (pulled.result.done) {
        this.finished(pulled.index);
        this.sources[pulled.index].complete?.(this.counts[pulled.index]);
        continue;
      }
      const { counts } = this.sources[pulled.index];
      if (counts === undefined || counts(pulled.result.value)) this.counts[pulled.index]++;
      this.pull(pulled.index);
      return pulled.result;
    }
    this.ended = true;
    return DONE;
  }

  private finished(index: number): void {
    this.running[index] = false;
    this.runningCount--;
  }

  private stop(): void {
    this.ended = true;
    for (let i = 0; i < this.running.length; i++) {
      if (!this.running[i]) continue;
      this.finished(i);
      void this.iterators[i].return?.()?.catch(() => undefined);
    }
  }

  private pull(index: number): void {
    this.iterators[index].next().then(
      (result) => this.arrive({ index, result }),
      (err: unknown) => this.arrive({ index, error: forestError(this.sources[index].forest, err) }),
    );
  }

  private arrive(pulled: Pulled): void {
    this.ready.push(pulled);
    const waiting = this.waiting;
    if (waiting === undefined) return;
    let answer: IteratorResult<Entry> | undefined;
    try {
      answer = this.settle();
    } catch (err) {
      this.waiting = undefined;
      waiting.reject(err);
      return;
    }
    if (answer === undefined) return;
    this.waiting = undefined;
    waiting.resolve(answer);
  }
}

/** Streams forests one after another, in the given order. */
export async function* concatStreams(sources: readonly NamedStream[]): AsyncGenerator<Entry, void, undefined> {
  for (const s of sources) {
    let count = 0;
    try {
      for await (const entry of s.stream) {
        if (s.counts === undefined || s.counts(entry)) count++;
        yield entry;
      }
    } catch (err) {
      throw forestError(s.forest, err);
    }
    s.complete?.(count);
  }
}
