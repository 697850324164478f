import { createHash } from 'node:crypto';
import { Dn } from '../core/dn.js';
import { Entry } from '../core/entry.js';
import {
  attributeKey,
  attributeType,
  attributeTypes,
  keyKind,
  objectClass,
  objectClasses,
  type AttributeTypeDef,
  type ObjectClassDef,
  type SyntaxKind,
} from '../core/schema.js';
import {
  descriptionsByKey,
  renderAttributeType,
  renderObjectClass,
  type AttributeTypeDescription,
  type ObjectClassDescription,
} from '../core/schema-description.js';
import type { SchemaUsage } from '../core/schema-usage.js';
import { ldapSyntaxes, matchingRules } from '../core/schemas/syntaxes.js';

export const SUBSCHEMA_DN = Dn.parse('cn=Subschema');

const DIRECTORY_STRING = '1.3.6.1.4.1.1466.115.121.1.15';

/** How the AD table's types are published, by the syntax Canopy matches them with. */
const SYNTAX: Record<SyntaxKind, { oid: string; equality: string; substr?: string }> = {
  string: { oid: DIRECTORY_STRING, equality: 'caseIgnoreMatch', substr: 'caseIgnoreSubstringsMatch' },
  integer: { oid: '1.3.6.1.4.1.1466.115.121.1.27', equality: 'integerMatch' },
  binary: { oid: '1.3.6.1.4.1.1466.115.121.1.40', equality: 'octetStringMatch' },
  dn: { oid: '1.3.6.1.4.1.1466.115.121.1.12', equality: 'distinguishedNameMatch' },
  boolean: { oid: '1.3.6.1.4.1.1466.115.121.1.7', equality: 'booleanMatch' },
  time: { oid: '1.3.6.1.4.1.1466.115.121.1.24', equality: 'generalizedTimeMatch' },
  oid: { oid: '1.3.6.1.4.1.1466.115.121.1.38', equality: 'objectIdentifierMatch' },
};

/**
 * Published whatever the data holds: the attributes of the server's own entries (root DSE,
 * subschema), those it maintains on entries, and the account state the mock directory keeps on
 * users, ppolicy's and AD's (a client reading the schema before a lockout may ask for them after).
 */
const SERVER_TYPES = [
  'objectClass', 'cn', 'createTimestamp', 'modifyTimestamp', 'subschemaSubentry', 'hasSubordinates', 'entryDN',
  'canopyForest', 'namingContexts', 'supportedLDAPVersion', 'supportedExtension', 'supportedControl',
  'supportedSASLMechanisms', 'vendorName', 'vendorVersion', 'attributeTypes', 'objectClasses', 'ldapSyntaxes',
  'matchingRules', 'pwdPolicySubentry', 'pwdChangedTime', 'pwdReset', 'pwdFailureTime', 'pwdAccountLockedTime',
  'pwdGraceUseTime', 'lockoutTime', 'badPwdCount', 'badPasswordTime', 'msDS-User-Account-Control-Computed',
];
const SERVER_CLASSES = ['top', 'subschema', 'extensibleObject'];

/**
 * OIDs for what the data uses and no built-in schema defines, under Canopy's private arc
 * (1.3.6.1.4.1.99999; `.1` and `.2` are core/schema.ts's): `.3.1.N` attribute types, `.3.2.N`
 * object classes, N from a digest of the name in lower case, so a name keeps its OID across
 * restarts and loads (clients cache schemas).
 */
const GENERATED = '1.3.6.1.4.1.99999.3';
const GENERATED_ORIGIN = 'Canopy: used by the data, in no built-in schema';

function generatedOid(arc: 1 | 2, name: string): string {
  return `${GENERATED}.${arc}.${createHash('sha256').update(name.toLowerCase()).digest().readUIntBE(0, 6)}`;
}

/** A type's RFC 4512 description: a standard's own, or the AD table's as Canopy matches it. */
function describeAttributeType(t: AttributeTypeDef): AttributeTypeDescription {
  if (t.definition) return t.definition;
  const s = SYNTAX[t.syntax];
  const exact = t.exact && t.syntax === 'string';
  return {
    oid: t.oid,
    names: [t.name, ...(t.aliases ?? [])],
    equality: exact ? 'caseExactMatch' : s.equality,
    ...(exact ? { substr: 'caseExactSubstringsMatch' } : s.substr && { substr: s.substr }),
    syntax: s.oid,
    ...(t.singleValue && { singleValue: true }),
    ...(t.noUserModification && { noUserModification: true }),
    ...(t.operational && { usage: 'directoryOperation' as const }),
  };
}

function describeObjectClass(c: ObjectClassDef): ObjectClassDescription {
  if (c.definition) return { ...c.definition, may: c.may };
  return { oid: c.oid, names: [c.name], sup: c.sup ? [c.sup] : [], kind: c.kind, must: c.must, may: c.may };
}

/** RFC 4512 §4.1.2 AttributeTypeDescription. */
export function attributeTypeDescription(t: AttributeTypeDef): string {
  return renderAttributeType(describeAttributeType(t));
}

/** RFC 4512 §4.1.1 ObjectClassDescription. */
export function objectClassDescription(c: ObjectClassDef): string {
  return renderObjectClass(describeObjectClass(c));
}

/** A type the data uses that no schema defines: text, matched as Canopy matches unknown types (case-ignore). */
function textType(name: string): AttributeTypeDescription {
  return {
    oid: generatedOid(1, name),
    names: [name],
    equality: 'caseIgnoreMatch',
    substr: 'caseIgnoreSubstringsMatch',
    syntax: DIRECTORY_STRING,
    origin: GENERATED_ORIGIN,
  };
}

function unknownClass(name: string): ObjectClassDescription {
  return { oid: generatedOid(2, name), names: [name], sup: ['top'], kind: 'auxiliary', must: [], may: [], origin: GENERATED_ORIGIN };
}

const DESCR = /^[a-zA-Z][a-zA-Z0-9-]*$/;

/**
 * What a subschema publishes for data using `usages`: the server's own types and classes, the
 * classes and types in use, and what those need (superclasses, the types classes must or may
 * hold, supertypes), all in the built-in order; unknown ones after. Without `usages`, everything
 * built in. Unknown types or classes spelled as OIDs are left out: they have no name to publish.
 */
function selectDescriptions(usages: readonly SchemaUsage[] | undefined): {
  attributeTypes: AttributeTypeDescription[];
  objectClasses: ObjectClassDescription[];
} {
  if (!usages) return { attributeTypes: attributeTypes.map(describeAttributeType), objectClasses: objectClasses.map(describeObjectClass) };
  const types = new Set<AttributeTypeDef>();
  const classes = new Set<ObjectClassDef>();
  const textTypes = new Map<string, string>();
  const otherClasses = new Map<string, string>();

  const addType = (name: string): void => {
    const t = attributeType(name);
    if (!t) {
      const key = attributeKey(name);
      if (keyKind(key) === 'name' && !textTypes.has(key)) textTypes.set(key, name);
      return;
    }
    if (types.has(t)) return;
    types.add(t);
    if (t.definition?.sup) addType(t.definition.sup);
  };
  const addClass = (name: string): void => {
    const c = objectClass(name);
    if (!c) {
      if (DESCR.test(name) && !otherClasses.has(name.toLowerCase())) otherClasses.set(name.toLowerCase(), name);
      return;
    }
    if (classes.has(c)) return;
    classes.add(c);
    for (const sup of c.definition?.sup ?? (c.sup ? [c.sup] : [])) addClass(sup);
    for (const n of [...c.must, ...c.may]) addType(n);
  };

  for (const c of SERVER_CLASSES) addClass(c);
  for (const t of SERVER_TYPES) addType(t);
  for (const usage of usages) {
    for (const c of usage.objectClasses()) addClass(c);
    for (const spelling of usage.attributeTypes().values()) addType(spelling);
  }
  const byName = (a: string, b: string) => a.localeCompare(b);
  return {
    attributeTypes: [
      ...attributeTypes.filter((t) => types.has(t)).map(describeAttributeType),
      ...[...textTypes.values()].sort(byName).map(textType),
    ],
    objectClasses: [
      ...objectClasses.filter((c) => classes.has(c)).map(describeObjectClass),
      ...[...otherClasses.values()].sort(byName).map(unknownClass),
    ],
  };
}

const SYNTAXES = descriptionsByKey(ldapSyntaxes);
const MATCHING_RULES = descriptionsByKey(matchingRules);

/** The syntaxes and matching rules the published types name, as descriptions. */
function referenced(types: readonly AttributeTypeDescription[]): { ldapSyntaxes: string[]; matchingRules: string[] } {
  const rules = new Set<string>();
  for (const t of types) {
    for (const rule of [t.equality, t.ordering, t.substr]) {
      const description = rule && MATCHING_RULES.get(rule.toLowerCase());
      if (description) rules.add(description);
    }
  }
  const syntaxOids = new Set(types.flatMap((t) => (t.syntax ? [t.syntax.replace(/\{\d+\}$/, '')] : [])));
  for (const rule of rules) {
    const syntax = / SYNTAX ([\d.]+)/.exec(rule)?.[1];
    if (syntax) syntaxOids.add(syntax);
  }
  const syntaxes = new Set([...syntaxOids].flatMap((oid) => SYNTAXES.get(oid) ?? []));
  return { ldapSyntaxes: [...syntaxes], matchingRules: [...rules] };
}

/**
 * The subschema subentry (RFC 4512 §4.2): without `usages`, every definition built in (`canopy
 * serve`, whose forests' schemas Canopy does not read); with them, what that data uses (the mock
 * directory).
 */
export function subschemaEntry(usages?: readonly SchemaUsage[]): Entry {
  const selected = selectDescriptions(usages);
  const { ldapSyntaxes: syntaxes, matchingRules: rules } = referenced(selected.attributeTypes);
  return new Entry(SUBSCHEMA_DN, [
    { name: 'objectClass', values: ['top', 'subschema'] },
    { name: 'cn', values: ['Subschema'] },
    { name: 'ldapSyntaxes', values: syntaxes },
    { name: 'matchingRules', values: rules },
    { name: 'attributeTypes', values: selected.attributeTypes.map(renderAttributeType) },
    { name: 'objectClasses', values: selected.objectClasses.map(renderObjectClass) },
  ]);
}

/**
 * The subschema entry for each read. Given the data's usage, it is worked out on the first read
 * and again only when the usage has grown since (usages only grow, so the sum of their versions
 * says whether anything changed): a client reading the schema at every connection costs a sum.
 */
export function subschemaSource(inUse?: () => readonly SchemaUsage[]): () => Entry {
  if (!inUse) {
    const entry = subschemaEntry();
    return () => entry;
  }
  let version = -1;
  let entry: Entry | undefined;
  return () => {
    const usages = inUse();
    const current = usages.reduce((n, u) => n + u.version, 0);
    if (entry === undefined || current !== version) {
      entry = subschemaEntry(usages);
      version = current;
    }
    return entry;
  };
}
