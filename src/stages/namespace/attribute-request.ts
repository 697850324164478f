import { attributeType, isOperational } from '../../core/schema.js';
import { DISABLED, UAC } from './account-disabled.js';
import { CANOPY_FOREST } from './filter-rewrite.js';
import type { ForestView } from './forest-view.js';

/**
 * A search's requested attribute list, both ways: the list sent to the forest (names mapped,
 * hidden and computed names removed, userAccountControl added for msDS-UserAccountDisabled), and
 * which attributes (virtual names) the client gets back, decided as RFC 4511 §4.5.1.8 with RFC 3673
 * decides it, so entries carry nothing the front end would drop anyway.
 */
export class AttributeRequest {
  private constructor(
    /** The list to send upstream. */
    readonly upstream: readonly string[],
    /** `msDS-UserAccountDisabled` asked for by name: computed from userAccountControl. */
    readonly wantsDisabled: boolean,
    /** `canopyForest` asked for by name or with `+`. */
    readonly wantsForest: boolean,
    private readonly allUser: boolean,
    private readonly allOperational: boolean,
    private readonly names: ReadonlySet<string>,
  ) {}

  static compile(view: ForestView, requested: readonly string[]): AttributeRequest {
    let allUser = requested.length === 0;
    let allOperational = false;
    const names = new Set<string>();
    const upstream = new Map<string, string>();
    for (const r of requested) {
      if (r === '*' || r === '+' || r === '1.1') {
        if (r === '*') allUser = true;
        if (r === '+') allOperational = true;
        upstream.set(r, r);
        continue;
      }
      names.add(canonical(withoutOptions(r)));
      const lower = r.toLowerCase();
      if (lower === CANOPY_FOREST) continue;
      const name = lower === DISABLED ? UAC : view.upstreamName(r);
      if (name !== undefined) upstream.set(name.toLowerCase(), name);
    }
    // An empty list asks for every user attribute: when the client named only hidden or computed
    // attributes, ask for none instead.
    const list = requested.length > 0 && upstream.size === 0 ? ['1.1'] : [...upstream.values()];
    const wantsForest = allOperational || names.has(CANOPY_FOREST);
    return new AttributeRequest(list, names.has(DISABLED), wantsForest, allUser, allOperational, names);
  }

  /** Whether the client gets an attribute of this virtual name (options ignored). */
  includes(virtualName: string): boolean {
    const bare = withoutOptions(virtualName);
    return (isOperational(bare) ? this.allOperational : this.allUser) || this.names.has(canonical(bare));
  }
}

function canonical(name: string): string {
  return (attributeType(name)?.name ?? name).toLowerCase();
}

function withoutOptions(name: string): string {
  const i = name.indexOf(';');
  return i < 0 ? name : name.slice(0, i);
}
