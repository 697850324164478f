import type { Modification, UserWriter } from '../../core/directory.js';
import { Dn, type Rdn } from '../../core/dn.js';
import { Entry, type AttributeValue } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { equalityKey, normalise, valueText, withoutBinaryOption } from '../../core/matching.js';
import { ResultCode } from '../../core/result-codes.js';
import { attributeKey, attributeType, hasBinaryOption, syntaxOf, type SyntaxKind } from '../../core/schema.js';
import type { StoredEntry } from './stored-entry.js';

/**
 * Pure entry transformations behind the memory directory's writes. Each takes a stored entry,
 * returns a new one (stored entries may be in flight to clients, so they are never changed) and
 * fails with the result code a real server gives.
 */

function hasValue(entry: Entry, name: string, value: AttributeValue): boolean {
  const values = entry.get(name)?.values;
  if (values === undefined) return false;
  // The same text (an RDN's value as its entry spells it, nearly always) matches without normalising either.
  if (typeof value === 'string' && values.includes(value)) return true;
  const want = normalise(name, value);
  return values.some((v) => normalise(name, v) === want);
}

const MS = '1.2.840.113556';

/**
 * What a user may write on its own entry: what Active Directory grants SELF by default (the user
 * class's default security descriptor), its Personal-Information property set (rights GUID
 * 77b5b886-944a-11d1-aebd-0000f80367c1) and its Web-Information set (e45795b3-…), each type by its
 * LDAP name and Microsoft's OID. Compared by type key, so that an alias (`streetAddress`,
 * `mobileTelephoneNumber`), the OID and options (`;binary`, `;lang-…`) are the same type; a type
 * Canopy's schema does not know is found by this name or this OID only.
 *
 * Left out on purpose, though AD puts them in Personal-Information: what says how the account
 * authenticates or is delegated to (msDS-AllowedToActOnBehalfOfOtherIdentity,
 * msDS-SupportedEncryptionTypes, msDS-HostServiceAccount, MSMQ's digests and signing
 * certificates) and the interactive-logon counters AD maintains itself. Not in either set, so
 * refused: names (cn, displayName, givenName, sn), description, title, department, company,
 * manager, co, countryCode (General-Information), every login name (sAMAccountName,
 * userPrincipalName, uid, mail), objectClass, identity (objectGUID, objectSid), account state
 * (userAccountControl, accountExpires, pwdLastSet, lockoutTime), group membership (memberOf),
 * and every type Canopy does not know.
 */
export const SELF_WRITABLE: readonly (readonly [name: string, oid: string])[] = [
  // Personal-Information: postal addresses.
  ['streetAddress', `${MS}.1.2.256`],
  ['street', '2.5.4.9'],
  ['postOfficeBox', '2.5.4.18'],
  ['postalAddress', '2.5.4.16'],
  ['postalCode', '2.5.4.17'],
  ['l', '2.5.4.7'],
  ['st', '2.5.4.8'],
  ['c', '2.5.4.6'],
  ['physicalDeliveryOfficeName', '2.5.4.19'],
  ['homePostalAddress', `${MS}.1.2.617`],
  ['registeredAddress', '2.5.4.26'],
  ['preferredDeliveryMethod', '2.5.4.28'],
  // Personal-Information: phone numbers and other addresses.
  ['telephoneNumber', '2.5.4.20'],
  ['otherTelephone', `${MS}.1.2.18`],
  ['homePhone', '0.9.2342.19200300.100.1.20'],
  ['otherHomePhone', `${MS}.1.2.277`],
  ['mobile', '0.9.2342.19200300.100.1.41'],
  ['otherMobile', `${MS}.1.4.647`],
  ['pager', '0.9.2342.19200300.100.1.42'],
  ['otherPager', `${MS}.1.2.118`],
  ['ipPhone', `${MS}.1.4.721`],
  ['otherIpPhone', `${MS}.1.4.722`],
  ['facsimileTelephoneNumber', '2.5.4.23'],
  ['otherFacsimileTelephoneNumber', `${MS}.1.4.646`],
  ['internationalISDNNumber', '2.5.4.25'],
  ['primaryInternationalISDNNumber', `${MS}.1.4.649`],
  ['telexNumber', '2.5.4.21'],
  ['primaryTelexNumber', `${MS}.1.4.648`],
  ['teletexTerminalIdentifier', '2.5.4.22'],
  ['x121Address', '2.5.4.24'],
  // Personal-Information: the rest.
  ['assistant', `${MS}.1.4.652`],
  ['info', `${MS}.1.2.81`],
  ['personalTitle', `${MS}.1.2.615`],
  ['thumbnailPhoto', '2.16.840.1.113730.3.1.35'],
  ['userCertificate', '2.5.4.36'],
  ['userCert', `${MS}.1.4.645`],
  ['userSMIMECertificate', '2.16.840.1.113730.3.1.40'],
  ['userSharedFolder', `${MS}.1.4.751`],
  ['userSharedFolderOther', `${MS}.1.4.752`],
  ['msDS-GeoCoordinatesAltitude', `${MS}.1.4.2183`],
  ['msDS-GeoCoordinatesLatitude', `${MS}.1.4.2184`],
  ['msDS-GeoCoordinatesLongitude', `${MS}.1.4.2185`],
  // Web-Information.
  ['wWWHomePage', `${MS}.1.2.464`],
  ['url', `${MS}.1.4.749`],
];

const SELF_WRITABLE_KEYS: ReadonlySet<string> = new Set(SELF_WRITABLE.flatMap(([name, oid]) => [attributeKey(name), attributeKey(oid)]));
/** The plain profile's own password: slapd's images let `self` write `userPassword` (under ppolicy, as the user's own change). */
const PLAIN_PASSWORD = attributeKey('userPassword');

/**
 * Whether a user may write the attribute type on its own entry. Under `profile: ad` a user changes
 * its password by Password Modify or by AD's delete-and-add of `unicodePwd` (both reach the
 * directory as a password change, not as this modify): a modify writing `userPassword` or
 * `unicodePwd` would be a reset, which AD does not let SELF make.
 */
export function selfWritable(description: string, ad: boolean): boolean {
  const key = attributeKey(description);
  return SELF_WRITABLE_KEYS.has(key) || (!ad && key === PLAIN_PASSWORD);
}

/**
 * A forest user writing as itself (`asUser`): the mock directory keeps no access control of its
 * own, so it grants what Active Directory grants SELF by default. On its own entry a user may
 * modify the types `selfWritable` allows (`written`: the attributes a modify names, compared by
 * type whatever their spelling) and change its password; adding, deleting and renaming (its own
 * entry included: the RDN's type is none of them, and AD does not let SELF rename itself) are
 * refused. Anything more only where Canopy's access rules allow it (`rulesAllow`).
 */
export function checkUserWrite(writer: UserWriter | undefined, operation: string, own?: Dn, written: readonly string[] = [], ad = false): void {
  if (writer === undefined || writer.rulesAllow) return;
  if (own === undefined || writer.dn?.equals(own) !== true) {
    throw new LdapError(ResultCode.insufficientAccessRights, `${operation}: a user may change its own entry only`);
  }
  const refused = written.find((name) => !selfWritable(name, ad));
  if (refused !== undefined) {
    throw new LdapError(
      ResultCode.insufficientAccessRights,
      `${operation}: a user may not change ${refused} of its own entry (only its Personal-Information and Web-Information, as Active Directory lets SELF, and its password)`,
    );
  }
}

/** Checks an entry a client adds: it needs an objectClass, no server-maintained attributes, no duplicate values. */
export function checkNewEntry(entry: Entry): void {
  if (!entry.get('objectClass')?.values.length) {
    throw new LdapError(ResultCode.objectClassViolation, `entry "${entry.dn.text}" has no objectClass`);
  }
  for (const a of entry.attributes()) {
    rejectServerAttribute(a.name);
    rejectDuplicates(a.name, a.values);
    rejectInvalidValues(a.name, a.values);
    rejectMultipleValues(a.name, a.values);
  }
}

/**
 * The form in which an added entry is stored: `;binary` options dropped from names (they only say
 * how a value travels) and the RDN's values present, which AD adds itself when an add omits them.
 */
export function storedForm(entry: Entry, dn: Dn = entry.dn): Entry {
  const attributes = [...entry.attributes()].map((a) => ({ name: withoutBinaryOption(a.name), values: a.values }));
  const next = new Entry(dn, attributes);
  addRdnValues(next, dn.rdns[0]);
  return next;
}

/** Whether `storedForm(entry, dn)` would hold the same attributes: no `;binary` option, the RDN's values present. */
export function inStoredForm(entry: StoredEntry, dn: Dn): boolean {
  for (const a of dn.firstRdn?.avas ?? []) if (!hasValue(entry, a.type, a.value)) return false;
  return entry.attributeNames.every((name) => !name.includes(';') || !hasBinaryOption(name));
}

function addRdnValues(entry: Entry, rdn: Rdn | undefined): void {
  for (const ava of rdn?.avas ?? []) {
    if (!hasValue(entry, ava.type, ava.value)) {
      const existing = entry.get(ava.type);
      entry.addValues(existing?.name ?? attributeType(ava.type)?.name ?? ava.type, [ava.value]);
    }
  }
}

/**
 * Applies a modify request's changes in order, all or nothing (RFC 4511 §4.6). Removing a naming
 * value answers `naming`: namingViolation as OpenLDAP does, notAllowedOnRDN as Active Directory.
 */
export function applyModifications(entry: Entry, changes: readonly Modification[], naming: ResultCode = ResultCode.namingViolation): Entry {
  const next = entry.clone();
  for (const { operation, attribute } of changes) {
    const name = withoutBinaryOption(attribute.name);
    const values = attribute.values;
    rejectServerAttribute(name);
    const current = next.get(name);
    const target = current?.name ?? name;
    switch (operation) {
      case 'add': {
        if (values.length === 0) {
          throw new LdapError(ResultCode.protocolError, `modify/add of "${name}" without values`);
        }
        rejectDuplicates(name, values);
        rejectInvalidValues(name, values);
        // Each value held is normalised once for all those added (per added value, it cost values held × added).
        const held = valueKeys(name, current?.values ?? []);
        if (values.some((v) => held.has(normalise(name, v)))) {
          throw new LdapError(ResultCode.attributeOrValueExists, `"${name}" already has the value being added`);
        }
        next.addValues(target, values);
        rejectMultipleValues(name, next.get(target)!.values);
        break;
      }
      case 'delete': {
        if (!current) throw new LdapError(ResultCode.noSuchAttribute, `no attribute "${name}" to delete`);
        if (values.length === 0) {
          next.delete(target);
          break;
        }
        const held = valueKeys(name, current.values);
        const remove = valueKeys(name, values);
        for (const key of remove) {
          if (!held.has(key)) throw new LdapError(ResultCode.noSuchAttribute, `"${name}" does not have a value being deleted`);
        }
        next.set(target, current.values.filter((v) => !remove.has(normalise(name, v))));
        break;
      }
      case 'replace':
        rejectDuplicates(name, values);
        rejectInvalidValues(name, values);
        rejectMultipleValues(name, values);
        next.set(target, values);
        break;
    }
  }
  if (!next.get('objectClass')?.values.length) {
    throw new LdapError(ResultCode.objectClassViolation, 'an entry must keep at least one objectClass');
  }
  for (const ava of next.dn.rdns[0]?.avas ?? []) {
    if (!hasValue(next, ava.type, ava.value)) {
      throw new LdapError(naming, `cannot remove the naming value ${ava.type}=${ava.value}: rename the entry instead`);
    }
  }
  return next;
}

/** The entry under its new DN: the new RDN's values added, the old RDN's removed when asked. */
export function renamedEntry(entry: Entry, newDn: Dn, deleteOldRdn: boolean): Entry {
  const next = entry.clone(newDn);
  const newRdn = newDn.rdns[0];
  if (deleteOldRdn) {
    for (const ava of entry.dn.rdns[0]?.avas ?? []) {
      const keep = newRdn.avas.some(
        (n) => sameType(n.type, ava.type) && normalise(ava.type, n.value) === normalise(ava.type, ava.value),
      );
      const current = next.get(ava.type);
      if (keep || !current) continue;
      const drop = normalise(ava.type, ava.value);
      next.set(current.name, current.values.filter((v) => normalise(ava.type, v) !== drop));
    }
  }
  addRdnValues(next, newRdn);
  // A single-valued type keeps one value: renaming to another value of it must remove the old one.
  for (const ava of newRdn.avas) rejectMultipleValues(ava.type, next.get(ava.type)?.values ?? []);
  return next;
}

function sameType(a: string, b: string): boolean {
  return attributeKey(a) === attributeKey(b);
}

function rejectServerAttribute(name: string): void {
  if (attributeType(name)?.noUserModification) {
    throw new LdapError(ResultCode.constraintViolation, `"${name}" is maintained by the server and cannot be written`);
  }
}

/** Values a server refuses for the attribute's syntax (invalidAttributeSyntax), as OpenLDAP and AD check them. */
function rejectInvalidValues(name: string, values: readonly AttributeValue[]): void {
  const syntax = syntaxOf(name);
  const i = values.findIndex((v) => !validForSyntax(syntax, valueText(v)));
  if (i >= 0) throw new LdapError(ResultCode.invalidAttributeSyntax, `"${name}": value #${i} invalid per syntax`);
}

function validForSyntax(syntax: SyntaxKind, text: string): boolean {
  switch (syntax) {
    case 'integer':
      return /^(?:0|-?[1-9]\d*)$/.test(text);
    case 'boolean':
      return text === 'TRUE' || text === 'FALSE';
    case 'dn':
      try {
        Dn.parse(text);
        return true;
      } catch {
        return false;
      }
    case 'time':
      return equalityKey({ syntax, exact: false }, text) !== undefined;
    default:
      return true;
  }
}

function rejectMultipleValues(name: string, values: readonly AttributeValue[]): void {
  if (values.length > 1 && attributeType(name)?.singleValue) {
    throw new LdapError(ResultCode.constraintViolation, `"${name}" is single-valued: multiple values provided`);
  }
}

/**
 * Most characters (or bytes) of values a user's entry may hold after the user's own write: a user
 * may write its Personal-Information attributes (Active Directory bounds each with its rangeUpper),
 * and without a bound on the whole its writes would grow the process's memory, and the time every
 * search of its entry takes, as far as it likes.
 */
export const MAX_SELF_WRITTEN_ENTRY = 256 * 1024;

/** Refuses a user's own write that grows its entry past MAX_SELF_WRITTEN_ENTRY (a write that does not grow it passes). */
export function checkSelfWrittenSize(before: Entry, after: Entry): void {
  const size = valuesSize(after);
  if (size > MAX_SELF_WRITTEN_ENTRY && size > valuesSize(before)) {
    throw new LdapError(ResultCode.constraintViolation, `the entry's values would hold ${size} characters, more than the ${MAX_SELF_WRITTEN_ENTRY} a user may write on its own entry`);
  }
}

function valuesSize(entry: Entry): number {
  let size = 0;
  for (const a of entry.attributes()) for (const v of a.values) size += v.length;
  return size;
}

/** The values' matching keys (normalise), once each. */
function valueKeys(name: string, values: readonly AttributeValue[]): Set<string> {
  return new Set(values.map((v) => normalise(name, v)));
}

function rejectDuplicates(name: string, values: readonly AttributeValue[]): void {
  const keys = valueKeys(name, values);
  if (keys.size !== values.length) {
    throw new LdapError(ResultCode.attributeOrValueExists, `duplicate values for "${name}"`);
  }
}
