import { isAlternativeDn, parseAlternativeDn, type AlternativeDn } from '../core/alternative-dn.js';
import { Dn } from '../core/dn.js';
import type { Modification, ModifyDnRequest, Scope, SearchRequest } from '../core/directory.js';
import { Entry, type AttributeValue } from '../core/entry.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { syntaxOf } from '../core/schema.js';
import { BerError, BerReader, MAX_INT } from './ber-reader.js';
import { decodeFilter } from './filter-codec.js';
import { ExtendedOid, Op } from './tags.js';

export interface Control {
  readonly oid: string;
  readonly critical: boolean;
  readonly value?: Buffer;
}

export type BindAuth =
  | { readonly method: 'simple'; readonly password: Buffer }
  | { readonly method: 'sasl'; readonly mechanism: string; readonly credentials?: Buffer };

/** The entry a request names: a DN, or one of AD's `<SID=…>`/`<GUID=…>` forms the front end resolves to a DN. */
export type RequestDn = Dn | AlternativeDn;

/** A search as sent: its base may be an alternative form. */
export type DecodedSearch = Omit<SearchRequest, 'base'> & { readonly base: RequestDn };

/** A decoded request, in Canopy's own types. */
export type LdapRequest =
  | { readonly op: 'bind'; readonly version: number; readonly name: string; readonly auth: BindAuth }
  | { readonly op: 'unbind' }
  | { readonly op: 'search'; readonly search: DecodedSearch }
  | { readonly op: 'add'; readonly entry: Entry }
  | { readonly op: 'modify'; readonly dn: RequestDn; readonly changes: readonly Modification[] }
  | { readonly op: 'delete'; readonly dn: RequestDn }
  | { readonly op: 'modifyDn'; readonly request: ModifyDnRequest }
  | { readonly op: 'compare'; readonly dn: RequestDn; readonly attribute: string; readonly value: AttributeValue }
  | { readonly op: 'abandon'; readonly abandonId: number }
  | { readonly op: 'extended'; readonly oid: string; readonly value?: Buffer; readonly passwordModify?: PasswordModify };

/** RFC 3062's PasswdModifyRequestValue: every field optional. Never logged. */
export interface PasswordModify {
  readonly userIdentity?: string;
  readonly oldPassword?: Buffer;
  readonly newPassword?: Buffer;
}

export type Decoded =
  | { readonly kind: 'request'; readonly messageId: number; readonly controls: readonly Control[]; readonly request: LdapRequest }
  /** A request that gets an error result (bad DN, too-deep filter) and no further work. */
  | { readonly kind: 'reject'; readonly messageId: number; readonly responseTag: number; readonly error: LdapError }
  /** The stream can no longer be trusted: send a Notice of Disconnection and close. */
  | { readonly kind: 'disconnect'; readonly reason: string };

/**
 * Decodes one framed LDAPMessage. Never throws: malformed BER, a message ID outside 1..maxInt and
 * a PDU that is not a request disconnect; a well-formed request that cannot be served (invalid DN,
 * filter too deep) is rejected under its own message ID. Values of binary attributes (schema syntaxOf) stay bytes, others are UTF-8.
 */
export function decodeMessage(message: Buffer, limits: DecodeLimits = {}): Decoded {
  let messageId: number | undefined;
  let responseTag: number = Op.extendedResponse;
  try {
    const outer = new BerReader(message).child(0x30);
    const id = outer.int();
    // RFC 4511 §4.1.1.1: 1..maxInt (0 is the unsolicited notification's); an answer under another ID would be wrong.
    if (id < 1 || id > MAX_INT) return { kind: 'disconnect', reason: `message ID ${id} is not valid in a request` };
    messageId = id;
    const tag = outer.peek();
    const response = RESPONSE_TAG.get(tag);
    // RFC 4511 §4.1.1: a PDU that is not a request cannot be answered; the session ends.
    if (response === undefined) return { kind: 'disconnect', reason: `operation 0x${tag.toString(16)} is not a request` };
    responseTag = response;
    const request = decodeOp(outer, tag, limits);
    const controls = !outer.atEnd && outer.peek() === 0xa0 ? decodeControls(outer.child(0xa0)) : [];
    return { kind: 'request', messageId, controls, request };
  } catch (err) {
    if (err instanceof LdapError && messageId !== undefined) {
      return { kind: 'reject', messageId, responseTag, error: err };
    }
    const reason = err instanceof BerError || err instanceof LdapError ? err.message : 'malformed request';
    return { kind: 'disconnect', reason };
  }
}

/** What a request may hold; no limit when absent. */
export interface DecodeLimits {
  /** Terms (assertions and and/or/not) of a search filter: more are refused (unwillingToPerform) while decoding. */
  readonly maxFilterTerms?: number;
}

/** The response that answers each request (abandon and unbind have none; 0 marks that). */
const RESPONSE_TAG = new Map<number, number>([
  [Op.bindRequest, Op.bindResponse],
  [Op.unbindRequest, 0],
  [Op.searchRequest, Op.searchResultDone],
  [Op.modifyRequest, Op.modifyResponse],
  [Op.addRequest, Op.addResponse],
  [Op.delRequest, Op.delResponse],
  [Op.modDnRequest, Op.modDnResponse],
  [Op.compareRequest, Op.compareResponse],
  [Op.abandonRequest, 0],
  [Op.extendedRequest, Op.extendedResponse],
]);

function decodeOp(outer: BerReader, tag: number, limits: DecodeLimits): LdapRequest {
  switch (tag) {
    case Op.bindRequest:
      return decodeBind(outer.child(tag));
    case Op.unbindRequest:
      outer.skip();
      return { op: 'unbind' };
    case Op.searchRequest:
      return { op: 'search', search: decodeSearch(outer.child(tag), limits.maxFilterTerms) };
    case Op.modifyRequest:
      return decodeModify(outer.child(tag));
    case Op.addRequest:
      return decodeAdd(outer.child(tag));
    case Op.delRequest:
      return { op: 'delete', dn: requestDn(outer.string(tag)) };
    case Op.modDnRequest:
      return decodeModifyDn(outer.child(tag));
    case Op.compareRequest: {
      const r = outer.child(tag);
      const dn = requestDn(r.string());
      const ava = r.child(0x30);
      const attribute = ava.string();
      const bytes = ava.octets();
      // Copied: a view would keep the whole socket chunk alive as long as the value lives.
      return { op: 'compare', dn, attribute, value: syntaxOf(attribute) === 'binary' ? Buffer.from(bytes) : bytes.toString('utf8') };
    }
    case Op.abandonRequest:
      return { op: 'abandon', abandonId: outer.int(tag) };
    case Op.extendedRequest: {
      const r = outer.child(tag);
      const oid = r.string(0x80);
      const value = !r.atEnd && r.peek() === 0x81 ? Buffer.from(r.octets(0x81)) : undefined;
      if (oid === ExtendedOid.passwordModify) return { op: 'extended', oid, passwordModify: decodePasswordModify(value) };
      return { op: 'extended', oid, ...(value && { value }) };
    }
    default:
      throw new BerError(`unexpected operation 0x${tag.toString(16)}`);
  }
}

/**
 * PasswdModifyRequestValue ::= SEQUENCE { userIdentity [0], oldPasswd [1], newPasswd [2] OPTIONAL }
 * (RFC 3062); an absent value omits all three. A malformed value is the request's error, not the
 * connection's: the envelope around it was well formed.
 */
function decodePasswordModify(value: Buffer | undefined): PasswordModify {
  if (value === undefined) return {};
  try {
    const outer = new BerReader(value);
    const r = outer.child(0x30);
    const field = (tag: number): Buffer | undefined => (!r.atEnd && r.peek() === tag ? Buffer.from(r.octets(tag)) : undefined);
    const userIdentity = field(0x80)?.toString('utf8');
    const oldPassword = field(0x81);
    const newPassword = field(0x82);
    if (!r.atEnd || !outer.atEnd) throw new BerError('unexpected field');
    return { ...(userIdentity !== undefined && { userIdentity }), ...(oldPassword && { oldPassword }), ...(newPassword && { newPassword }) };
  } catch (err) {
    if (!(err instanceof BerError)) throw err;
    throw new LdapError(ResultCode.protocolError, 'malformed Password Modify request value');
  }
}

function decodeBind(r: BerReader): LdapRequest {
  const version = r.int();
  const name = r.string();
  const authTag = r.peek();
  if (authTag === 0x80) return { op: 'bind', version, name, auth: { method: 'simple', password: Buffer.from(r.octets(0x80)) } };
  if (authTag === 0xa3) {
    const s = r.child(0xa3);
    const mechanism = s.string();
    const credentials = s.atEnd ? undefined : Buffer.from(s.octets());
    return { op: 'bind', version, name, auth: { method: 'sasl', mechanism, ...(credentials && { credentials }) } };
  }
  throw new LdapError(ResultCode.authMethodNotSupported, `authentication choice 0x${authTag.toString(16)} is not supported`);
}

const SCOPES: readonly Scope[] = ['base', 'one', 'sub'];

/**
 * Attribute descriptions one search may name. Each is resolved and looked for in every entry, and
 * passed upstream: 115,000 of them kept a forest busy past the operation timeout. Directories'
 * schemas hold a few thousand types at most; applications ask for tens.
 */
const MAX_REQUESTED_ATTRIBUTES = 1000;

function decodeSearch(r: BerReader, maxFilterTerms?: number): DecodedSearch {
  const baseText = r.string();
  const scopeCode = r.enumerated();
  r.enumerated(); // derefAliases: Canopy serves no aliases
  const sizeLimit = r.int();
  const timeLimit = r.int();
  const typesOnly = r.bool();
  const filter = decodeFilter(r, maxFilterTerms);
  const attrs = r.child(0x30);
  const attributes: string[] = [];
  while (!attrs.atEnd) {
    if (attributes.length === MAX_REQUESTED_ATTRIBUTES) {
      throw new LdapError(ResultCode.unwillingToPerform, `a search may ask for at most ${MAX_REQUESTED_ATTRIBUTES} attributes`);
    }
    attributes.push(attrs.string());
  }
  const scope = SCOPES[scopeCode];
  if (scope === undefined) throw new LdapError(ResultCode.protocolError, `unsupported search scope ${scopeCode}`);
  if (sizeLimit < 0 || timeLimit < 0) throw new LdapError(ResultCode.protocolError, 'negative search limit');
  return { base: requestDn(baseText), scope, filter, attributes, typesOnly, sizeLimit, timeLimit };
}

/** Where Active Directory accepts `<SID=…>` and `<GUID=…>`: search bases and the entry of a compare, modify or delete. */
function requestDn(text: string): RequestDn {
  return isAlternativeDn(text) ? parseAlternativeDn(text) : Dn.parse(text);
}

const MOD_OPS = ['add', 'delete', 'replace'] as const;

function decodeModify(r: BerReader): LdapRequest {
  const dn = requestDn(r.string());
  const list = r.child(0x30);
  const changes: Modification[] = [];
  while (!list.atEnd) {
    const change = list.child(0x30);
    const code = change.enumerated();
    const operation = MOD_OPS[code];
    if (operation === undefined) throw new LdapError(ResultCode.unwillingToPerform, `modify operation ${code} is not supported`);
    changes.push({ operation, attribute: decodeAttribute(change.child(0x30)) });
  }
  return { op: 'modify', dn, changes };
}

function decodeAdd(r: BerReader): LdapRequest {
  const dn = Dn.parse(r.string());
  const list = r.child(0x30);
  const entry = new Entry(dn);
  while (!list.atEnd) {
    const a = decodeAttribute(list.child(0x30));
    entry.addValues(a.name, a.values);
  }
  return { op: 'add', entry };
}

function decodeModifyDn(r: BerReader): LdapRequest {
  const dn = Dn.parse(r.string());
  const newRdn = r.string();
  const deleteOldRdn = r.bool();
  const newSuperior = !r.atEnd && r.peek() === 0x80 ? Dn.parse(r.string(0x80)) : undefined;
  return { op: 'modifyDn', request: { dn, newRdn, deleteOldRdn, ...(newSuperior && { newSuperior }) } };
}

/** PartialAttribute ::= SEQUENCE { type, vals SET OF value }. */
function decodeAttribute(r: BerReader): { name: string; values: AttributeValue[] } {
  const name = r.string();
  const set = r.child(0x31);
  const values: AttributeValue[] = [];
  // Decided once per attribute, not per value; copied as in a compare.
  const binary = syntaxOf(name) === 'binary';
  while (!set.atEnd) {
    const bytes = set.octets();
    values.push(binary ? Buffer.from(bytes) : bytes.toString('utf8'));
  }
  return { name, values };
}

function decodeControls(r: BerReader): Control[] {
  const controls: Control[] = [];
  while (!r.atEnd) {
    const c = r.child(0x30);
    const oid = c.string();
    const critical = !c.atEnd && c.peek() === 0x01 ? c.bool() : false;
    const value = !c.atEnd ? Buffer.from(c.octets()) : undefined;
    controls.push({ oid, critical, ...(value && { value }) });
  }
  return controls;
}
