import type { SearchStream } from './directory.js';

/** A search that fails when first pulled, so callers see every search error in one place: the stream. */
export function failedSearch(error: Error): SearchStream {
  return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
}

/** A search with no entries. */
export const EMPTY_SEARCH: SearchStream = {
  [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }),
};
