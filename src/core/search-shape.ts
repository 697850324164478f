import type { SearchRequest } from './directory.js';
import { filterToKeyString } from './filter-text.js';
import { attributeKey, descriptionKey } from './schema.js';

/**
 * The fields of a search request that decide which entries and attributes come back (base, scope,
 * filter, attribute list, typesOnly, sort keys) as one text: equal texts, equal results. The order
 * of requested attributes does not change a result, so they are compared as a set; attributes are
 * named by type (`2.5.4.3` and `cn` ask for the same), the base by its canonical DN key.
 */
export function searchShape(request: SearchRequest): string {
  const sort = request.sort?.keys.map((k) => `${attributeKey(k.attribute)}:${k.orderingRule ?? ''}:${k.reverse}`).join(',') ?? '';
  return [
    request.base.key,
    request.scope,
    filterToKeyString(request.filter),
    request.attributes
      .map(descriptionKey)
      .sort()
      .join(','),
    request.typesOnly,
    sort,
  ].join('\0');
}
