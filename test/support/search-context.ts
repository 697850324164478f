import type { SearchContext } from '../../src/core/directory.js';
import { SearchTrailer } from '../../src/core/search-trailer.js';

/** The context of one search by an anonymous client of connection 1, with a fresh trailer the test can read; `fields` replace any. */
export function searchCtx(fields: Partial<SearchContext> = {}): SearchContext {
  return { signal: new AbortController().signal, connectionId: 1, boundDn: '', trailer: new SearchTrailer(), ...fields };
}
