import { isUtf8 } from 'node:buffer';
import type { Attribute, AttributeValue } from './entry.js';

const OCTET_STRING = 0x04;

/** The bytes are not a well-formed SET OF OCTET STRING's contents. */
export class MalformedValues extends Error {
  override readonly name = 'MalformedValues';
}

/**
 * An attribute of an upstream entry kept as the bytes that arrived: its values are decoded only
 * when a stage reads them, and otherwise the encoder copies the bytes to the client (a sync
 * passes most attributes unchanged). Text unless the attribute is binary or a value is not UTF-8,
 * as Canopy decodes every upstream value.
 */
export class EncodedAttribute implements Attribute {
  private decoded: AttributeValue[] | undefined;

  private constructor(
    readonly name: string,
    readonly encodedValues: Buffer,
    private readonly binary: boolean,
  ) {}

  /**
   * The attribute whose values are encoded in `bytes` (the contents of its SET OF), checked to be
   * well-formed now so that reading it later cannot fail; undefined when it has no values.
   */
  static of(name: string, bytes: Buffer, binary: boolean): EncodedAttribute | undefined {
    let pos = 0;
    while (pos < bytes.length) pos = valueEnd(bytes, pos);
    return bytes.length === 0 ? undefined : new EncodedAttribute(name, bytes, binary);
  }

  get values(): AttributeValue[] {
    return (this.decoded ??= decodeValues(this.encodedValues, this.binary));
  }

  /** The same values under another name (the virtual spelling of a forest's attribute). */
  named(name: string): EncodedAttribute {
    if (name === this.name) return this;
    const renamed = new EncodedAttribute(name, this.encodedValues, this.binary);
    renamed.decoded = this.decoded;
    return renamed;
  }
}

/** Where the contents of the OCTET STRING read last by `valueEnd` start (decoding is synchronous; no object per value). */
let valueStart = 0;

/** Where the OCTET STRING at `pos` ends, checked against the end of `bytes`; its contents start at `valueStart`. */
function valueEnd(bytes: Buffer, pos: number): number {
  if (bytes[pos] !== OCTET_STRING) throw new MalformedValues(`expected tag 0x4, got 0x${(bytes[pos] ?? 0).toString(16)}`);
  if (pos + 1 >= bytes.length) throw new MalformedValues('unexpected end of data');
  let length = bytes[pos + 1];
  let start = pos + 2;
  if (length & 0x80) {
    const k = length & 0x7f;
    if (k === 0 || k > 4 || start + k > bytes.length) throw new MalformedValues('bad length');
    length = 0;
    for (let i = 0; i < k; i++) length = length * 256 + bytes[start + i];
    start += k;
  }
  const end = start + length;
  if (end > bytes.length) throw new MalformedValues('length past the end of data');
  valueStart = start;
  return end;
}

function decodeValues(bytes: Buffer, binary: boolean): AttributeValue[] {
  if (binary) return byteValues(bytes);
  const texts: string[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const end = valueEnd(bytes, pos);
    const value = bytes.toString('utf8', valueStart, end);
    // Decoding replaces malformed sequences by U+FFFD: only then is the stricter check needed.
    if (value.includes('\uFFFD') && !isUtf8(bytes.subarray(valueStart, end))) return byteValues(bytes);
    texts.push(value);
    pos = end;
  }
  return texts;
}

function byteValues(bytes: Buffer): Buffer[] {
  const values: Buffer[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const end = valueEnd(bytes, pos);
    values.push(bytes.subarray(valueStart, end));
    pos = end;
  }
  return values;
}
