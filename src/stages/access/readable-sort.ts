import type { SearchRequest } from '../../core/directory.js';
import type { Entry } from '../../core/entry.js';
import { allows, type AccessView, type EntryAccess } from './access-policy.js';

/**
 * A sorted search as the access stage passes it down. The router drops entries this identity may
 * not see before it sorts (`sees`): they would be dropped above the sort anyway, and counted there
 * they could fill a sort limit (adminLimitExceeded, unsorted) and so tell that a hidden entry
 * matched. Where rules limit attributes, it takes a sort key only from values this identity may
 * read (`mayRead`), so the order of the entries it gets back says nothing about a value stripped
 * from them (RFC 2891 sortResult 50 otherwise); views without attribute limits show every
 * attribute of a visible entry, so they need no such check.
 */
export function readableSort(request: SearchRequest, view: AccessView): SearchRequest {
  if (!request.sort) return request;
  // The rules covering an entry are found once for all its checks.
  let last: Entry | undefined;
  let access: EntryAccess | undefined;
  const covering = (entry: Entry): EntryAccess => {
    if (entry !== last) {
      last = entry;
      access = view.covering(entry.dn);
    }
    return access!;
  };
  const sees = (entry: Entry): boolean => allows(covering(entry).entry, 'read');
  if (!view.attributeLimited) return { ...request, sort: { ...request.sort, sees } };
  const mayRead = (entry: Entry, attribute: string): boolean => allows(covering(entry).attribute(attribute), 'read');
  return { ...request, sort: { ...request.sort, sees, mayRead } };
}
