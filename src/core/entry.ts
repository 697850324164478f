import type { Dn } from './dn.js';
import { descriptionKey } from './schema.js';

/** Text values are strings; values of binary attributes (objectGUID, jpegPhoto, …) are bytes. */
export type AttributeValue = string | Buffer;

export interface Attribute {
  /** The attribute's name as spelled by the directory that holds it. */
  readonly name: string;
  readonly values: AttributeValue[];
  /**
   * The values as an upstream server encoded them (the contents of a SET OF OCTET STRING), while
   * they are unchanged: the encoder copies these bytes instead of encoding the values again.
   */
  readonly encodedValues?: Buffer;
}

/**
 * A directory entry: its DN as spelled by its directory, and attributes looked up by type (any
 * name, alias or OID, any case: `entry.get('2.5.4.3')` is its `cn`), options kept apart.
 */
export class Entry {
  private readonly byName = new Map<string, Attribute>();

  constructor(
    readonly dn: Dn,
    attributes: Iterable<Attribute> = [],
  ) {
    for (const a of attributes) this.addValues(a.name, a.values);
  }

  get(name: string): Attribute | undefined {
    return this.byName.get(keyOf(name));
  }

  has(name: string): boolean {
    return this.byName.has(keyOf(name));
  }

  attributes(): IterableIterator<Attribute> {
    return this.byName.values();
  }

  /** Adds values to an attribute, creating it under the given spelling when new. */
  addValues(name: string, values: readonly AttributeValue[]): void {
    const stored = storedName(name);
    const existing = this.byName.get(stored.key);
    if (existing?.encodedValues) this.byName.set(stored.key, { name: existing.name, values: [...existing.values, ...values] });
    else if (existing) existing.values.push(...values);
    else this.byName.set(stored.key, { name: stored.name, values: [...values] });
  }

  /**
   * Adds an attribute: one whose values arrived encoded, not there yet, as the very object given
   * (shared, never changed: addValues replaces it); any other by value.
   */
  put(attribute: Attribute): void {
    const stored = storedName(attribute.name);
    if (attribute.encodedValues && !this.byName.has(stored.key)) this.byName.set(stored.key, attribute);
    else this.addValues(attribute.name, attribute.values);
  }

  set(name: string, values: readonly AttributeValue[]): void {
    const { key, name: spelled } = storedName(name);
    if (values.length === 0) this.byName.delete(key);
    else this.byName.set(key, { name: this.byName.get(key)?.name ?? spelled, values: [...values] });
  }

  delete(name: string): boolean {
    return this.byName.delete(keyOf(name));
  }

  /** A deep-enough copy for writes: attribute value arrays are copied, values (immutable) shared. */
  clone(dn: Dn = this.dn): Entry {
    return new Entry(dn, this.byName.values());
  }
}

interface StoredName {
  readonly name: string;
  /** The type's key with the options (`descriptionKey`): what `get` looks the attribute up by. */
  readonly key: string;
}

/**
 * One string per spelling of an attribute name, and one for its key, shared by every entry rather
 * than copied into each: a large directory holds millions. Bounded, as names come from clients too.
 */
const storedNames = new Map<string, StoredName>();

/** The lookup key of a name: a known spelling's shared key, without working it out again per lookup. */
function keyOf(name: string): string {
  return storedNames.get(name)?.key ?? descriptionKey(name);
}

function storedName(name: string): StoredName {
  let stored = storedNames.get(name);
  if (stored === undefined) {
    if (storedNames.size >= 4096) storedNames.clear();
    // A flat copy: `name` may be a slice of a large text (an LDIF file) that the cache must not keep alive.
    const copy = [...name].join('');
    stored = { name: copy, key: descriptionKey(copy) };
    storedNames.set(copy, stored);
  }
  return stored;
}
