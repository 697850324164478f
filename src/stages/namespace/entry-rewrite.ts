import { SelectedEntry } from '../../core/attribute-selection.js';
import type { AttributeValue, Entry } from '../../core/entry.js';
import { attributeKey, syntaxOf } from '../../core/schema.js';
import { disabledValue } from './account-disabled.js';
import type { AttributeRequest } from './attribute-request.js';
import { dnValueToVirtual } from './dn-rewrite.js';
import type { ForestView } from './forest-view.js';
import type { NamespaceMap } from './namespace-map.js';
import { UPN, upnToVirtual } from './upn-rewrite.js';
import { EncodedAttribute } from '../../core/encoded-attribute.js';

/** How one attribute (by its upstream spelling) reaches the client. */
interface AttributePlan {
  readonly name: string;
  readonly values: 'copy' | 'dn' | 'upn';
}

/** Spellings remembered per rewriter: a forest's entries share a handful. */
const MAX_PLANS = 1024;

/**
 * Rewrites a forest's entries into virtual terms for one requested attribute list: DN, attribute
 * names, DN values, UPN suffixes; hidden and unrequested attributes left out;
 * msDS-UserAccountDisabled and canopyForest added when asked for. Decisions per attribute spelling
 * are made once per rewriter, which serves every search asking for the same list (NamespaceStage
 * keeps them), so the work per entry is a map lookup per attribute plus the values that really
 * change; the front end trusts the selection made here (SelectedEntry) instead of checking every
 * attribute again. Upstream entries are never modified (a memory forest shares its stored objects).
 */
export class EntryRewriter {
  private readonly plans = new Map<string, AttributePlan | null>();
  /** Mount and base differ only in spelling (or not at all): entry DNs stay as the forest spells them. */
  private readonly keepDn: boolean;

  constructor(
    private readonly map: NamespaceMap,
    private readonly view: ForestView,
    /** What the list asks for: the same for every search this rewriter serves. */
    readonly request: AttributeRequest,
  ) {
    this.keepDn = view.base.key === view.mount.key;
  }

  /**
   * `entry` in virtual terms, selected for `requested`: the very list of the search it is for,
   * which names the same attributes as the list this rewriter was made for (see SelectedEntry).
   */
  rewrite(entry: Entry, requested: readonly string[]): Entry {
    const dn = this.keepDn && entry.dn.isWithin(this.view.base) ? entry.dn : this.map.toVirtual(entry.dn, this.view);
    const out = new SelectedEntry(dn, requested);
    for (const a of entry.attributes()) {
      const plan = this.plan(a.name);
      if (plan === null) continue;
      if (plan.values !== 'copy') out.addValues(plan.name, this.values(plan.values, a.values));
      else if (a instanceof EncodedAttribute) out.put(a.named(plan.name));
      else out.addValues(plan.name, a.values);
    }
    if (this.request.wantsDisabled) {
      const disabled = disabledValue(entry);
      if (disabled !== undefined) out.set('msDS-UserAccountDisabled', [disabled]);
    }
    if (this.request.wantsForest) out.set('canopyForest', [this.view.name]);
    return out;
  }

  private values(kind: 'dn' | 'upn', values: readonly AttributeValue[]): AttributeValue[] {
    return values.map((v) => {
      if (typeof v !== 'string') return v;
      return kind === 'dn' ? dnValueToVirtual(this.map, this.view, v) : upnToVirtual(this.view, v);
    });
  }

  private plan(upstreamName: string): AttributePlan | null {
    let plan = this.plans.get(upstreamName);
    if (plan === undefined) {
      plan = this.decide(upstreamName);
      if (this.plans.size < MAX_PLANS) this.plans.set(upstreamName, plan);
    }
    return plan;
  }

  private decide(upstreamName: string): AttributePlan | null {
    const name = this.view.virtualName(upstreamName);
    if (name === undefined || !this.request.includes(name)) return null;
    if (syntaxOf(upstreamName) === 'binary') return { name, values: 'copy' };
    if (this.view.isDnValued(upstreamName) || this.view.isDnValued(name)) return { name, values: 'dn' };
    if (this.view.upnToVirtual.size > 0 && attributeKey(name) === UPN) return { name, values: 'upn' };
    return { name, values: 'copy' };
  }
}
