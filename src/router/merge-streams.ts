import type { Entry } from '../core/entry.js';
import type { SearchStream } from '../core/directory.js';

export interface NamedStream {
  readonly forest: string;
  readonly stream: SearchStream;
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
 * Interleaves several forests' streams as entries arrive, pulling at most one entry ahead per
 * forest (memory is bounded by the number of forests, and a slow consumer pauses all of them).
 * The first failure ends the merged stream and closes the others: a partial result must never
 * look complete.
 */
export async function* mergeStreams(sources: readonly NamedStream[]): AsyncGenerator<Entry, void, undefined> {
  const iterators = sources.map((s) => s.stream[Symbol.asyncIterator]());
  type Pull = { index: number; result: IteratorResult<Entry> };
  const pull = (index: number): Promise<Pull> =>
    iterators[index].next().then(
      (result) => ({ index, result }),
      (err: unknown) => {
        throw forestError(sources[index].forest, err);
      },
    );
  const pending = new Map<number, Promise<Pull>>(iterators.map((_, i) => [i, pull(i)]));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      pending.set(index, pull(index));
      yield result.value;
    }
  } finally {
    // Stop the forests still running (abandon, size limit, failure elsewhere); their pending
    // pulls may still settle, so keep those rejections from going unhandled.
    for (const [index, p] of pending) {
      p.catch(() => undefined);
      void iterators[index].return?.();
    }
  }
}

/** Streams forests one after another, in the given order. */
export async function* concatStreams(sources: readonly NamedStream[]): AsyncGenerator<Entry, void, undefined> {
  for (const s of sources) {
    try {
      yield* s.stream;
    } catch (err) {
      throw forestError(s.forest, err);
    }
  }
}
