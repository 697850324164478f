import { parseSchema, type AttributeTypeDescription, type ObjectClassDescription } from './schema-description.js';
import { core } from './schemas/core.js';
import { cosine } from './schemas/cosine.js';
import { inetOrgPerson } from './schemas/inetorgperson.js';
import { nis } from './schemas/nis.js';
import { ppolicy } from './schemas/ppolicy.js';

/**
 * What Canopy knows of attribute types and object classes: how values of an attribute are
 * matched and carried (binary attributes stay bytes), which are operational, and the
 * definitions published in the subschema entry. Two sources, in this order:
 *
 * - the AD table below: the X.500/RFC 4519 attributes plus the Microsoft ones sync clients read,
 *   with Microsoft's OIDs, and the flags only Canopy knows (credentials, SIDs);
 * - the standard schemas built in as data (core/schemas/*.ts: core, cosine, inetOrgPerson, NIS,
 *   ppolicy): every type the AD table does not define by OID or by name, with matching, syntax
 *   and flags read from its own definition. The AD table wins where both define a type, so its
 *   types match as they always did (cosine's `info` is AD's `info` here, with AD's OID).
 */
export type SyntaxKind = 'string' | 'integer' | 'binary' | 'dn' | 'boolean' | 'time' | 'oid';

export interface AttributeTypeDef {
  readonly name: string;
  readonly oid: string;
  readonly syntax: SyntaxKind;
  readonly singleValue?: boolean;
  /** Operational attributes are returned only when asked for by name or with `+`. */
  readonly operational?: boolean;
  /** Maintained by the server (timestamps, entryDN): clients may not modify them. */
  readonly noUserModification?: boolean;
  /** Text values compared exactly (octet-string matching), e.g. passwords. */
  readonly exact?: boolean;
  /** Holds a secret (a password, its hash or history, a key): never logged or exported. */
  readonly credential?: boolean;
  /** Values are SIDs: an assertion may give one in string form (`S-1-5-21-…`), as AD accepts. */
  readonly sid?: boolean;
  /** Computed by Canopy from these types' values: whoever may not read them may not read it either. */
  readonly derivedFrom?: readonly string[];
  /** An assertion on it tests attributes the forest chooses (AD's anr: its ANR set), not values of its own. */
  readonly testsAnyAttribute?: boolean;
  readonly aliases?: readonly string[];
  /** The standard's own description, published as it is (types from the built-in schemas). */
  readonly definition?: AttributeTypeDescription;
}

export interface ObjectClassDef {
  readonly name: string;
  readonly oid: string;
  readonly sup?: string;
  readonly kind: 'structural' | 'auxiliary' | 'abstract';
  readonly must: readonly string[];
  readonly may: readonly string[];
  /** The standard's own description (classes from the built-in schemas); `may` may add to it. */
  readonly definition?: ObjectClassDescription;
}

const MS = '1.2.840.113556';
/** Private arc for attributes whose Microsoft OID collides with OpenLDAP's core schema. */
const PRIVATE = '1.3.6.1.4.1.99999.1';
/** Private arc for attributes Canopy itself computes. */
const CANOPY = '1.3.6.1.4.1.99999.2';

const s = (name: string, oid: string, extra: Partial<AttributeTypeDef> = {}): AttributeTypeDef => ({
  name,
  oid,
  syntax: 'string',
  ...extra,
});

const AD_TYPES: readonly AttributeTypeDef[] = [
  s('objectClass', '2.5.4.0', { syntax: 'oid' }),
  s('cn', '2.5.4.3', { aliases: ['commonName'] }),
  s('sn', '2.5.4.4', { aliases: ['surname'] }),
  s('givenName', '2.5.4.42', { aliases: ['gn'] }),
  s('initials', '2.5.4.43'),
  s('middleName', `${PRIVATE}.1`, { singleValue: true }),
  s('displayName', '2.16.840.1.113730.3.1.241', { singleValue: true }),
  s('description', '2.5.4.13'),
  s('name', '2.5.4.41'),
  s('mail', '0.9.2342.19200300.100.1.3', { aliases: ['rfc822Mailbox'] }),
  s('uid', '0.9.2342.19200300.100.1.1', { aliases: ['userid'] }),
  s('telephoneNumber', '2.5.4.20'),
  s('mobile', '0.9.2342.19200300.100.1.41', { aliases: ['mobileTelephoneNumber'] }),
  s('pager', '0.9.2342.19200300.100.1.42', { aliases: ['pagerTelephoneNumber'] }),
  s('homePhone', '0.9.2342.19200300.100.1.20', { aliases: ['homeTelephoneNumber'] }),
  s('ipPhone', `${MS}.1.4.721`),
  s('title', '2.5.4.12'),
  s('department', `${MS}.1.2.141`, { singleValue: true }),
  s('company', `${MS}.1.2.146`, { singleValue: true }),
  s('l', '2.5.4.7', { aliases: ['localityName'] }),
  s('st', '2.5.4.8', { aliases: ['stateOrProvinceName'] }),
  s('street', '2.5.4.9', { aliases: ['streetAddress'] }),
  s('postalCode', '2.5.4.17'),
  s('c', '2.5.4.6', { aliases: ['countryName'], singleValue: true }),
  s('co', '0.9.2342.19200300.100.1.43', { aliases: ['friendlyCountryName'] }),
  s('o', '2.5.4.10', { aliases: ['organizationName'] }),
  s('ou', '2.5.4.11', { aliases: ['organizationalUnitName'] }),
  s('dc', '0.9.2342.19200300.100.1.25', { aliases: ['domainComponent'], singleValue: true }),
  s('info', `${MS}.1.2.81`, { singleValue: true }),
  s('employeeNumber', '2.16.840.1.113730.3.1.3', { singleValue: true }),
  s('employeeID', `${MS}.1.4.35`, { singleValue: true }),
  s('sAMAccountName', `${MS}.1.4.221`, { singleValue: true }),
  // AD's ambiguous name resolution: (anr=x) tests every attribute of the forest's ANR set.
  s('aNR', `${MS}.1.4.1208`, { testsAnyAttribute: true }),
  s('userPrincipalName', `${MS}.1.4.656`, { singleValue: true }),
  s('msRTCSIP-PrimaryUserAddress', `${PRIVATE}.2`, { singleValue: true }),
  s('proxyAddresses', `${MS}.1.2.210`),
  s('userPassword', '2.5.4.35', { exact: true, credential: true }),

  s('member', '2.5.4.31', { syntax: 'dn' }),
  s('memberOf', `${MS}.1.2.102`, { syntax: 'dn' }),
  s('manager', '0.9.2342.19200300.100.1.10', { syntax: 'dn', singleValue: true }),
  s('directReports', `${MS}.1.2.436`, { syntax: 'dn' }),
  s('owner', '2.5.4.32', { syntax: 'dn' }),
  s('seeAlso', '2.5.4.34', { syntax: 'dn' }),
  s('secretary', '0.9.2342.19200300.100.1.21', { syntax: 'dn' }),
  s('managedBy', `${MS}.1.4.653`, { syntax: 'dn', singleValue: true }),
  s('distinguishedName', '2.5.4.49', { syntax: 'dn', singleValue: true }),
  s('objectCategory', `${MS}.1.4.782`, { syntax: 'dn', singleValue: true }),

  s('objectGUID', `${MS}.1.4.2`, { syntax: 'binary', singleValue: true }),
  s('objectSid', `${MS}.1.4.146`, { syntax: 'binary', singleValue: true, sid: true }),
  s('jpegPhoto', '0.9.2342.19200300.100.1.60', { syntax: 'binary' }),
  s('thumbnailPhoto', '2.16.840.1.113730.3.1.35', { syntax: 'binary', singleValue: true }),
  s('userCertificate', '2.5.4.36', { syntax: 'binary' }),
  s('unicodePwd', `${MS}.1.4.90`, { syntax: 'binary', singleValue: true, credential: true }),

  s('userAccountControl', `${MS}.1.4.8`, { syntax: 'integer', singleValue: true }),
  s('groupType', `${MS}.1.4.750`, { syntax: 'integer', singleValue: true }),
  s('sAMAccountType', `${MS}.1.4.302`, { syntax: 'integer', singleValue: true }),
  s('primaryGroupID', `${MS}.1.4.98`, { syntax: 'integer', singleValue: true }),
  s('uSNChanged', `${MS}.1.2.120`, { syntax: 'integer', singleValue: true }),
  s('uSNCreated', `${MS}.1.2.19`, { syntax: 'integer', singleValue: true }),
  s('pwdLastSet', `${MS}.1.4.96`, { syntax: 'integer', singleValue: true }),
  s('accountExpires', `${MS}.1.4.159`, { syntax: 'integer', singleValue: true }),
  s('lastLogonTimestamp', `${MS}.1.4.1696`, { syntax: 'integer', singleValue: true }),
  // Account lockout and password age: the domain's settings and the users' state (the mock's AD profile keeps them).
  s('lockoutThreshold', `${MS}.1.4.73`, { syntax: 'integer', singleValue: true }),
  s('lockoutDuration', `${MS}.1.4.60`, { syntax: 'integer', singleValue: true }),
  s('lockOutObservationWindow', `${MS}.1.4.61`, { syntax: 'integer', singleValue: true }),
  s('maxPwdAge', `${MS}.1.4.74`, { syntax: 'integer', singleValue: true }),
  s('lockoutTime', `${MS}.1.4.662`, { syntax: 'integer', singleValue: true }),
  s('badPwdCount', `${MS}.1.4.12`, { syntax: 'integer', singleValue: true }),
  s('badPasswordTime', `${MS}.1.4.49`, { syntax: 'integer', singleValue: true }),
  // Constructed by AD when asked for by name: never stored, never written.
  s('msDS-User-Account-Control-Computed', `${MS}.1.4.1460`, { syntax: 'integer', singleValue: true, operational: true, noUserModification: true }),
  s('msDS-UserAccountDisabled', `${MS}.1.4.1853`, { syntax: 'boolean', singleValue: true, derivedFrom: ['userAccountControl'] }),
  s('whenCreated', `${MS}.1.2.2`, { syntax: 'time', singleValue: true }),
  s('whenChanged', `${MS}.1.2.3`, { syntax: 'time', singleValue: true }),

  s('createTimestamp', '2.5.18.1', { syntax: 'time', singleValue: true, operational: true, noUserModification: true }),
  s('modifyTimestamp', '2.5.18.2', { syntax: 'time', singleValue: true, operational: true, noUserModification: true }),
  s('subschemaSubentry', '2.5.18.10', { syntax: 'dn', singleValue: true, operational: true, noUserModification: true }),
  s('hasSubordinates', '2.5.18.9', { syntax: 'boolean', singleValue: true, operational: true, noUserModification: true }),
  // Counts of an entry's children (389 DS / OpenDJ, and AD): the access stage withholds them where a child is hidden.
  s('numSubordinates', '1.3.6.1.4.1.453.16.2.103', { syntax: 'integer', singleValue: true, operational: true, noUserModification: true }),
  s('msDS-Approx-Immed-Subordinates', `${MS}.1.4.1669`, { syntax: 'integer', singleValue: true, operational: true, noUserModification: true }),
  s('entryDN', '1.3.6.1.1.20', { syntax: 'dn', singleValue: true, operational: true, noUserModification: true }),
  // Canopy's own: the forest an entry of the virtual tree comes from (private arc).
  s('canopyForest', `${CANOPY}.1`, { singleValue: true, operational: true, noUserModification: true }),

  // Credentials besides userPassword and unicodePwd: password hashes and histories, LAPS and
  // BitLocker secrets, private keys. Listed so that every name and OID of them resolves to them.
  ...credentials([
    ['dBCSPwd', `${MS}.1.4.55`],
    ['ntPwdHistory', `${MS}.1.4.94`],
    ['lmPwdHistory', `${MS}.1.4.160`],
    ['supplementalCredentials', `${MS}.1.4.125`],
    ['msDS-KeyCredentialLink', `${MS}.1.4.2328`],
    ['msDS-ManagedPassword', `${MS}.1.4.2196`],
    ['msFVE-RecoveryPassword', `${MS}.1.4.1964`],
    ['unixUserPassword', `${MS}.1.4.1910`],
    ['currentValue', `${MS}.1.4.27`],
    ['priorValue', `${MS}.1.4.100`],
    ['trustAuthIncoming', `${MS}.1.4.129`],
    ['trustAuthOutgoing', `${MS}.1.4.135`],
    ['msLAPS-Password', `${MS}.1.6.44.1.2`, 'string'],
    ['msLAPS-EncryptedPassword', `${MS}.1.6.44.1.3`],
    ['msLAPS-EncryptedPasswordHistory', `${MS}.1.6.44.1.4`],
    ['msLAPS-EncryptedDSRMPassword', `${MS}.1.6.44.1.5`],
    ['msLAPS-EncryptedDSRMPasswordHistory', `${MS}.1.6.44.1.6`],
    ['userPKCS12', '2.16.840.1.113730.3.1.216'],
    ['krbPrincipalKey', '2.16.840.1.113719.1.301.4.39.1'],
    ['sambaNTPassword', '1.3.6.1.4.1.7165.2.1.25', 'string'],
    ['sambaLMPassword', '1.3.6.1.4.1.7165.2.1.24', 'string'],
    ['pwdHistory', '1.3.6.1.4.1.42.2.27.8.1.20'],
  ]),
];

function credentials(list: readonly (readonly [string, string, SyntaxKind?])[]): AttributeTypeDef[] {
  return list.map(([name, oid, syntax = 'binary']) => s(name, oid, { syntax, credential: true }));
}

/**
 * Credential types whose OID Canopy does not know (legacy LAPS's is generated per schema
 * extension): resolved by name only; their OIDs are unknown OIDs, which a forest that hides
 * anything hides and logs redact (see `isCredentialAttribute`).
 */
const CREDENTIAL_NAMES = ['ms-Mcs-AdmPwd'];

const oc = (
  name: string,
  oid: string,
  kind: ObjectClassDef['kind'],
  sup: string | undefined,
  must: readonly string[],
  may: readonly string[],
): ObjectClassDef => ({ name, oid, kind, ...(sup ? { sup } : {}), must, may });

const PERSON_MAY = ['sn', 'telephoneNumber', 'userPassword', 'seeAlso', 'description'];
const ORG_PERSON_MAY = [
  'givenName', 'initials', 'middleName', 'displayName', 'title', 'department', 'company', 'manager',
  'directReports', 'secretary', 'mail', 'mobile', 'pager', 'homePhone', 'ipPhone', 'l', 'st', 'street',
  'postalCode', 'c', 'co', 'o', 'ou', 'employeeNumber', 'employeeID', 'thumbnailPhoto', 'info',
];
const USER_MAY = [
  'sAMAccountName', 'userPrincipalName', 'userAccountControl', 'objectGUID', 'objectSid',
  'memberOf', 'primaryGroupID', 'sAMAccountType', 'pwdLastSet', 'accountExpires',
  'lastLogonTimestamp', 'unicodePwd', 'proxyAddresses', 'msRTCSIP-PrimaryUserAddress',
  'msDS-UserAccountDisabled', 'userCertificate', 'uid', 'jpegPhoto', 'lockoutTime', 'badPwdCount',
  'badPasswordTime', 'msDS-User-Account-Control-Computed',
];
/** Attributes every AD object may carry (AD puts them on `top`). */
const TOP_MAY = [
  'cn', 'name', 'description', 'distinguishedName', 'objectCategory', 'objectGUID', 'whenCreated',
  'whenChanged', 'uSNCreated', 'uSNChanged', 'memberOf', 'managedBy', 'info', 'proxyAddresses',
];

const AD_CLASSES: readonly ObjectClassDef[] = [
  oc('top', '2.5.6.0', 'abstract', undefined, ['objectClass'], TOP_MAY),
  oc('person', '2.5.6.6', 'structural', 'top', ['cn'], PERSON_MAY),
  oc('organizationalPerson', '2.5.6.7', 'structural', 'person', [], ORG_PERSON_MAY),
  oc('user', `${MS}.1.5.9`, 'structural', 'organizationalPerson', [], USER_MAY),
  oc('inetOrgPerson', '2.16.840.1.113730.3.2.2', 'structural', 'user', [], ['uid', 'jpegPhoto', 'userCertificate']),
  oc('computer', `${MS}.1.3.30`, 'structural', 'user', [], []),
  oc('group', `${MS}.1.5.8`, 'structural', 'top', [], ['groupType', 'member', 'sAMAccountName', 'sAMAccountType', 'objectSid', 'mail', 'owner']),
  oc('groupOfNames', '2.5.6.9', 'structural', 'top', ['cn'], ['member', 'owner', 'seeAlso', 'o', 'ou']),
  oc('organizationalUnit', '2.5.6.5', 'structural', 'top', ['ou'], ['l', 'st', 'street', 'postalCode', 'seeAlso']),
  oc('organization', '2.5.6.4', 'structural', 'top', ['o'], ['l', 'st', 'street', 'postalCode', 'seeAlso']),
  oc('container', `${MS}.1.3.23`, 'structural', 'top', ['cn'], []),
  oc('domain', '0.9.2342.19200300.100.4.13', 'structural', 'top', ['dc'], ['o', 'l', 'st', 'street', 'seeAlso']),
  oc('domainDNS', `${MS}.1.5.67`, 'structural', 'domain', [], ['objectSid', 'lockoutThreshold', 'lockoutDuration', 'lockOutObservationWindow', 'maxPwdAge']),
  oc('dcObject', '1.3.6.1.4.1.1466.344', 'auxiliary', 'top', ['dc'], []),
  oc('extensibleObject', '1.3.6.1.4.1.1466.101.120.111', 'auxiliary', 'top', [], []),
  oc('subschema', '2.5.20.1', 'auxiliary', 'top', [], []),
];

/*
 * The attribute-type registry. RFC 4512 §2.5: an attribute description is the type's OID or any
 * of its names, in any case, followed by options (`;binary`, `;range=0-1499`, `;lang-de`) that do
 * not change which type is meant. Every decision on an attribute (hiding, mapping, access rules,
 * filters, compare, writes, sorting, caching, redaction, export) compares type keys, never
 * spellings: `userPassword`, `USERPASSWORD;binary`, `2.5.4.35` and `OID.2.5.4.35` have one key.
 */

/** A descriptor (RFC 4512 `descr`): a name, as opposed to a numeric OID or anything malformed. */
const DESCR = /^[a-z][a-z0-9-]*$/;
/** RFC 4512 `numericoid`, optionally with the `OID.` prefix of RFC 1779 DNs. */
const NUMERIC_OID = /^(?:oid\.)?((?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))+)$/;

/** Keys by spelling: callers resolve once per request, and a spelling is worked out once. */
const keys = new Map<string, string>();
const MAX_KEYS = 4096;

/**
 * The key of an attribute description's type: a known type's table name in lower case whatever
 * names it; an unknown name in lower case; an unknown OID (or anything else) lower-cased as given.
 * Options are not part of it.
 */
export function attributeKey(description: string): string {
  let key = keys.get(description);
  if (key === undefined) {
    const semicolon = description.indexOf(';');
    const bare = (semicolon < 0 ? description : description.slice(0, semicolon)).trim().toLowerCase();
    const oid = NUMERIC_OID.exec(bare);
    key = byName.get(oid ? oid[1] : bare)?.name.toLowerCase() ?? (oid ? oid[1] : bare);
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(description, key);
  }
  return key;
}

/**
 * How well Canopy knows a type key: `known` (in the table), `name` (an unknown name: not an alias
 * of a known type, since the table lists their aliases), `unresolved` (an unknown OID, or text
 * that is no attribute description: it may name any type, a hidden one included).
 */
export function keyKind(key: string): 'known' | 'name' | 'unresolved' {
  if (byName.has(key)) return 'known';
  return DESCR.test(key) ? 'name' : 'unresolved';
}

/**
 * The key of an attribute description with its options: an entry holds `member;range=0-1499`
 * apart from `member`, but `commonName` and `2.5.4.3` in the same place as `cn`.
 */
export function descriptionKey(description: string): string {
  const semicolon = description.indexOf(';');
  const type = attributeKey(description);
  return semicolon < 0 ? type : type + description.slice(semicolon).toLowerCase();
}

/** An attribute type by any description of it: name, alias or OID, any case, options ignored. */
export function attributeType(description: string): AttributeTypeDef | undefined {
  return byName.get(attributeKey(description));
}

/** An object class by name or OID (case-insensitive). */
export function objectClass(nameOrOid: string): ObjectClassDef | undefined {
  return classByName.get(nameOrOid.toLowerCase());
}

const BINARY_OPTION = /;binary(?=;|$)/i;

/** Whether a description carries the `;binary` option (RFC 4522: its values travel as bytes). */
export function hasBinaryOption(description: string): boolean {
  return BINARY_OPTION.test(description);
}

/** The syntax an attribute's values have; unknown attributes are strings, `x;binary` is binary. */
export function syntaxOf(description: string): SyntaxKind {
  if (hasBinaryOption(description)) return 'binary';
  return attributeType(description)?.syntax ?? 'string';
}

export function isOperational(description: string): boolean {
  return attributeType(description)?.operational === true;
}

const SYNTAX = '1.3.6.1.4.1.1466.115.121.1';
/** Syntaxes whose values are bytes, not text: audio, binary, certificates, fax, JPEG, octet string, algorithms, PKCS#8. */
const BINARY_SYNTAXES = new Set([...[4, 5, 8, 9, 10, 23, 28, 40, 49].map((n) => `${SYNTAX}.${n}`), '1.2.840.113549.1.8.1.1']);
const SYNTAX_KINDS = new Map<string, SyntaxKind>([
  [`${SYNTAX}.27`, 'integer'],
  [`${SYNTAX}.12`, 'dn'],
  [`${SYNTAX}.7`, 'boolean'],
  [`${SYNTAX}.24`, 'time'],
  [`${SYNTAX}.38`, 'oid'],
]);
/** Equality rules that keep case: such text values are compared exactly. */
const EXACT_RULES = new Set(['caseexactmatch', 'caseexactia5match', 'octetstringmatch']);

const STANDARDS = [core, cosine, inetOrgPerson, nis, ppolicy].map(parseSchema);

/** Every attribute type Canopy knows: the AD table's, then the standards' it does not define. */
export const attributeTypes: readonly AttributeTypeDef[] = [
  ...AD_TYPES,
  ...standardTypes(AD_TYPES, STANDARDS.flatMap((s) => s.attributeTypes)),
];

const byName = new Map<string, AttributeTypeDef>();
for (const t of attributeTypes) {
  byName.set(t.name.toLowerCase(), t);
  byName.set(t.oid, t);
  for (const a of t.aliases ?? []) byName.set(a.toLowerCase(), t);
}

/**
 * What reading each type's values reveals besides its own (type key → keys): the types Canopy
 * computes it from (`derivedFrom`: msDS-UserAccountDisabled shows a bit of userAccountControl).
 */
const revealed = new Map<string, readonly string[]>();
for (const t of attributeTypes) if (t.derivedFrom) revealed.set(t.name.toLowerCase(), t.derivedFrom.map(attributeKey));

/**
 * What an assertion on each type tests besides its own values (type key → keys): its subtypes
 * (RFC 4512 §2.5.1: slapd matches `(name=x)` against cn, sn, title…, and `(distinguishedName=x)`
 * against member, owner…), at any depth, and what its values reveal.
 */
const tested = new Map<string, readonly string[]>();
{
  const subtypes = new Map<string, Set<string>>();
  for (const d of STANDARDS.flatMap((s) => s.attributeTypes)) {
    if (!d.sup) continue;
    const sup = attributeKey(d.sup);
    const sub = attributeKey(d.oid);
    if (sup !== sub) (subtypes.get(sup) ?? subtypes.set(sup, new Set()).get(sup)!).add(sub);
  }
  const below = (key: string, into: Set<string>): Set<string> => {
    for (const sub of subtypes.get(key) ?? []) if (!into.has(sub)) below(sub, into.add(sub));
    return into;
  };
  for (const key of new Set([...subtypes.keys(), ...revealed.keys()])) {
    const keys = new Set<string>(revealed.get(key));
    for (const sub of below(key, new Set())) for (const k of [sub, ...(revealed.get(sub) ?? [])]) keys.add(k);
    keys.delete(key);
    if (keys.size > 0) tested.set(key, [...keys]);
  }
}

const NONE: readonly string[] = [];

/**
 * Whether an assertion on the type tests attributes the forest chooses rather than the type's own
 * values (`testsAnyAttribute`: AD's anr matches every attribute of the forest's ANR set), so it is
 * decided like an extensible match naming no attribute.
 */
export function testsAnyAttribute(key: string): boolean {
  return byName.get(key)?.testsAnyAttribute === true;
}

/** The type keys, besides `key`'s own, whose values reading `key` reveals (types it is computed from). */
export function revealedTypes(key: string): readonly string[] {
  return revealed.get(key) ?? NONE;
}

/**
 * The type keys, besides `key`'s own, an assertion (a filter, a compare) on `key` tests: its
 * subtypes and what its values reveal. Whoever may not search one of them may not assert on `key`.
 */
export function testedTypes(key: string): readonly string[] {
  return tested.get(key) ?? NONE;
}

/** Every object class Canopy knows: the AD table's (allowing what the standard's class of that name allows too), then the standards'. */
export const objectClasses: readonly ObjectClassDef[] = standardClasses(AD_CLASSES, STANDARDS.flatMap((s) => s.objectClasses));

const classByName = new Map<string, ObjectClassDef>();
for (const c of objectClasses) {
  classByName.set(c.name.toLowerCase(), c);
  classByName.set(c.oid, c);
}

/**
 * The standards' types the AD table does not define, by OID or by any name, with their
 * behaviour taken from their definition; syntax and equality come from the supertype when a
 * type has none of its own (`cn SUP name`).
 */
function standardTypes(table: readonly AttributeTypeDef[], descriptions: readonly AttributeTypeDescription[]): AttributeTypeDef[] {
  const taken = new Set(table.flatMap((t) => [t.oid, ...[t.name, ...(t.aliases ?? [])].map((n) => n.toLowerCase())]));
  const byKey = new Map(descriptions.flatMap((d) => [d.oid, ...d.names.map((n) => n.toLowerCase())].map((k) => [k, d] as const)));
  const inherited = (d: AttributeTypeDescription | undefined, field: 'syntax' | 'equality', depth = 0): string | undefined =>
    d === undefined || depth > 8 ? undefined : (d[field] ?? (d.sup ? inherited(byKey.get(d.sup.toLowerCase()), field, depth + 1) : undefined));
  return descriptions
    .filter((d) => ![d.oid, ...d.names.map((n) => n.toLowerCase())].some((k) => taken.has(k)))
    .map((d) => {
      const syntaxOid = inherited(d, 'syntax')?.replace(/\{\d+\}$/, '');
      const syntax: SyntaxKind = syntaxOid === undefined ? 'string' : BINARY_SYNTAXES.has(syntaxOid) ? 'binary' : (SYNTAX_KINDS.get(syntaxOid) ?? 'string');
      const equality = inherited(d, 'equality')?.toLowerCase();
      return {
        name: d.names[0] ?? d.oid,
        oid: d.oid,
        syntax,
        ...(syntax === 'string' && equality !== undefined && EXACT_RULES.has(equality) && { exact: true }),
        ...(d.singleValue && { singleValue: true }),
        ...(d.usage !== undefined && { operational: true }),
        ...(d.noUserModification && { noUserModification: true }),
        ...(d.names.length > 1 && { aliases: d.names.slice(1) }),
        definition: d,
      };
    });
}

/**
 * The AD table's classes, each allowing also what the standard class of the same OID or name
 * must or may hold (AD's `person` does not require `sn`; it still may hold everything RFC 4519's
 * may), then the standards' other classes.
 */
function standardClasses(table: readonly ObjectClassDef[], descriptions: readonly ObjectClassDescription[]): ObjectClassDef[] {
  const byKey = new Map(descriptions.flatMap((d) => [d.oid, ...d.names.map((n) => n.toLowerCase())].map((k) => [k, d] as const)));
  const taken = new Set<ObjectClassDescription>();
  const merged = table.map((c) => {
    const d = byKey.get(c.oid) ?? byKey.get(c.name.toLowerCase());
    if (!d) return c;
    taken.add(d);
    const allowed = new Set([...c.must, ...c.may].map(attributeKey));
    const extra = [...d.must, ...d.may].filter((n) => !allowed.has(attributeKey(n)) && allowed.add(attributeKey(n)));
    return extra.length > 0 ? { ...c, may: [...c.may, ...extra] } : c;
  });
  const own = descriptions
    .filter((d) => !taken.has(d))
    .map((d): ObjectClassDef => ({ name: d.names[0] ?? d.oid, oid: d.oid, kind: d.kind, ...(d.sup[0] && { sup: d.sup[0] }), must: d.must, may: d.may, definition: d }));
  return [...merged, ...own];
}

const credentialKeys = new Set([...attributeTypes.filter((t) => t.credential).map((t) => t.name), ...CREDENTIAL_NAMES].map(attributeKey));

/**
 * Whether values of an attribute are secrets, never logged nor exported: the credential types by
 * any of their names or OIDs, unknown names that say they hold a password, and unresolved
 * descriptions (an OID Canopy does not know may be a credential's).
 */
export function isCredentialAttribute(description: string): boolean {
  const key = attributeKey(description);
  if (credentialKeys.has(key)) return true;
  const kind = keyKind(key);
  return kind === 'unresolved' || (kind === 'name' && key.includes('password'));
}
