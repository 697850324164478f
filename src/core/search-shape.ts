import type { SearchRequest } from './directory.js';
import { filterToString } from './filter-text.js';

/**
 * The fields of a search request that decide which entries and attributes come back (base, scope,
 * filter, attribute list, typesOnly, sort keys) as one text: equal texts, equal results. The order
 * of requested attributes does not change a result, so they are compared as a set.
 */
export function searchShape(request: SearchRequest): string {
  const sort = request.sort?.keys.map((k) => `${k.attribute.toLowerCase()}:${k.orderingRule ?? ''}:${k.reverse}`).join(',') ?? '';
  return [
    request.base.key,
    request.scope,
    filterToString(request.filter),
    request.attributes
      .map((a) => a.toLowerCase())
      .sort()
      .join(','),
    request.typesOnly,
    sort,
  ].join('\0');
}
