import type { Dn } from './dn.js';

/** Text values are strings; values of binary attributes (objectGUID, jpegPhoto, …) are bytes. */
export type AttributeValue = string | Buffer;

export interface Attribute {
  /** The attribute's name as spelled by the directory that holds it. */
  readonly name: string;
  readonly values: AttributeValue[];
}

/** A directory entry: its DN as spelled by its directory, and attributes looked up case-insensitively. */
export class Entry {
  private readonly byName = new Map<string, Attribute>();

  constructor(
    readonly dn: Dn,
    attributes: Iterable<Attribute> = [],
  ) {
    for (const a of attributes) this.addValues(a.name, a.values);
  }

  get(name: string): Attribute | undefined {
    return this.byName.get(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.byName.has(name.toLowerCase());
  }

  attributes(): IterableIterator<Attribute> {
    return this.byName.values();
  }

  /** Adds values to an attribute, creating it under the given spelling when new. */
  addValues(name: string, values: readonly AttributeValue[]): void {
    const key = name.toLowerCase();
    const existing = this.byName.get(key);
    if (existing) existing.values.push(...values);
    else this.byName.set(key, { name, values: [...values] });
  }

  set(name: string, values: readonly AttributeValue[]): void {
    const key = name.toLowerCase();
    if (values.length === 0) this.byName.delete(key);
    else this.byName.set(key, { name: this.byName.get(key)?.name ?? name, values: [...values] });
  }

  delete(name: string): boolean {
    return this.byName.delete(name.toLowerCase());
  }

  /** A deep-enough copy for writes: attribute value arrays are copied, values (immutable) shared. */
  clone(dn: Dn = this.dn): Entry {
    return new Entry(dn, this.byName.values());
  }
}
