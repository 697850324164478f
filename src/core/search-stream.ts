import type { Entry } from './entry.js';
import type { SearchStream } from './directory.js';

/** A search that fails when first pulled, so callers see every search error in one place: the stream. */
export async function* failedSearch(error: Error): AsyncGenerator<Entry, void, undefined> {
  throw error;
}

export type { SearchStream };
