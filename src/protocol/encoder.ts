import type { Attribute, Entry } from '../core/entry.js';
import type { Control } from './codec.js';
import type { ResultCode } from '../core/result-codes.js';
import { attributeType, isOperational } from '../core/schema.js';
import { berInt, berOctets, berTlv } from './ber-writer.js';
import { ExtendedOid, Op } from './tags.js';

/**
 * The one place responses are encoded. BER is written by hand in two passes (sizes, then bytes
 * into one exactly-sized buffer): several times faster than building @ldapjs/messages objects,
 * and strings are written as given, so a DN keeps its spelling (`cn=José` stays UTF-8).
 */

/** Which attributes of an entry a search returns; compiled once per search, asked once per attribute. */
export class AttributeSelection {
  /** Decisions by attribute spelling: entries of one search share a handful of spellings. */
  private readonly decided = new Map<string, boolean>();

  private constructor(
    private readonly allUser: boolean,
    private readonly allOperational: boolean,
    private readonly names: ReadonlySet<string>,
    readonly typesOnly: boolean,
  ) {}

  /**
   * RFC 4511 §4.5.1.8 with RFC 3673: no names or `*` → all user attributes; `+` → all operational;
   * `1.1` (alone) → none; names match case-insensitively, by alias or OID too.
   */
  static compile(requested: readonly string[], typesOnly: boolean): AttributeSelection {
    let allUser = requested.length === 0;
    let allOperational = false;
    const names = new Set<string>();
    for (const r of requested) {
      if (r === '*') allUser = true;
      else if (r === '+') allOperational = true;
      else if (r !== '1.1') names.add(canonical(r));
    }
    return new AttributeSelection(allUser, allOperational, names, typesOnly);
  }

  includes(name: string): boolean {
    let d = this.decided.get(name);
    if (d === undefined) {
      d = isOperational(name) ? this.allOperational || this.names.has(canonical(name)) : this.allUser || this.names.has(canonical(name));
      if (this.decided.size < 1024) this.decided.set(name, d);
    }
    return d;
  }
}

/** Options do not change which attribute is meant: `member` selects AD's `member;range=0-1499`. */
function canonical(name: string): string {
  const i = name.indexOf(';');
  const bare = i < 0 ? name : name.slice(0, i);
  return (attributeType(bare)?.name ?? bare).toLowerCase();
}

// Scratch space reused by every call (encoding is synchronous): lengths computed in the first
// pass and the attributes selected, read back in the second.
let lens = new Int32Array(256);
const selected: Attribute[] = [];

function ensure(n: number): void {
  if (n > lens.length) {
    const bigger = new Int32Array(Math.max(n, lens.length * 2));
    bigger.set(lens);
    lens = bigger;
  }
}

function lengthOfLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 5;
}

/** Size of a tag-length-value with `n` content bytes. */
function tlv(n: number): number {
  return 1 + lengthOfLength(n) + n;
}

function intContentLength(v: number): number {
  return v < 0x80 ? 1 : v < 0x8000 ? 2 : v < 0x800000 ? 3 : v < 0x80000000 ? 4 : 5;
}

function writeHeader(buf: Buffer, off: number, tag: number, n: number): number {
  buf[off++] = tag;
  if (n < 0x80) {
    buf[off++] = n;
  } else {
    const k = lengthOfLength(n) - 1;
    buf[off++] = 0x80 | k;
    for (let i = k - 1; i >= 0; i--) buf[off++] = Math.floor(n / 2 ** (8 * i)) & 0xff;
  }
  return off;
}

function writeInt(buf: Buffer, off: number, tag: number, v: number): number {
  const n = intContentLength(v);
  buf[off++] = tag;
  buf[off++] = n;
  for (let i = n - 1; i >= 0; i--) buf[off++] = Math.floor(v / 2 ** (8 * i)) & 0xff;
  return off;
}

function writeString(buf: Buffer, off: number, tag: number, s: string, byteLength: number): number {
  off = writeHeader(buf, off, tag, byteLength);
  return off + buf.write(s, off, byteLength, 'utf8');
}

/** SearchResultEntry for `entry`, with the attributes `selection` picks, under `messageId`. */
export function encodeSearchEntry(messageId: number, entry: Entry, selection: AttributeSelection): Buffer {
  const typesOnly = selection.typesOnly;
  selected.length = 0;
  let k = 0;
  let attrsContent = 0;
  for (const attr of entry.attributes()) {
    if (!selection.includes(attr.name)) continue;
    selected.push(attr);
    const slot = k;
    ensure(k + 3 + (typesOnly ? 0 : attr.values.length));
    k += 3;
    const typeLen = Buffer.byteLength(attr.name, 'utf8');
    let valsContent = 0;
    if (!typesOnly) {
      for (const v of attr.values) {
        const vl = typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
        lens[k++] = vl;
        valsContent += tlv(vl);
      }
    }
    const attrContent = tlv(typeLen) + tlv(valsContent);
    lens[slot] = attrContent;
    lens[slot + 1] = typeLen;
    lens[slot + 2] = valsContent;
    attrsContent += tlv(attrContent);
  }
  const dn = entry.dn.text;
  const dnLen = Buffer.byteLength(dn, 'utf8');
  const opContent = tlv(dnLen) + tlv(attrsContent);
  const msgContent = 2 + intContentLength(messageId) + tlv(opContent);
  const buf = Buffer.allocUnsafe(tlv(msgContent));

  let off = writeHeader(buf, 0, 0x30, msgContent);
  off = writeInt(buf, off, 0x02, messageId);
  off = writeHeader(buf, off, Op.searchResultEntry, opContent);
  off = writeString(buf, off, 0x04, dn, dnLen);
  off = writeHeader(buf, off, 0x30, attrsContent);
  k = 0;
  for (const attr of selected) {
    off = writeHeader(buf, off, 0x30, lens[k]);
    off = writeString(buf, off, 0x04, attr.name, lens[k + 1]);
    off = writeHeader(buf, off, 0x31, lens[k + 2]);
    k += 3;
    if (typesOnly) continue;
    for (const v of attr.values) {
      const vl = lens[k++];
      if (typeof v === 'string') {
        off = writeString(buf, off, 0x04, v, vl);
      } else {
        off = writeHeader(buf, off, 0x04, vl);
        off += v.copy(buf, off);
      }
    }
  }
  selected.length = 0;
  return buf;
}

/** The protocolOp of a response message without controls (an entry or a reference): what a cache keeps of it. */
export function protocolOpOf(message: Buffer): Buffer {
  const first = message[1];
  let off = first < 0x80 ? 2 : 2 + (first & 0x7f);
  off += 2 + message[off + 1]; // the messageID INTEGER: tag, length, content
  return message.subarray(off);
}

/** Kept protocolOps (`ops[start..end)`) sent again under `messageId`: one LDAPMessage each, in one buffer. */
export function encodeEnvelopes(messageId: number, ops: readonly Buffer[], start = 0, end = ops.length): Buffer {
  const idLen = 2 + intContentLength(messageId);
  let size = 0;
  for (let i = start; i < end; i++) size += tlv(idLen + ops[i].length);
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  for (let i = start; i < end; i++) {
    off = writeHeader(buf, off, 0x30, idLen + ops[i].length);
    off = writeInt(buf, off, 0x02, messageId);
    off += ops[i].copy(buf, off);
  }
  return buf;
}

export interface ResultExtras {
  /** ExtendedResponse responseName [10]. */
  readonly responseName?: string;
  /** ExtendedResponse responseValue [11]. */
  readonly responseValue?: Buffer;
  /** Response controls (paged results cookie, sort result), after the protocolOp. */
  readonly controls?: readonly Control[];
  /** LDAPResult referral [3]: the URLs of a referral (10) result. */
  readonly referral?: readonly string[];
}

/**
 * An LDAPResult-based response (bind, search done, modify, add, delete, modDN, compare, extended):
 * `protocolOp` is the response's application tag (tags.ts Op).
 */
export function encodeResult(
  messageId: number,
  protocolOp: number,
  code: ResultCode,
  matchedDn = '',
  diagnosticMessage = '',
  extra: ResultExtras = {},
): Buffer {
  const matchedLen = Buffer.byteLength(matchedDn, 'utf8');
  const diagLen = Buffer.byteLength(diagnosticMessage, 'utf8');
  const nameLen = extra.responseName === undefined ? -1 : Buffer.byteLength(extra.responseName, 'utf8');
  const value = extra.responseValue;
  const referral = extra.referral?.length ? berTlv(0xa3, ...extra.referral.map((url) => berOctets(url))) : undefined;
  const opContent =
    2 +
    intContentLength(code) +
    tlv(matchedLen) +
    tlv(diagLen) +
    (referral?.length ?? 0) +
    (nameLen >= 0 ? tlv(nameLen) : 0) +
    (value ? tlv(value.length) : 0);
  const controls = extra.controls ? encodeControls(extra.controls) : undefined;
  const msgContent = 2 + intContentLength(messageId) + tlv(opContent) + (controls?.length ?? 0);
  const buf = Buffer.allocUnsafe(tlv(msgContent));
  let off = writeHeader(buf, 0, 0x30, msgContent);
  off = writeInt(buf, off, 0x02, messageId);
  off = writeHeader(buf, off, protocolOp, opContent);
  off = writeInt(buf, off, 0x0a, code);
  off = writeString(buf, off, 0x04, matchedDn, matchedLen);
  off = writeString(buf, off, 0x04, diagnosticMessage, diagLen);
  if (referral) off += referral.copy(buf, off);
  if (nameLen >= 0) off = writeString(buf, off, 0x8a, extra.responseName!, nameLen);
  if (value) {
    off = writeHeader(buf, off, 0x8b, value.length);
    off += value.copy(buf, off);
  }
  controls?.copy(buf, off);
  return buf;
}

/** controls [0] SEQUENCE OF Control { controlType, criticality DEFAULT FALSE, controlValue OPTIONAL }. */
function encodeControls(controls: readonly Control[]): Buffer {
  const items = controls.map((c) =>
    berTlv(0x30, berOctets(c.oid), ...(c.critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), ...(c.value ? [berOctets(c.value)] : [])),
  );
  return berTlv(0xa0, ...items);
}

/** SearchResultReference (RFC 4511 §4.5.3): one continuation reference, the URLs any of which continues the search. */
export function encodeSearchReference(messageId: number, urls: readonly string[]): Buffer {
  return berTlv(0x30, berInt(messageId), berTlv(Op.searchResultReference, ...urls.map((url) => berOctets(url))));
}

/** Notice of Disconnection (RFC 4511 §4.4.1): unsolicited, message ID 0, sent before closing. */
export function encodeNoticeOfDisconnection(code: ResultCode, message: string): Buffer {
  return encodeResult(0, Op.extendedResponse, code, '', message, { responseName: ExtendedOid.noticeOfDisconnection });
}
