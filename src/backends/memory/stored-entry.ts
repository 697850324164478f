import type { Dn } from '../../core/dn.js';
import { Entry, type Attribute, type AttributeValue } from '../../core/entry.js';
import { descriptionKey } from '../../core/schema.js';

/**
 * An entry as the memory directory holds it, read-only and compact: a large forest holds
 * hundreds of thousands, so an entry keeps one array with a slot per attribute (a single value
 * itself, several in a shared frozen array) and a Shape, shared by every entry with the same
 * attribute names in the same order, that says which slot holds which attribute. A plain Entry
 * holds a Map, and an object and an array per attribute: several times the memory of the values.
 *
 * It reads like any Entry (`get`, `has`, `attributes`, `clone`); writing one throws, as writes
 * replace stored entries (a search may be sending the old one): clone, change the clone, store it.
 */
export class StoredEntry extends Entry {
  private constructor(
    dn: Dn,
    private readonly shape: Shape,
    private readonly slots: readonly Slot[],
  ) {
    super(dn);
  }

  /** The entry in stored form (itself when it already is): attributes without values are left out. */
  static of(entry: Entry, dn: Dn = entry.dn): StoredEntry {
    if (entry instanceof StoredEntry && dn === entry.dn) return entry;
    let shape = Shape.root();
    const slots: Slot[] = [];
    for (const a of entry.attributes()) {
      if (a.values.length === 0) continue;
      shape = shape.with(a.name);
      slots.push(a.values.length === 1 ? a.values[0] : sharedValues(a.values));
    }
    return new StoredEntry(dn, shape, slots);
  }

  override get(name: string): Attribute | undefined {
    const i = this.shape.slotOf(name);
    return i === undefined ? undefined : { name: this.shape.names[i], values: valuesOf(this.slots[i]) };
  }

  override has(name: string): boolean {
    return this.shape.slotOf(name) !== undefined;
  }

  override *attributes(): IterableIterator<Attribute> {
    const { names } = this.shape;
    for (let i = 0; i < names.length; i++) yield { name: names[i], values: valuesOf(this.slots[i]) };
  }

  override addValues(): never {
    throw readOnly();
  }

  override set(): never {
    throw readOnly();
  }

  override delete(): never {
    throw readOnly();
  }

  /** A plain, writable Entry with the same attributes (values, immutable, are shared). */
  override clone(dn: Dn = this.dn): Entry {
    return new Entry(dn, this.attributes());
  }
}

/** One attribute's values: the value itself when there is one (most attributes), else a frozen array. */
type Slot = AttributeValue | readonly AttributeValue[];

/** Frozen, so that a consumer changing a stored entry's values in place fails loudly. */
function valuesOf(slot: Slot): AttributeValue[] {
  return (Array.isArray(slot) ? slot : Object.freeze([slot])) as AttributeValue[];
}

function readOnly(): TypeError {
  return new TypeError('a stored entry is read-only: change a clone() and store that');
}

/**
 * The attribute names of entries, in order, and the slot of each type key. Shapes form a tree
 * from an empty root, one step per name added, so entries loaded alike (the same attributes in the
 * same order, as LDIF exports write them) find the same shape without building a signature.
 */
class Shape {
  private static current = new Shape([], []);
  private static count = 0;
  /** Shapes made since the root was last replaced: bounded, as clients write entries too. */
  private static readonly MAX = 20_000;

  private readonly next = new Map<string, Shape>();
  private readonly slots: ReadonlyMap<string, number>;

  private constructor(
    /** Attribute names as the entries spell them. */
    readonly names: readonly string[],
    /** Their description keys (`descriptionKey`), which `get` looks attributes up by. */
    private readonly keys: readonly string[],
  ) {
    this.slots = new Map(keys.map((k, i) => [k, i]));
  }

  static root(): Shape {
    return Shape.current;
  }

  /** The slot of an attribute description (any name, alias or OID of the type, options kept apart). */
  slotOf(description: string): number | undefined {
    return this.slots.get(descriptionKey(description));
  }

  /** This shape with one more attribute (an Entry holds each description key once). */
  with(name: string): Shape {
    let shape = this.next.get(name);
    if (shape === undefined) {
      if (++Shape.count > Shape.MAX) {
        // Entries keep their shapes; only the tree that finds them starts again.
        Shape.count = 0;
        Shape.current = new Shape([], []);
      }
      shape = new Shape([...this.names, name], [...this.keys, descriptionKey(name)]);
      this.next.set(name, shape);
    }
    return shape;
  }
}

/**
 * Multi-valued attributes repeat across entries (objectClass, a user's groups): one frozen array
 * for each list of text values seen recently, rather than one per entry. Long lists (a group's
 * members) are rarely repeated and are kept as they are.
 */
const recentLists = new Map<string, readonly AttributeValue[]>();
const MAX_SHARED_VALUES = 16;
const MAX_RECENT_LISTS = 4096;

function sharedValues(values: readonly AttributeValue[]): readonly AttributeValue[] {
  if (values.length > MAX_SHARED_VALUES || values.some((v) => typeof v !== 'string')) return Object.freeze([...values]);
  const key = values.join('\0');
  let shared = recentLists.get(key);
  // Compared value by value: a value holding NUL could make two lists join alike.
  if (shared === undefined || shared.length !== values.length || shared.some((v, i) => v !== values[i])) {
    if (recentLists.size >= MAX_RECENT_LISTS) recentLists.clear();
    shared = Object.freeze([...values]);
    recentLists.set(key, shared);
  }
  return shared;
}
