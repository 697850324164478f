import type { Filter } from '../../core/filter.js';
import { equalityKey, foldPiece } from '../../core/matching.js';
import { attributeKey } from '../../core/schema.js';
import type { AttributeIndex } from './attribute-index.js';

/** Indexes by attribute type key. */
export type IndexSet = ReadonlyMap<string, AttributeIndex>;

/**
 * DN keys of entries that may match the filter, from the indexes; undefined when the filter has
 * no indexed part and the scope must be scanned. An AND uses its most selective indexed branch,
 * an OR needs every branch indexed. The result is a superset: the filter is re-checked.
 */
export function candidates(filter: Filter, indexes: IndexSet): ReadonlySet<string> | undefined {
  switch (filter.type) {
    case 'equality':
    case 'approx': {
      const index = indexes.get(attributeKey(filter.attribute));
      if (!index) return undefined;
      const key = equalityKey(index.rules, filter.value);
      return key === undefined ? new Set() : index.equal(key);
    }
    case 'substrings': {
      const index = indexes.get(attributeKey(filter.attribute));
      if (!index?.supportsPrefix || filter.initial === undefined) return undefined;
      return index.prefix(foldPiece(filter.initial));
    }
    case 'and': {
      let best: ReadonlySet<string> | undefined;
      for (const f of filter.filters) {
        const c = candidates(f, indexes);
        if (c && (!best || c.size < best.size)) best = c;
        if (best?.size === 0) break;
      }
      return best;
    }
    case 'or': {
      const union = new Set<string>();
      for (const f of filter.filters) {
        const c = candidates(f, indexes);
        if (!c) return undefined;
        for (const k of c) union.add(k);
      }
      return union;
    }
    default:
      return undefined;
  }
}
