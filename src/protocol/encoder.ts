import { SelectedEntry, type AttributeSelection } from '../core/attribute-selection.js';
import type { Attribute, Entry } from '../core/entry.js';
import type { Control } from './decoder.js';
import type { ResultCode } from '../core/result-codes.js';
import { berInt, berOctets, berTlv } from './ber-writer.js';
import { ExtendedOid, Op } from './tags.js';

/**
 * The one place responses are encoded. BER is written by hand in two passes (sizes, then bytes
 * into one exactly-sized buffer): several times faster than building @ldapjs/messages objects,
 * and strings are written as given, so a DN keeps its spelling (`cn=José` stays UTF-8).
 */

/** What encodeSearchEntry is given: which attributes of an entry the search returns. */
export { AttributeSelection } from '../core/attribute-selection.js';

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
    for (let i = k - 1; i >= 0; i--) buf[off++] = byteOf(n, i);
  }
  return off;
}

/** Byte `i` (0 = least significant) of a non-negative integer below 2^40; shifts, not a power per byte: this runs for every message. */
function byteOf(v: number, i: number): number {
  return i < 4 ? (v >>> (8 * i)) & 0xff : Math.floor(v / 0x100000000) & 0xff;
}

function writeInt(buf: Buffer, off: number, tag: number, v: number): number {
  const n = intContentLength(v);
  buf[off++] = tag;
  buf[off++] = n;
  for (let i = n - 1; i >= 0; i--) buf[off++] = byteOf(v, i);
  return off;
}

function writeString(buf: Buffer, off: number, tag: number, s: string, byteLength: number): number {
  off = writeHeader(buf, off, tag, byteLength);
  // As many bytes as characters: all ASCII. Short ones (attribute names) copied here, not through a native call each.
  if (byteLength === s.length && byteLength <= 24) {
    for (let i = 0; i < byteLength; i++) buf[off + i] = s.charCodeAt(i);
    return off + byteLength;
  }
  return off + buf.write(s, off, byteLength, 'utf8');
}

/** SearchResultEntry for `entry`, with the attributes `selection` picks, under `messageId`. */
export function encodeSearchEntry(messageId: number, entry: Entry, selection: AttributeSelection): Buffer {
  const typesOnly = selection.typesOnly;
  // A namespace stage already selected with this very list: nothing in the entry to drop.
  const selectedHere = entry instanceof SelectedEntry && entry.selectedFor === selection.requested;
  selected.length = 0;
  let k = 0;
  let attrsContent = 0;
  for (const attr of entry.attributes()) {
    if (!selectedHere && !selection.includes(attr.name)) continue;
    selected.push(attr);
    const slot = k;
    // Values that arrived encoded are copied as they are: no length per value.
    const encoded = typesOnly ? undefined : attr.encodedValues;
    ensure(k + 3 + (typesOnly || encoded ? 0 : attr.values.length));
    k += 3;
    const typeLen = Buffer.byteLength(attr.name, 'utf8');
    let valsContent = 0;
    if (encoded) {
      valsContent = encoded.length;
    } else if (!typesOnly) {
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
    if (attr.encodedValues) {
      off += attr.encodedValues.copy(buf, off);
      continue;
    }
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

/** Where the protocolOp of a response message without controls (an entry or a reference) starts: what a cache keeps of it. */
export function protocolOpStart(message: Buffer): number {
  const first = message[1];
  return tlvEnd(message, first < 0x80 ? 2 : 2 + (first & 0x7f)); // past the messageID INTEGER
}

/** Where the tag-length-value starting at `off` ends (definite lengths, as LDAP and this encoder write them). */
export function tlvEnd(buf: Buffer, off: number): number {
  const first = buf[off + 1];
  if (first < 0x80) return off + 2 + first;
  const k = first & 0x7f;
  let n = 0;
  for (let i = 0; i < k; i++) n = n * 256 + buf[off + 2 + i];
  return off + 2 + k + n;
}

/** Kept protocolOps, back to back in `ops` (bytes `start` to `end`, on their boundaries), sent again under `messageId`: one LDAPMessage each, in one buffer. */
export function encodeEnvelopes(messageId: number, ops: Buffer, start = 0, end = ops.length): Buffer {
  const idLen = 2 + intContentLength(messageId);
  let size = 0;
  for (let off = start; off < end; ) {
    const next = tlvEnd(ops, off);
    size += tlv(idLen + next - off);
    off = next;
  }
  const buf = Buffer.allocUnsafe(size);
  let out = 0;
  for (let off = start; off < end; ) {
    const next = tlvEnd(ops, off);
    out = writeHeader(buf, out, 0x30, idLen + next - off);
    out = writeInt(buf, out, 0x02, messageId);
    out += ops.copy(buf, out, off, next);
    off = next;
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
