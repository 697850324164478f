import type { Dn } from '../core/dn.js';
import { Entry } from '../core/entry.js';
import { attributeKey } from '../core/schema.js';

/** Structural object classes for a container named by its RDN's attribute type. */
const CLASSES: Record<string, string[]> = {
  dc: ['top', 'domain', 'dcObject'],
  ou: ['top', 'organizationalUnit'],
  o: ['top', 'organization'],
  c: ['top', 'country'],
  l: ['top', 'locality'],
};

/**
 * The entries no forest backs: the namespace suffix and every container between it and a mount,
 * so a directory browser can walk from the suffix down to each forest. Built once.
 */
export class SyntheticTree {
  private readonly entries = new Map<string, Entry>();
  private readonly children = new Map<string, Entry[]>();
  private readonly subtrees = new Map<string, readonly Entry[]>();

  constructor(suffix: Dn, mounts: readonly Dn[]) {
    this.add(suffix);
    for (const mount of mounts) {
      for (let dn = mount.parent(); dn && dn.isWithin(suffix) && !dn.equals(suffix); dn = dn.parent()) this.add(dn);
    }
    for (const e of this.entries.values()) {
      const parent = e.dn.parent();
      if (!parent || !this.entries.has(parent.key) || e.dn.equals(suffix)) continue;
      const list = this.children.get(parent.key) ?? [];
      list.push(e);
      this.children.set(parent.key, list);
    }
  }

  get(dn: Dn): Entry | undefined {
    return this.entries.get(dn.key);
  }

  /** Synthetic entries directly below `dn`. */
  childrenOf(dn: Dn): readonly Entry[] {
    return this.children.get(dn.key) ?? [];
  }

  /** Synthetic entries at or below `dn`, worked out once per entry (a search from the suffix asks each time). */
  subtree(dn: Dn): readonly Entry[] {
    let below = this.subtrees.get(dn.key);
    if (below === undefined) {
      below = [...this.entries.values()].filter((e) => e.dn.isWithin(dn));
      // Only the tree's own DNs are kept (searches reach here from one of them): a bounded map.
      if (this.entries.has(dn.key)) this.subtrees.set(dn.key, below);
    }
    return below;
  }

  private add(dn: Dn): void {
    if (this.entries.has(dn.key)) return;
    const rdn = dn.rdns[0];
    const entry = new Entry(dn);
    const type = attributeKey(rdn.avas[0].type);
    entry.set('objectClass', CLASSES[type] ?? ['top', 'container']);
    for (const ava of rdn.avas) entry.addValues(ava.type, [ava.value]);
    this.entries.set(dn.key, entry);
  }
}
