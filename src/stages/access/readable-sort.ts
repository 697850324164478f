import type { SearchRequest } from '../../core/directory.js';
import type { Entry } from '../../core/entry.js';
import { attributeKey } from '../../core/schema.js';
import { allows, SUBORDINATE_ATTRIBUTES, type AccessView, type EntryAccess } from './access-policy.js';

/**
 * A sorted search as the access stage passes it down: where rules limit attributes, the router
 * may take a sort key only from values this identity may read, so the order of the entries it
 * gets back says nothing about a value stripped from them (RFC 2891 sortResult 50 otherwise).
 * Views without attribute limits show every attribute of a visible entry, so they need no check,
 * but for what a forest computes from an entry's children (SUBORDINATE_ATTRIBUTES): withheld where
 * a child is hidden, so no key either. Entries the identity may not see at all never reach the
 * sort (SearchRequest.sees).
 */
export function readableSort(request: SearchRequest, view: AccessView): SearchRequest {
  if (!request.sort) return request;
  const countsChildren = request.sort.keys.some((k) => SUBORDINATE_ATTRIBUTES.has(attributeKey(k.attribute)));
  if (!view.attributeLimited && !countsChildren) return request;
  // The rules covering an entry are found once for all its sort keys.
  let last: Entry | undefined;
  let access: EntryAccess | undefined;
  const mayRead = (entry: Entry, attribute: string): boolean => {
    if (entry !== last) {
      last = entry;
      access = view.covering(entry.dn);
    }
    if (view.attributeLimited && !allows(access!.attribute(attribute), 'read')) return false;
    return !SUBORDINATE_ATTRIBUTES.has(attributeKey(attribute)) || view.showsChildren(entry.dn);
  };
  return { ...request, sort: { ...request.sort, mayRead } };
}
