import type { Entry } from '../../core/entry.js';
import { equalityKey, rulesFor, type AttributeRules } from '../../core/matching.js';
import { attributeType } from '../../core/schema.js';

const NONE: ReadonlySet<string> = new Set();

/**
 * An equality index on one attribute: normalised value → DN keys of the entries holding it, and a
 * sorted array of the normalised values (rebuilt lazily after writes) for `(attr=prefix*)`.
 * Candidates are a superset of the matches; the search re-checks the whole filter on each.
 */
export class AttributeIndex {
  readonly rules: AttributeRules;
  private readonly names: readonly string[];
  private readonly byKey = new Map<string, Set<string>>();
  private sorted: string[] | undefined;

  constructor(attribute: string) {
    const def = attributeType(attribute);
    this.names = def ? [def.name, ...(def.aliases ?? [])] : [attribute];
    this.rules = rulesFor(attribute);
  }

  /** Prefix lookups use the same folding as substring matching, which only string syntax shares with equality. */
  get supportsPrefix(): boolean {
    return this.rules.syntax === 'string' && !this.rules.exact;
  }

  add(entry: Entry, dnKey: string): void {
    for (const key of this.keysOf(entry)) {
      let set = this.byKey.get(key);
      if (!set) {
        set = new Set();
        this.byKey.set(key, set);
        this.sorted = undefined;
      }
      set.add(dnKey);
    }
  }

  remove(entry: Entry, dnKey: string): void {
    for (const key of this.keysOf(entry)) {
      const set = this.byKey.get(key);
      if (!set) continue;
      set.delete(dnKey);
      if (set.size === 0) {
        this.byKey.delete(key);
        this.sorted = undefined;
      }
    }
  }

  /** DN keys of entries with a value whose equality key is `key`. Callers must not modify the set. */
  equal(key: string): ReadonlySet<string> {
    return this.byKey.get(key) ?? NONE;
  }

  /** DN keys of entries with a value whose key starts with `prefix` (an already folded initial part). */
  prefix(prefix: string): ReadonlySet<string> {
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
      for (const dnKey of this.byKey.get(keys[i])!) out.add(dnKey);
    }
    return out;
  }

  private *keysOf(entry: Entry): Generator<string> {
    for (const name of this.names) {
      for (const v of entry.get(name)?.values ?? []) {
        const key = equalityKey(this.rules, v);
        if (key !== undefined) yield key;
      }
    }
  }
}
