import type { Entry } from '../core/entry.js';
import type { SearchStream } from '../core/directory.js';

export interface NamedStream {
  readonly forest: string;
  readonly stream: SearchStream;
  /** Called with the number of entries when the stream ends by itself (not on failure or early close). */
  readonly complete?: (count: number) => void;
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
 * look complete. Settled pulls queue in arrival order (no Promise.race per entry, whose reactions
 * pile up on a forest waiting for its next upstream page).
 */
export async function* mergeStreams(sources: readonly NamedStream[]): AsyncGenerator<Entry, void, undefined> {
  const iterators = sources.map((s) => s.stream[Symbol.asyncIterator]());
  type Pulled = { index: number; result: IteratorResult<Entry> } | { index: number; error: ForestStreamError };
  const ready: Pulled[] = [];
  let wake: (() => void) | undefined;
  const arrive = (pulled: Pulled): void => {
    ready.push(pulled);
    wake?.();
    wake = undefined;
  };
  const pull = (index: number): void => {
    iterators[index].next().then(
      (result) => arrive({ index, result }),
      (err: unknown) => arrive({ index, error: forestError(sources[index].forest, err) }),
    );
  };
  const running = new Set(iterators.keys());
  const counts = sources.map(() => 0);
  for (const i of running) pull(i);
  try {
    while (running.size > 0) {
      if (ready.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const pulled = ready.shift()!;
      if ('error' in pulled) {
        running.delete(pulled.index);
        throw pulled.error;
      }
      if (pulled.result.done) {
        running.delete(pulled.index);
        sources[pulled.index].complete?.(counts[pulled.index]);
        continue;
      }
      counts[pulled.index]++;
      pull(pulled.index);
      yield pulled.result.value;
    }
  } finally {
    // Stop the forests still running (abandon, size limit, failure elsewhere); their pulls settle into `ready`, unread.
    for (const i of running) void iterators[i].return?.()?.catch(() => undefined);
  }
}

/** Streams forests one after another, in the given order. */
export async function* concatStreams(sources: readonly NamedStream[]): AsyncGenerator<Entry, void, undefined> {
  for (const s of sources) {
    let count = 0;
    try {
      for await (const entry of s.stream) {
        count++;
        yield entry;
      }
    } catch (err) {
      throw forestError(s.forest, err);
    }
    s.complete?.(count);
  }
}
