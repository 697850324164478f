import type { SearchStream } from './directory.js';
import type { Entry } from './entry.js';

/** A search that fails when first pulled, so callers see every search error in one place: the stream. */
export function failedSearch(error: Error): SearchStream {
  return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
}

/** A search with no entries. */
export const EMPTY_SEARCH: SearchStream = {
  [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }),
};

/** The entries of an array, as a search. */
export function arrayStream(entries: readonly Entry[]): SearchStream {
  return {
    [Symbol.asyncIterator]: () => {
      let i = 0;
      return { next: () => Promise.resolve(i < entries.length ? { done: false, value: entries[i++] } : { done: true, value: undefined }) };
    },
  };
}

/**
 * What one stage does to a search it passes on, as an slapd overlay's response callback does:
 * each entry rewritten or dropped synchronously, a failure reported in the stage's terms, the end
 * checked. A stage changes a search this way, not by wrapping the stream in another async step.
 */
export interface SearchHooks {
  /** The entry as this stage passes it on (rewritten or not), or undefined to leave it out. */
  readonly entry?: (entry: Entry) => Entry | undefined;
  /** A failure of the search below (or of a hook below this stage's) as this stage reports it. */
  readonly error?: (err: unknown) => unknown;
  /** The search below ended by itself; throwing ends it with that error instead. */
  readonly done?: () => void;
  /** The stream's first pull starts (its iterator is made), and it ends however it ends: once each. */
  readonly opened?: () => void;
  readonly closed?: () => void;
}

/**
 * A search with stages' hooks over a source stream. Hooks added to a hooked search join its list
 * instead of wrapping it, so however many stages change a search, pulling an entry is one pull of
 * the source and a loop over synchronous hooks (innermost stage first).
 */
export class HookedSearch implements AsyncIterable<Entry> {
  private constructor(
    private readonly source: SearchStream,
    private readonly layers: readonly SearchHooks[],
  ) {}

  /** `stream` with `hooks` applied after its own. */
  static of(stream: SearchStream, hooks: SearchHooks): HookedSearch {
    return stream instanceof HookedSearch ? new HookedSearch(stream.source, [...stream.layers, hooks]) : new HookedSearch(stream, [hooks]);
  }

  /** `search()` of a stage below, its synchronous throw turned into the stream's failure, with `hooks` applied. */
  static over(search: () => SearchStream, hooks: SearchHooks): HookedSearch {
    let stream: SearchStream;
    try {
      stream = search();
    } catch (err) {
      stream = failedSearch(err as Error);
    }
    return HookedSearch.of(stream, hooks);
  }

  [Symbol.asyncIterator](): AsyncIterator<Entry> {
    return new HookedPull(this.source[Symbol.asyncIterator](), this.layers);
  }
}

const DONE: IteratorResult<Entry> = { done: true, value: undefined };

class HookedPull implements AsyncIterator<Entry> {
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<Entry>,
    private readonly layers: readonly SearchHooks[],
  ) {
    for (const layer of layers) layer.opened?.();
  }

  next(): Promise<IteratorResult<Entry>> {
    if (this.ended) return Promise.resolve(DONE);
    return this.source.next().then(this.step, this.failed);
  }

  return(): Promise<IteratorResult<Entry>> {
    if (this.ended) return Promise.resolve(DONE);
    this.end();
    const closing = this.source.return?.();
    return closing ? closing.then(() => DONE) : Promise.resolve(DONE);
  }

  private readonly step = (result: IteratorResult<Entry>): IteratorResult<Entry> | Promise<IteratorResult<Entry>> => {
    const { layers } = this;
    if (result.done) {
      for (let i = 0; i < layers.length; i++) {
        try {
          layers[i].done?.();
        } catch (err) {
          throw this.raise(err, i + 1);
        }
      }
      this.end();
      return DONE;
    }
    let entry: Entry | undefined = result.value;
    for (let i = 0; i < layers.length; i++) {
      const hook = layers[i].entry;
      if (hook === undefined) continue;
      try {
        entry = hook(entry);
      } catch (err) {
        throw this.raise(err, i + 1);
      }
      // Left out: the next entry is pulled in its place.
      if (entry === undefined) return this.next();
    }
    return { done: false, value: entry };
  };

  private readonly failed = (err: unknown): never => {
    throw this.raise(err, 0);
  };

  /** `err` as the layers from `from` up report it; the stream is over, its source closed. */
  private raise(err: unknown, from: number): unknown {
    for (let i = from; i < this.layers.length; i++) err = this.layers[i].error?.(err) ?? err;
    if (!this.ended) {
      this.end();
      void this.source.return?.()?.catch(() => undefined);
    }
    return err;
  }

  private end(): void {
    this.ended = true;
    for (const layer of this.layers) layer.closed?.();
  }
}
