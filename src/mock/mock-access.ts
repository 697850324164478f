import type { AccessRuleConfig } from '../config/auth-schema.js';
import { stripOptions } from '../core/matching.js';
import { attributeTypes, isSecretAttribute } from '../core/schema.js';
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
 * The password attribute types: the schema's and the data's whose names say so (userPassword,
 * unicodePwd, sambaNTPassword, …). Access rules name types, so the data's own are found at load.
 * Found by `isSecretAttribute` until schema.ts has its list of credential attribute types (which
 * is to cover types whose names do not say password too, such as ntPwdHistory).
 */
export function passwordAttributes(data: Iterable<MockForestData>): string[] {
  const names = new Map<string, string>();
  const consider = (name: string) => {
    const bare = stripOptions(name);
    if (isSecretAttribute(bare) && !names.has(bare.toLowerCase())) names.set(bare.toLowerCase(), bare);
  };
  for (const t of attributeTypes) consider(t.name);
  for (const forest of data) for (const r of forest.records) for (const a of r.entry.attributes()) consider(a.name);
  consider('userPassword');
  return [...names.values()];
}
