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
  // Set by `make`, which runs no constructor.
  private declare readonly shape: Shape;
  private declare readonly slots: readonly Slot[];

  /** Never called: stored entries are made by `of` and `from`. */
  private constructor(dn: Dn) {
    super(dn);
  }

  /** The entry in stored form (itself when it already is): attributes without values are left out. */
  static of(entry: Entry, dn: Dn = entry.dn): StoredEntry {
    return entry instanceof StoredEntry && dn === entry.dn ? entry : StoredEntry.from(dn, entry.attributes());
  }

  /** An entry of these attributes (each description once, as an Entry holds them), those without values left out. */
  static from(dn: Dn, attributes: Iterable<Attribute>): StoredEntry {
    const list = Array.isArray(attributes) ? (attributes as readonly Attribute[]) : [...attributes];
    return StoredEntry.fromList(dn, list, list.length);
  }

  /**
   * `from` the first `count` attributes of a list (a parser's, reused for the next record: none of
   * its arrays is kept), with `sizes[i]` values of attribute i when given (its array may hold more),
   * and `room` empty slots after them for attributes a load adds (see `withAttributes`).
   */
  static fromList(dn: Dn, list: readonly Attribute[], count: number, sizes?: readonly number[], room = 0): StoredEntry {
    let held = 0;
    for (let i = 0; i < count; i++) if ((sizes ? sizes[i] : list[i].values.length) > 0) held++;
    // Sized once: an array grown by push keeps room for more, in each of a forest's entries.
    const slots = new Array<Slot>(held + room);
    let shape = Shape.root();
    let next = 0;
    for (let i = 0; i < count; i++) {
      const a = list[i];
      const size = sizes ? sizes[i] : a.values.length;
      if (size === 0) continue;
      let bytes = true;
      for (let j = 0; j < size && bytes; j++) bytes = typeof a.values[j] !== 'string';
      shape = shape.with(a.name, bytes);
      // Bytes (GUIDs, SIDs) as one-byte strings: a Buffer object costs several times its bytes.
      if (size === 1) slots[next++] = bytes ? (a.values[0] as Buffer).toString('latin1') : a.values[0];
      else {
        const values = size === a.values.length ? a.values : a.values.slice(0, size);
        slots[next++] = sharedValues(bytes ? values.map((v) => (v as Buffer).toString('latin1')) : values);
      }
    }
    return make(dn, shape, slots);
  }

  /**
   * This entry under `dn` with attributes set as `Entry.set` sets them (replaced under the name the
   * entry spells, added at the end, removed when given no values): how a load completes entries
   * (timestamps, back links) without a writable copy of each. Slots and shapes are reused. The
   * first `count` of `set` when given (a load reuses one list).
   *
   * An entry the LDIF parser made with room (empty slots) for what is added is completed in place
   * and returned: until its load has run, the parser's entry belongs to that load alone, and a
   * large load would otherwise make every entry and its slots twice. Room left over is then given
   * back, so that an entry is completed in place at most once; any other entry is copied.
   */
  withAttributes(dn: Dn, set: readonly Attribute[], count = set.length): StoredEntry {
    let added = 0;
    for (let k = 0; k < count; k++) {
      const a = set[k];
      const i = this.shape.slotOf(a.name);
      if (i === undefined && a.values.length === 0) continue;
      // Removing a slot, bytes: rare, done through a writable copy.
      if (a.values.length === 0 || (i !== undefined && this.shape.bytes[i]) || a.values.some((v) => typeof v !== 'string')) {
        const plain = this.clone(dn);
        for (let b = 0; b < count; b++) plain.set(set[b].name, set[b].values);
        return StoredEntry.from(dn, plain.attributes());
      }
      if (i === undefined) added++;
    }
    const used = this.shape.names.length;
    const room = this.slots.length - used;
    const inPlace = room > 0 && room >= added;
    // Sized once: an array grown by push keeps room for more, in each of a forest's entries.
    const slots = inPlace ? (this.slots as Slot[]) : new Array<Slot>(used + added);
    if (!inPlace) for (let i = 0; i < used; i++) slots[i] = this.slots[i];
    let shape = this.shape;
    let next = used;
    for (let k = 0; k < count; k++) {
      const a = set[k];
      if (a.values.length === 0) continue;
      const slot = a.values.length === 1 ? a.values[0] : sharedValues(a.values);
      const i = shape.slotOf(a.name);
      if (i !== undefined) slots[i] = slot;
      else {
        shape = shape.with(a.name, false);
        slots[next++] = slot;
      }
    }
    if (!inPlace) return make(dn, shape, slots);
    // Shortened in place (V8 trims the array's storage without copying it).
    slots.length = next;
    const self = this as unknown as { dn: Dn; shape: Shape };
    self.dn = dn;
    self.shape = shape;
    // Its attributes listed before (see attributeList) are no longer its attributes.
    const listed = recentEntries.indexOf(this);
    if (listed >= 0) recentEntries[listed] = undefined;
    return this;
  }

  /** The attribute names in order, as the entry spells them (without making each Attribute). */
  get attributeNames(): readonly string[] {
    return this.shape.names;
  }

  /**
   * Writes an attribute's values (bytes as Buffers) into `out` from `at` on, without making its
   * Attribute, and returns where they end: for indexing many entries into one reused array.
   */
  writeValues(name: string, out: AttributeValue[], at: number): number {
    const i = this.shape.slotOf(name);
    if (i === undefined) return at;
    const slot = this.slots[i];
    const bytes = this.shape.bytes[i];
    if (!Array.isArray(slot)) out[at++] = bytes ? fromLatin1(slot as string) : (slot as AttributeValue);
    else for (const v of slot as readonly AttributeValue[]) out[at++] = bytes ? fromLatin1(v) : v;
    return at;
  }

  override get(name: string): Attribute | undefined {
    const i = this.shape.slotOf(name);
    return i === undefined ? undefined : this.attribute(i);
  }

  override has(name: string): boolean {
    return this.shape.slotOf(name) !== undefined;
  }

  /** The most values any one attribute holds, counted without making the attributes (AD's ranged retrieval asks per entry sent). */
  mostValues(): number {
    let most = 0;
    // Up to the shape's names: a parsed entry not yet completed has empty slots after them.
    for (let i = 0; i < this.shape.names.length; i++) {
      const slot = this.slots[i];
      most = Math.max(most, Array.isArray(slot) ? slot.length : 1);
    }
    return most;
  }

  override attributes(): IterableIterator<Attribute> {
    return this.attributeList().values();
  }

  /**
   * Every attribute, made once for the entries read most recently: a search's stages (access,
   * rewriting, encoding) each go through the attributes of the entry being sent, which would make
   * an Attribute and an array for every attribute each time. Frozen, as the entry's values are.
   */
  private attributeList(): readonly Attribute[] {
    const at = recentEntries.indexOf(this);
    if (at >= 0) return recentAttributes[at]!;
    const list: Attribute[] = new Array<Attribute>(this.shape.names.length);
    for (let i = 0; i < list.length; i++) list[i] = Object.freeze(this.attribute(i));
    recentEntries[nextRecent] = this;
    recentAttributes[nextRecent] = Object.freeze(list);
    nextRecent = (nextRecent + 1) % RECENT;
    return list;
  }

  private attribute(i: number): Attribute {
    const slot = this.slots[i];
    const shape = this.shape;
    if (!shape.bytes[i]) return { name: shape.names[i], values: frozen(slot) };
    const values = Array.isArray(slot) ? slot.map(fromLatin1) : [fromLatin1(slot as string)];
    return { name: shape.names[i], values: Object.freeze(values) as AttributeValue[] };
  }

  override addValues(name: string, _values?: readonly AttributeValue[]): never {
    throw readOnly(name);
  }

  override put(attribute: Attribute): never {
    throw readOnly(attribute.name);
  }

  override set(name: string, _values?: readonly AttributeValue[]): never {
    throw readOnly(name);
  }

  override delete(name: string): never {
    throw readOnly(name);
  }

  /** A plain, writable Entry with the same attributes (values, immutable, are shared). */
  override clone(dn: Dn = this.dn): Entry {
    return new Entry(dn, this.attributes());
  }
}

/** The entries whose attributes were listed last, and their lists (see attributeList): a ring. */
const RECENT = 16;
const recentEntries: (StoredEntry | undefined)[] = new Array<StoredEntry | undefined>(RECENT).fill(undefined);
const recentAttributes: (readonly Attribute[] | undefined)[] = new Array<readonly Attribute[] | undefined>(RECENT).fill(undefined);
let nextRecent = 0;

/** One attribute's values: the value itself when there is one (most attributes), else a frozen array. */
type Slot = AttributeValue | readonly AttributeValue[];

/**
 * A stored entry without running Entry's constructor, which gives every entry a Map of its
 * attributes: a stored entry keeps them in its slots and overrides every method that reads the
 * Map (a unit test checks that it overrides them all), so the Map would only cost memory.
 */
function make(dn: Dn, shape: Shape, slots: readonly Slot[]): StoredEntry {
  return Object.assign(Object.create(StoredEntry.prototype) as StoredEntry, { dn, shape, slots });
}

/** Frozen, so that a consumer changing a stored entry's values in place fails loudly. */
function frozen(slot: Slot): AttributeValue[] {
  return (Array.isArray(slot) ? slot : Object.freeze([slot])) as AttributeValue[];
}

function fromLatin1(value: AttributeValue): Buffer {
  return Buffer.from(value as string, 'latin1');
}

function readOnly(name: string): TypeError {
  return new TypeError(`a stored entry is read-only (writing "${name}"): change a clone() and store that`);
}

/**
 * The attribute names of entries, in order, and the slot of each type key. Shapes form a tree
 * from an empty root, one step per name added, so entries loaded alike (the same attributes in the
 * same order, as LDIF exports write them) find the same shape without building a signature.
 */
class Shape {
  private static current = new Shape([], [], []);
  /** Shapes made since the root was last replaced, at most MAX: clients write entries of any shape too. */
  private static count = 0;
  private static readonly MAX = 20_000;

  /** The shapes with one more attribute, by its name, holding text and holding bytes. */
  private readonly next = new Map<string, Shape>();
  private readonly nextBytes = new Map<string, Shape>();
  private readonly slots: ReadonlyMap<string, number>;

  private constructor(
    /** Attribute names as the entries spell them. */
    readonly names: readonly string[],
    /** Their description keys (`descriptionKey`), which `get` looks attributes up by. */
    private readonly keys: readonly string[],
    /** Whether each attribute's values are bytes, held as one-byte strings. */
    readonly bytes: readonly boolean[],
  ) {
    this.slots = new Map(keys.map((k, i) => [k, i]));
  }

  static root(): Shape {
    return Shape.current;
  }

  /** The description `slotOf` was asked last and its answer: an index or a filter asks every entry (most of one shape) the same. */
  private lastAsked: string | undefined;
  private lastSlot: number | undefined;

  /** The slot of an attribute description (any name, alias or OID of the type, options kept apart). */
  slotOf(description: string): number | undefined {
    if (description === this.lastAsked) return this.lastSlot;
    const slot = this.slots.get(descriptionKey(description));
    this.lastAsked = description;
    this.lastSlot = slot;
    return slot;
  }

  /** The shape `with` gave last, and for which name and kind: entries loaded alike take the same step again and again. */
  private lastName: string | undefined;
  private lastBytes = false;
  private last: Shape | undefined;

  /** This shape with one more attribute (an Entry holds each description key once). */
  with(name: string, bytes: boolean): Shape {
    if (name === this.lastName && bytes === this.lastBytes) return this.last!;
    const shape = this.step(name, bytes);
    this.lastName = name;
    this.lastBytes = bytes;
    this.last = shape;
    return shape;
  }

  private step(name: string, bytes: boolean): Shape {
    const next = bytes ? this.nextBytes : this.next;
    let shape = next.get(name);
    if (shape === undefined) {
      if (++Shape.count > Shape.MAX) {
        // Entries keep their shapes; only the tree that finds them starts again.
        Shape.count = 0;
        Shape.current = new Shape([], [], []);
      }
      shape = new Shape([...this.names, name], [...this.keys, descriptionKey(name)], [...this.bytes, bytes]);
      next.set(name, shape);
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
