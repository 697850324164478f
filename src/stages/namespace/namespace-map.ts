import type { Dn } from '../../core/dn.js';
import type { ForestView } from './forest-view.js';

/** A virtual DN resolved to the forest whose mount holds it, in that forest's own terms. */
export interface UpstreamDn {
  readonly forest: ForestView;
  readonly dn: Dn;
}

/**
 * Where every forest sits in the virtual tree, for rewriting DNs between the forests' own names
 * and the virtual ones. A DN value may name an entry of another forest (a manager in another
 * forest), so rewriting looks at every forest, the entry's own first: two forests may share a base
 * (two OpenLDAP trees mounted apart), and then a value means the forest it came from.
 */
export class NamespaceMap {
  /** Per source forest: the forests to try for an upstream DN, itself first, deeper bases before shallower. */
  private readonly upstreamOrder = new Map<ForestView, readonly ForestView[]>();
  private readonly upnOwners = new Map<string, ForestView>();

  constructor(readonly forests: readonly ForestView[]) {
    const byDepth = [...forests].sort((a, b) => b.base.depth - a.base.depth);
    for (const f of forests) this.upstreamOrder.set(f, [f, ...byDepth.filter((o) => o !== f)]);
    for (const f of forests) for (const suffix of f.upnToUpstream.keys()) this.upnOwners.set(suffix, f);
  }

  /** The forests to try, in order, for a DN value that came from `from`. */
  candidates(from: ForestView): readonly ForestView[] {
    return this.upstreamOrder.get(from) ?? this.forests;
  }

  /** An upstream DN from `from` in virtual terms; a DN outside every base is returned unchanged. */
  toVirtual(dn: Dn, from: ForestView): Dn {
    for (const f of this.candidates(from)) if (dn.isWithin(f.base)) return dn.rebase(f.base, f.mount);
    return dn;
  }

  /** A virtual DN in the terms of the forest whose mount holds it; undefined outside every mount. */
  toUpstream(dn: Dn): UpstreamDn | undefined {
    // Mounts never overlap (the configuration refuses it), so at most one forest holds a DN.
    for (const forest of this.forests) if (dn.isWithin(forest.mount)) return { forest, dn: dn.rebase(forest.mount, forest.base) };
    return undefined;
  }

  /** The forest that maps a virtual UPN suffix (any case), if any does. */
  upnOwner(virtualSuffix: string): ForestView | undefined {
    return this.upnOwners.get(virtualSuffix.toLowerCase());
  }
}
