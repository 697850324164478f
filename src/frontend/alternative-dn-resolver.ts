import { searchContext, type Directory, type OperationContext } from '../core/directory.js';
import { Dn } from '../core/dn.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { RequestDn } from '../protocol/decoder.js';

/**
 * The DN of the entry a request names. An alternative form (`<SID=…>`, `<GUID=…>`) is looked up
 * by an equality filter on its bytes below every naming context, through the same directory the
 * operation then uses: every forest is asked (an upstream OpenLDAP forest does not know the
 * syntax, but matches the bytes), and the client finds only an entry its access rules let it
 * read. No such entry is noSuchObject, as in Active Directory.
 */
export async function resolveRequestDn(dn: RequestDn, directory: Directory, ctx: OperationContext): Promise<Dn> {
  if (dn instanceof Dn) return dn;
  const found: Dn[] = [];
  // The lookup's own trailer: a partial answer or a reference says nothing about the DN it resolves.
  const lookup = searchContext(ctx);
  for (const base of directory.namingContexts()) {
    const filter = { type: 'equality', attribute: dn.attribute, value: dn.value } as const;
    // A lookup of at most two entries (a second one is enough to know the name is ambiguous), which the sync guard leaves alone.
    const request = { base, scope: 'sub', filter, attributes: ['1.1'], typesOnly: false, sizeLimit: 2, timeLimit: 0 } as const;
    for await (const entry of directory.search(request, lookup)) {
      found.push(entry.dn);
      if (found.length > 1) break;
    }
    if (found.length > 1) break;
  }
  if (found.length === 0) throw new LdapError(ResultCode.noSuchObject, `no object has the ${dn.attribute} of "${dn.text}"`);
  // SIDs and GUIDs are unique in a forest; the same one in two forests (copied data) names neither.
  if (found.length > 1) {
    throw new LdapError(ResultCode.unwillingToPerform, `"${dn.text}" names more than one object: "${found[0].text}" and "${found[1].text}"`);
  }
  return found[0];
}
