import type { AttributeValue, Entry } from '../../core/entry.js';
import { equalityKey, rulesFor, type AttributeRules } from '../../core/matching.js';
import { attributeType } from '../../core/schema.js';
import { StoredEntry } from './stored-entry.js';

const NONE: ReadonlySet<string> = new Set();
/** Entries an index keeps in an array for one value; beyond, in a set. */
const FEW = 8;

/**
 * An equality index on one attribute: normalised value → DN keys of the entries holding it, and a
 * sorted array of the normalised values (rebuilt lazily after writes) for `(attr=prefix*)`.
 * Candidates are a superset of the matches; the search re-checks the whole filter on each.
 */
export class AttributeIndex {
  readonly rules: AttributeRules;
  /** Whether keys are case-folded text, as for names and mail (see isFolded). */
  private readonly folds: boolean;
  private readonly name: string;
  /**
   * Most values (names, mail, GUIDs) are held by one entry: its DN key alone; a few entries (a
   * manager's reports) in an array; a set only beyond FEW, as a set costs several times an array.
   * A load (`addLoaded`) leaves longer arrays (an object class's holders): made a set when first
   * looked up or written, as a set's insertions would be most of the time indexing a large load.
   */
  private readonly byKey = new Map<string, string | string[] | Set<string>>();
  private sorted: string[] | undefined;
  /**
   * keysOf's values and keys, arrays reused and never shortened (an array whose length is set to
   * 0 lets go of its storage, allocated again by the next push: for every entry of a load):
   * `add` and `remove` use the keys before the next call.
   */
  private readonly values: AttributeValue[] = [];
  private readonly keys: string[] = [];
  private lastValue: AttributeValue | undefined;
  private readonly classKeys = new Map<string, string>();
  private lastKey: string | undefined;
  /**
   * The entries of a load, not indexed yet: indexed when the index is first read (see indexLater).
   * Writes meanwhile change nothing here, as the entries are read from the directory then.
   */
  private backlog: ((add: (entry: Entry, dnKey: string) => void) => void) | undefined;

  /**
   * `heldKey` gives the key of a value that names an entry as the directory spells its DN (a
   * group's member, a manager): the entry's own DN key string, rather than a key worked out (a
   * DN parsed) and held again for every value.
   */
  constructor(
    attribute: string,
    private readonly heldKey: (value: AttributeValue) => string | undefined = () => undefined,
  ) {
    const def = attributeType(attribute);
    // Lower case, as Entry.get looks names up: the lookups then copy no string per entry. One
    // name: Entry.get finds an attribute by any name of its type (its aliases would only repeat it).
    this.name = (def?.name ?? attribute).toLowerCase();
    this.rules = rulesFor(attribute);
    this.folds = this.rules.syntax === 'string' && !this.rules.exact;
  }

  /** Prefix lookups use the same folding as substring matching, which only string syntax shares with equality. */
  get supportsPrefix(): boolean {
    return this.folds;
  }

  /**
   * Indexes the entries `visit` gives when the index is first read, rather than now: a load then
   * builds no index a test's mock never asks (building all ten was a fifth of loading 100,000
   * users). `visit` must give the directory's entries as they are at that time, each once.
   */
  indexLater(visit: (add: (entry: Entry, dnKey: string) => void) => void): void {
    this.byKey.clear();
    this.sorted = undefined;
    this.backlog = visit;
  }

  add(entry: Entry, dnKey: string): void {
    if (this.backlog) return;
    const count = this.keysOf(entry);
    for (let i = 0; i < count; i++) {
      const key = this.keys[i];
      const held = this.byKey.get(key);
      if (held === undefined) {
        this.byKey.set(key, dnKey);
        this.sorted = undefined;
      } else if (typeof held === 'string') {
        if (held !== dnKey) this.byKey.set(key, [held, dnKey]);
      } else if (!Array.isArray(held)) {
        held.add(dnKey);
      } else if (!held.includes(dnKey)) {
        if (held.length < FEW) held.push(dnKey);
        else this.byKey.set(key, new Set([...held, dnKey]));
      }
    }
  }

  /**
   * `add` for a load, which adds each entry once and all of its keys together: an entry already
   * holding a key can only be the last in its array, so none is searched, and arrays grow past FEW.
   */
  addLoaded(entry: Entry, dnKey: string): void {
    const count = this.keysOf(entry);
    for (let i = 0; i < count; i++) {
      const key = this.keys[i];
      const held = this.byKey.get(key);
      if (held === undefined) this.byKey.set(key, dnKey);
      else if (typeof held === 'string') {
        if (held !== dnKey) this.byKey.set(key, [held, dnKey]);
      } else if (!Array.isArray(held)) held.add(dnKey);
      else if (held[held.length - 1] !== dnKey) held.push(dnKey);
    }
    this.sorted = undefined;
  }

  remove(entry: Entry, dnKey: string): void {
    if (this.backlog) return;
    const count = this.keysOf(entry);
    for (let i = 0; i < count; i++) {
      const key = this.keys[i];
      const held = this.byKey.get(key);
      if (held === undefined) continue;
      if (Array.isArray(held)) {
        const rest = held.filter((k) => k !== dnKey);
        this.byKey.set(key, rest.length === 1 ? rest[0] : rest);
        continue;
      }
      if (typeof held !== 'string') {
        held.delete(dnKey);
        // Back to the lean form; searches copy what `equal` gave them before the index changes.
        if (held.size === 1) this.byKey.set(key, held.values().next().value!);
        if (held.size > 0) continue;
      } else if (held !== dnKey) {
        continue;
      }
      this.byKey.delete(key);
      this.sorted = undefined;
    }
  }

  /** DN keys of entries with a value whose equality key is `key`. Callers must not modify the set. */
  equal(key: string): ReadonlySet<string> {
    this.build();
    const held = this.byKey.get(key);
    if (held === undefined) return NONE;
    if (typeof held === 'string') return new Set([held]);
    if (!Array.isArray(held)) return held;
    const set = new Set(held);
    // A load's long array: a set from now on, rather than one made at every lookup.
    if (held.length > FEW) this.byKey.set(key, set);
    return set;
  }

  /** DN keys of entries with a value whose key starts with `prefix` (an already folded initial part). */
  prefix(prefix: string): ReadonlySet<string> {
    this.build();
    const keys = (this.sorted ??= [...this.byKey.keys()].sort());
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out = new Set<string>();
    for (let i = lo; i < keys.length && keys[i].startsWith(prefix); i++) {
      const held = this.byKey.get(keys[i])!;
      if (typeof held === 'string') out.add(held);
      else for (const dnKey of held) out.add(dnKey);
    }
    return out;
  }

  /** Indexes the entries of a load left for later, if any. */
  private build(): void {
    const visit = this.backlog;
    if (visit === undefined) return;
    this.backlog = undefined;
    visit((entry, dnKey) => this.addLoaded(entry, dnKey));
  }

  /**
   * The equality key of a value, the last one's kept: entries share value strings (an AD
   * category's DN, object classes), and a DN's key would otherwise be parsed again for each.
   */
  private keyOf(value: AttributeValue): string | undefined {
    if (value !== this.lastValue) {
      this.lastValue = value;
      this.lastKey = this.folds && typeof value === 'string' && isFolded(value) ? value.toLowerCase() : this.classKey(value) ?? equalityKey(this.rules, value);
    }
    return this.lastKey;
  }

  /**
   * An object class's key, remembered by its text: every entry names a few of a few dozen classes,
   * each of whose keys is a schema lookup. Undefined for other syntaxes.
   */
  private classKey(value: AttributeValue): string | undefined {
    if (this.rules.syntax !== 'oid' || typeof value !== 'string') return undefined;
    let key = this.classKeys.get(value);
    if (key === undefined) {
      key = equalityKey(this.rules, value)!;
      if (this.classKeys.size >= 1024) this.classKeys.clear();
      this.classKeys.set(value, key);
    }
    return key;
  }

  /** Puts the keys of an entry's values first in `keys`; returns how many. */
  private keysOf(entry: Entry): number {
    // Stored entries give their values without an Attribute (and an array) per name: a load indexes every entry.
    const values = this.values;
    let count = 0;
    if (entry instanceof StoredEntry) count = entry.writeValues(this.name, values, 0);
    else for (const v of entry.get(this.name)?.values ?? []) values[count++] = v;
    const keys = this.keys;
    let found = 0;
    for (let i = 0; i < count; i++) {
      const key = this.heldKey(values[i]) ?? this.keyOf(values[i]);
      if (key !== undefined) keys[found++] = key;
    }
    // Not held past the call: a removed entry's values would stay in memory.
    values.fill(undefined as unknown as AttributeValue, 0, count);
    return found;
  }

}

/**
 * Whether text needs no more than lower case to be its equality key under case-ignore matching
 * (`normaliseDnValue` trims and folds runs of spaces): printable ASCII, single spaces between
 * words. Most names and addresses are; indexing a load then makes no other copy of each.
 */
function isFolded(text: string): boolean {
  const last = text.length - 1;
  for (let i = 0; i <= last; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) continue;
    if (c !== 0x20 || i === 0 || i === last || text.charCodeAt(i - 1) === 0x20) return false;
  }
  return true;
}
