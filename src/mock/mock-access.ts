import type { AccessRuleConfig } from '../config/auth-schema.js';
import { stripOptions } from '../core/matching.js';
import { attributeKey, attributeTypes, isCredentialAttribute } from '../core/schema.js';
import { StoredEntry } from '../backends/memory/stored-entry.js';
import type { MockForestData } from './mock-sources.js';

/**
 * The mock's access rules, as the directories it stands in for have them by default: the
 * administrator reads and writes everything; password attributes are read by nobody else (slapd's
 * images and Active Directory hide them); any bound user reads and writes the rest; anonymous
 * clients see only the root DSE and the schema, or, with `anonymousRead`, read everything but
 * the password attributes, as many OpenLDAP-based test images allow.
 */
export function mockAccess(adminDn: string, passwordAttributes: readonly string[], anonymousRead: boolean): AccessRuleConfig[] {
  const everything = { dn: '' as const, scope: 'subtree' as const };
  return [
    { who: adminDn, what: everything, allow: 'write' },
    { who: '*', what: { ...everything, attributes: [...passwordAttributes] }, allow: 'none' },
    { who: 'authenticated', what: everything, allow: 'write' },
    ...(anonymousRead ? [{ who: 'anonymous' as const, what: everything, allow: 'read' as const }] : []),
  ];
}

/**
 * The credential attribute types: the schema's (userPassword, unicodePwd, ntPwdHistory, …) and the
 * data's that are credentials by `isCredentialAttribute` (sambaNTPassword, …). Access rules name
 * types, so the data's own are found at load.
 */
export function passwordAttributes(data: Iterable<MockForestData>): string[] {
  // By type: the data's `2.5.4.35` is the schema's userPassword, one rule name.
  const names = new Map<string, string>();
  const consider = (name: string) => {
    const key = attributeKey(name);
    if (isCredentialAttribute(name) && !names.has(key)) names.set(key, stripOptions(name));
  };
  for (const t of attributeTypes) consider(t.name);
  // Stored entries of one shape share one array of names: each is considered once.
  const seen = new Set<readonly string[]>();
  for (const forest of data) {
    for (const { entry } of forest.records) {
      if (!(entry instanceof StoredEntry)) for (const a of entry.attributes()) consider(a.name);
      else if (!seen.has(entry.attributeNames)) {
        seen.add(entry.attributeNames);
        for (const name of entry.attributeNames) consider(name);
      }
    }
  }
  return [...names.values()];
}
