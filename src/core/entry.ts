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
  /**
   * Keys (`descriptionKey`: the type's key with the options) and attributes side by side, in the
   * order added. An entry holds a dozen or so attributes, which a scan of shared key strings finds
   * sooner than a Map's hash does, and a search builds several entries per returned one: with a
   * Map per entry, grown twice by rehashing, building an entry and its rewritten copy cost 1.05 µs
   * against 0.72. Past SCAN_LIMIT attributes (a client's add of 100,000, which scans would make
   * quadratic) they move to a Map.
   */
  private keys: string[] = [];
  private list: Attribute[] = [];
  private map: Map<string, Attribute> | undefined;

  constructor(
    readonly dn: Dn,
    attributes: Iterable<Attribute> = [],
  ) {
    for (const a of attributes) this.addValues(a.name, a.values);
  }

  get(name: string): Attribute | undefined {
    return this.#get(keyOf(name));
  }

  has(name: string): boolean {
    return this.#get(keyOf(name)) !== undefined;
  }

  attributes(): IterableIterator<Attribute> {
    return this.map ? this.map.values() : this.list.values();
  }

  /** Adds values to an attribute, creating it under the given spelling when new. */
  addValues(name: string, values: readonly AttributeValue[]): void {
    const stored = storedName(name);
    const existing = this.#get(stored.key);
    if (existing === undefined) this.#add(stored.key, { name: stored.name, values: [...values] });
    else if (existing.encodedValues) this.#set(stored.key, { name: existing.name, values: [...existing.values, ...values] });
    else existing.values.push(...values);
  }

  /**
   * Adds an attribute: one whose values arrived encoded, not there yet, as the very object given
   * (shared, never changed: addValues replaces it); any other by value.
   */
  put(attribute: Attribute): void {
    const stored = storedName(attribute.name);
    if (attribute.encodedValues && this.#get(stored.key) === undefined) this.#add(stored.key, attribute);
    else this.addValues(attribute.name, attribute.values);
  }

  set(name: string, values: readonly AttributeValue[]): void {
    const { key, name: spelled } = storedName(name);
    if (values.length === 0) this.#delete(key);
    else this.#set(key, { name: this.#get(key)?.name ?? spelled, values: [...values] });
  }

  delete(name: string): boolean {
    return this.#delete(keyOf(name));
  }

  /** A deep-enough copy for writes: attribute value arrays are copied, values (immutable) shared. */
  clone(dn: Dn = this.dn): Entry {
    return new Entry(dn, this.attributes());
  }

  #get(key: string): Attribute | undefined {
    if (this.map) return this.map.get(key);
    const i = this.keys.indexOf(key);
    return i < 0 ? undefined : this.list[i];
  }

  /** Replaces the attribute of `key` in its place, or adds it at the end. */
  #set(key: string, attribute: Attribute): void {
    const i = this.map ? -1 : this.keys.indexOf(key);
    if (i >= 0) this.list[i] = attribute;
    else this.#add(key, attribute);
  }

  /** Adds the attribute of a key the entry does not hold (or replaces it, once in a Map). */
  #add(key: string, attribute: Attribute): void {
    if (this.map) {
      this.map.set(key, attribute);
      return;
    }
    this.keys.push(key);
    this.list.push(attribute);
    if (this.keys.length > SCAN_LIMIT) {
      this.map = new Map(this.keys.map((k, j) => [k, this.list[j]]));
      this.keys = [];
      this.list = [];
    }
  }

  #delete(key: string): boolean {
    if (this.map) return this.map.delete(key);
    const i = this.keys.indexOf(key);
    if (i < 0) return false;
    this.keys.splice(i, 1);
    this.list.splice(i, 1);
    return true;
  }
}

/** Attributes an entry finds by scanning; more are kept in a Map. */
const SCAN_LIMIT = 32;

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
