import { AttributeSelection } from '../../core/attribute-selection.js';
import { attributeKey, descriptionKey } from '../../core/schema.js';
import { DISABLED, UAC } from './account-disabled.js';
import { CANOPY_FOREST } from './filter-rewrite.js';
import type { ForestView } from './forest-view.js';

/**
 * A search's requested attribute list, both ways: the list sent to the forest (names mapped,
 * hidden and computed names removed, userAccountControl added for msDS-UserAccountDisabled), and
 * the selection of virtual names the client gets back — the front end's own rules, so entries carry
 * nothing it would drop and it need not check them again (SelectedEntry).
 */
export class AttributeRequest {
  private constructor(
    /** The list to send upstream. */
    readonly upstream: readonly string[],
    /** Which attributes (virtual names) the client gets back. */
    readonly selection: AttributeSelection,
    /** `msDS-UserAccountDisabled` asked for by name: computed from userAccountControl. */
    readonly wantsDisabled: boolean,
    /** `canopyForest` asked for by name or with `+` (it is operational). */
    readonly wantsForest: boolean,
  ) {}

  static compile(view: ForestView, requested: readonly string[]): AttributeRequest {
    const selection = AttributeSelection.compile(requested);
    const upstream = new Map<string, string>();
    for (const r of requested) {
      if (r === '*' || r === '+' || r === '1.1') {
        upstream.set(r, r);
        continue;
      }
      const type = attributeKey(r);
      if (type === CANOPY_FOREST) continue;
      // msDS-UserAccountDisabled is computed from userAccountControl (none where that is hidden).
      const name = type === DISABLED ? view.upstreamName(r) && UAC : view.upstreamName(r);
      if (name !== undefined) upstream.set(descriptionKey(name), name);
    }
    // An empty list asks for every user attribute: when the client named only hidden or computed
    // attributes, ask for none instead.
    const list = requested.length > 0 && upstream.size === 0 ? ['1.1'] : [...upstream.values()];
    const wantsDisabled = selection.named(DISABLED) && view.upstreamName(DISABLED) !== undefined;
    return new AttributeRequest(list, selection, wantsDisabled, selection.includes(CANOPY_FOREST));
  }

  /** Whether the client gets an attribute of this virtual name. */
  includes(virtualName: string): boolean {
    return this.selection.includes(virtualName);
  }
}
