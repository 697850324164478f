import type { Attribute, AttributeValue } from './entry.js';

/** Reads an attribute's values from their encoding: the backend that received them knows how. */
export type ValueDecoder = (encoded: Buffer) => AttributeValue[];

/**
 * An attribute of an upstream entry kept as the bytes that arrived: its values are decoded only
 * when a stage reads them, and otherwise the encoder copies the bytes to the client (a sync
 * passes most attributes unchanged). The backend checks the bytes are well formed before making
 * one, so reading it later cannot fail.
 */
export class EncodedAttribute implements Attribute {
  private decoded: AttributeValue[] | undefined;

  constructor(
    readonly name: string,
    /** The contents of the attribute's SET OF OCTET STRING, as they arrived. */
    readonly encodedValues: Buffer,
    private readonly decode: ValueDecoder,
  ) {}

  get values(): AttributeValue[] {
    return (this.decoded ??= this.decode(this.encodedValues));
  }

  /** The same values under another name (the virtual spelling of a forest's attribute). */
  named(name: string): EncodedAttribute {
    if (name === this.name) return this;
    const renamed = new EncodedAttribute(name, this.encodedValues, this.decode);
    renamed.decoded = this.decoded;
    return renamed;
  }
}
