import { Dn } from '../core/dn.js';
import { Entry } from '../core/entry.js';
import { attributeTypes, objectClasses, type AttributeTypeDef, type ObjectClassDef, type SyntaxKind } from '../core/schema.js';

export const SUBSCHEMA_DN = Dn.parse('cn=Subschema');

const SYNTAX: Record<SyntaxKind, { oid: string; equality: string; substr?: string }> = {
  string: { oid: '1.3.6.1.4.1.1466.115.121.1.15', equality: 'caseIgnoreMatch', substr: 'caseIgnoreSubstringsMatch' },
  integer: { oid: '1.3.6.1.4.1.1466.115.121.1.27', equality: 'integerMatch' },
  binary: { oid: '1.3.6.1.4.1.1466.115.121.1.40', equality: 'octetStringMatch' },
  dn: { oid: '1.3.6.1.4.1.1466.115.121.1.12', equality: 'distinguishedNameMatch' },
  boolean: { oid: '1.3.6.1.4.1.1466.115.121.1.7', equality: 'booleanMatch' },
  time: { oid: '1.3.6.1.4.1.1466.115.121.1.24', equality: 'generalizedTimeMatch' },
  oid: { oid: '1.3.6.1.4.1.1466.115.121.1.38', equality: 'objectIdentifierMatch' },
};

function names(list: readonly string[]): string {
  return list.length === 1 ? `'${list[0]}'` : `( ${list.map((n) => `'${n}'`).join(' ')} )`;
}

function oids(list: readonly string[]): string {
  return list.length === 1 ? list[0] : `( ${list.join(' $ ')} )`;
}

/** RFC 4512 §4.1.2 AttributeTypeDescription. */
export function attributeTypeDescription(t: AttributeTypeDef): string {
  const s = SYNTAX[t.syntax];
  const parts = [`( ${t.oid} NAME ${names([t.name, ...(t.aliases ?? [])])}`];
  if (t.exact && t.syntax === 'string') parts.push('EQUALITY caseExactMatch SUBSTR caseExactSubstringsMatch');
  else parts.push(`EQUALITY ${s.equality}${s.substr ? ` SUBSTR ${s.substr}` : ''}`);
  parts.push(`SYNTAX ${s.oid}`);
  if (t.singleValue) parts.push('SINGLE-VALUE');
  if (t.noUserModification) parts.push('NO-USER-MODIFICATION');
  if (t.operational) parts.push('USAGE directoryOperation');
  return `${parts.join(' ')} )`;
}

/** RFC 4512 §4.1.1 ObjectClassDescription. */
export function objectClassDescription(c: ObjectClassDef): string {
  const parts = [`( ${c.oid} NAME '${c.name}'`];
  if (c.sup) parts.push(`SUP ${c.sup}`);
  parts.push(c.kind.toUpperCase());
  if (c.must.length > 0) parts.push(`MUST ${oids(c.must)}`);
  if (c.may.length > 0) parts.push(`MAY ${oids(c.may)}`);
  return `${parts.join(' ')} )`;
}

/** The subschema subentry, rendered from core/schema.ts once at startup. */
export function subschemaEntry(): Entry {
  return new Entry(SUBSCHEMA_DN, [
    { name: 'objectClass', values: ['top', 'subschema'] },
    { name: 'cn', values: ['Subschema'] },
    { name: 'attributeTypes', values: attributeTypes.map(attributeTypeDescription) },
    { name: 'objectClasses', values: objectClasses.map(objectClassDescription) },
  ]);
}
