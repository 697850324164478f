import type { AccessRuleConfig } from '../../config/auth-schema.js';
import { Dn, looseRdnKey } from '../../core/dn.js';
import type { Scope } from '../../core/directory.js';
import type { Identity } from '../../core/identity.js';
import { attributeKey, keyKind, revealedTypes, testedTypes } from '../../core/schema.js';

/** What a rule grants; `write` includes `read`. */
export type Level = 'none' | 'read' | 'write';

const RANK: Record<Level, number> = { none: 0, read: 1, write: 2 };

export function allows(level: Level, wanted: Level): boolean {
  return RANK[level] >= RANK[wanted];
}

interface Rule {
  readonly who: (identity: Identity) => boolean;
  readonly base: Dn;
  readonly scope: 'base' | 'one' | 'subtree';
  /** Attribute type keys (any name, alias or OID of a type names it); undefined covers every attribute. */
  readonly attributes?: ReadonlySet<string>;
  readonly allow: Level;
}

/**
 * The configured access rules, compiled. A decision for an (entry, attribute) pair is the first
 * rule whose `who` matches the identity, whose region holds the entry and whose attribute list
 * (if any) holds the attribute; no match means no access. An entry is visible when the first rule
 * covering it that is not an attribute-limited refusal grants read.
 */
export class AccessPolicy {
  private readonly rules: readonly Rule[];

  constructor(config: readonly AccessRuleConfig[]) {
    this.rules = config.map((r) => ({
      who: compileWho(r.who),
      base: Dn.parse(r.what.dn),
      scope: r.what.scope,
      ...(r.what.attributes ? { attributes: new Set(r.what.attributes.map(attributeKey)) } : {}),
      allow: r.allow,
    }));
  }

  /**
   * Views by the rules they hold (viewKey): identities with the same rules share one, and what it
   * works out for a search region once serves every search of every one of them. At most 2^rules
   * keys, bounded anyway since rules may match on attributes of the identity.
   */
  private readonly views = new Map<string, AccessView>();

  /** The rules that apply to one identity. */
  view(identity: Identity): AccessView {
    const key = this.viewKey(identity);
    let view = this.views.get(key);
    if (view === undefined) {
      view = new AccessView(this.rules.filter((r) => r.who(identity)));
      if (this.views.size >= MAX_KEPT) this.views.clear();
      this.views.set(key, view);
    }
    return view;
  }

  /**
   * Which rules apply to an identity (their positions): identities with the same key get the same
   * view, so they may share cached results; identities with different keys never do.
   */
  viewKey(identity: Identity): string {
    let key = '';
    for (let i = 0; i < this.rules.length; i++) if (this.rules[i].who(identity)) key += `${i},`;
    return key;
  }
}

/** Views, and search regions of a view, kept at most (from clients: bounded). */
const MAX_KEPT = 256;

/**
 * Attributes a server computes from an entry's children, hidden ones included (slapd's and AD's
 * hasSubordinates, 389's numSubordinates, AD's msDS-Approx-Immed-Subordinates): withheld from an
 * entry some of whose children the identity may not see, and UNDEFINED in filters where the
 * region holds such an entry, or they would tell that a hidden child exists.
 */
export const SUBORDINATE_ATTRIBUTES: ReadonlySet<string> = new Set(['hasSubordinates', 'numSubordinates', 'msDS-Approx-Immed-Subordinates'].map(attributeKey));

export class AccessView {
  /** Whether some rule limits attributes: then readability can differ from entry to entry. */
  readonly attributeLimited: boolean;
  /**
   * Refusals of whole entries whose region stops above their descendants (scope base or one): an
   * entry they hide hides what lies below it too, since its DN names it (ExchangeActiveSyncDevices
   * below a hidden user). Refusals of subtrees cover their descendants themselves.
   */
  private readonly shallowRefusals: readonly Rule[];
  /** Regions worked out (region), by scope, then base key. */
  private readonly regions: Record<Scope, Map<string, RegionAccess>> = { base: new Map(), one: new Map(), sub: new Map() };

  constructor(private readonly rules: readonly Rule[]) {
    this.attributeLimited = rules.some((r) => r.attributes !== undefined);
    this.shallowRefusals = rules.filter((r) => r.scope !== 'subtree' && r.attributes === undefined && r.allow === 'none');
  }

  /** Whether some rule grants read anywhere. */
  get readsAnything(): boolean {
    return this.rules.some((r) => allows(r.allow, 'read'));
  }

  /**
   * The rules covering an entry, in order (the first deciding per attribute); for an entry below
   * one the rules hide, a refusal of everything (it is hidden with it).
   */
  covering(dn: Dn): EntryAccess {
    const own = this.ownRules(dn);
    return this.shallowRefusals.length === 0 || own.hidden || !this.belowHidden(dn) ? own : HIDDEN_ABOVE;
  }

  private ownRules(dn: Dn): EntryAccess {
    return new EntryAccess(this.rules.filter((r) => covers(r, dn)));
  }

  /** Whether an ancestor of `dn` is an entry the rules hide (one a shallow refusal covers, hidden by its own rules). */
  private belowHidden(dn: Dn): boolean {
    for (const r of this.shallowRefusals) {
      // The ancestor the refusal covers: its base (scope base), or the base's child on the way to dn (scope one).
      const depth = r.base.depth + (r.scope === 'one' ? 1 : 0);
      if (dn.depth <= depth || !dn.isWithin(r.base)) continue;
      const ancestor = Dn.fromRdns(dn.rdns.slice(dn.depth - depth));
      if (this.ownRules(ancestor).hidden) return true;
    }
    return false;
  }

  /**
   * Whether some rule may grant `level` on an entry in the search region `base`/`scope`: false
   * when a refusal covering the whole region comes before every grant.
   */
  reaches(base: Dn, scope: Scope, level: Level): boolean {
    for (const r of this.rules) {
      if (allows(r.allow, level)) {
        if (intersects(r, base, scope)) return true;
      } else if (r.attributes === undefined && (r.scope === 'subtree' || scope === 'base') && covers(r, base)) {
        return false;
      }
    }
    return false;
  }

  /**
   * Whether a rule names an entry this identity may not see whose name might be `dn`'s under
   * another spelling (looseRdnKey: the same parent, the same letters and digits): a write creating
   * `dn` is refused as for a missing entry whether or not that entry exists, where the forest's own
   * comparison of names, not Canopy's, decides what `dn` names.
   */
  hidesNamesake(dn: Dn): boolean {
    const parent = dn.parent();
    const rdn = dn.firstRdn;
    if (!parent || !rdn) return false;
    const loose = looseRdnKey(rdn);
    return this.rules.some(
      (r) => r.base.parent()?.equals(parent) === true && r.base.firstRdn !== undefined && looseRdnKey(r.base.firstRdn) === loose && !allows(this.covering(r.base).entry, 'read'),
    );
  }

  /** Whether every child `dn` may have is visible: then what the forest says of its children (SUBORDINATE_ATTRIBUTES) may be shown. */
  showsChildren(dn: Dn): boolean {
    return this.region(dn, 'one').seesEverything;
  }

  /** The decisions for every kind of entry the search region `base`/`scope` can hold (see places). */
  region(base: Dn, scope: Scope): RegionAccess {
    // Applications search the same few bases over and over; working a region out makes DNs.
    const regions = this.regions[scope];
    let region = regions.get(base.key);
    if (region === undefined) {
      region = new RegionAccess(this.places(base, scope).map((dn) => this.covering(dn)));
      if (regions.size >= MAX_KEPT) regions.clear();
      regions.set(base.key, region);
    }
    return region;
  }

  /**
   * Whether moving the subtree at `from` to `to` (a rename or a move: the entries below go along)
   * leaves what the identity may do on every entry of it as it was, or could only take rights
   * away: each kind of entry, of either subtree, is covered by the same rules at both places, or
   * the identity may write every attribute of it where it is now (it could have copied it anyway).
   * Rules name DNs, so otherwise a move would take entries out of rules that protect them.
   */
  keepsDecisions(from: Dn, to: Dn): boolean {
    const unchanged = (before: Dn, after: Dn): boolean => {
      const was = this.covering(before);
      return was.writesEvery || was.sameRules(this.covering(after));
    };
    return this.places(from, 'sub').every((p) => unchanged(p, p.rebase(from, to))) && this.places(to, 'sub').every((p) => unchanged(p.rebase(to, from), p));
  }

  /**
   * One place for every kind of entry the region `base`/`scope` can hold. Which rules cover an
   * entry depends only on where it lies relative to the rules' bases: each entry of the region is
   * covered like one of these — the region's base or a rule's base inside it, or a child or a
   * deeper descendant of one that is no rule's base itself.
   */
  private places(base: Dn, scope: Scope): Dn[] {
    const places: Dn[] = [];
    const add = (dn: Dn): void => {
      if (scope === 'base' ? dn.equals(base) : scope === 'one' ? dn.parent()?.equals(base) === true : dn.isWithin(base)) places.push(dn);
    };
    const bases = new Map<string, Dn>([[base.key, base]]);
    for (const r of this.rules) if (r.base.isWithin(base)) bases.set(r.base.key, r.base);
    for (const b of bases.values()) {
      const child = b.child(UNNAMED);
      add(b);
      add(child);
      add(child.child(UNNAMED));
    }
    return places;
  }
}

/** An RDN no rule names (its type is no attribute type): a place that stands for every unnamed child. */
const UNNAMED = '1.3.6.1.4.1.99999.3.0=unnamed';

/**
 * What the identity may assert on in a search region. A forest evaluates a filter on each entry
 * with every value the entry holds, so an assertion is kept only where its answer reveals nothing
 * on any entry the identity may see there; elsewhere it is UNDEFINED, even on entries where the
 * identity could read the attribute (the client can search the part where it may, for those).
 */
export class RegionAccess {
  private readonly visible: readonly EntryAccess[];

  constructor(private readonly places: readonly EntryAccess[]) {
    this.visible = places.filter((a) => allows(a.entry, 'read'));
  }

  /** Whether every entry of the region is visible. */
  get seesEverything(): boolean {
    return this.visible.length === this.places.length;
  }

  /**
   * Whether every entry of the region may be written as a whole: a delete refused for a child the
   * identity may not write (or see) would tell that the child exists, so it is refused first.
   */
  get writesEverything(): boolean {
    return this.places.every((a) => allows(a.whole, 'write'));
  }

  /** Whether every visible entry of the region may be searched on `attribute` (its subtypes and what it reveals included). */
  asserts(attribute: string): boolean {
    return this.visible.every((a) => allows(a.assertion(attribute), 'read'));
  }

  /** Whether every attribute of every visible entry may be searched (an extensible match naming no attribute tests them all). */
  get assertsEvery(): boolean {
    return this.visible.every((a) => a.readsEvery);
  }

  /** Whether the identity reads every attribute of every entry of the region (what a walk through its entries needs). */
  get readsEverything(): boolean {
    return this.seesEverything && this.assertsEvery;
  }
}

/** The decisions for one entry. */
export class EntryAccess {
  constructor(private readonly rules: readonly Rule[]) {}

  get entry(): Level {
    return this.entryRule?.allow ?? 'none';
  }

  /** Whether a rule hides the entry (rather than no rule covering it at all): what lies below it is hidden with it. */
  get hidden(): boolean {
    return this.entryRule?.allow === 'none';
  }

  /** The rule deciding whether the entry is visible: the first that is not an attribute-limited refusal. */
  private get entryRule(): Rule | undefined {
    return this.rules.find((r) => r.attributes === undefined || r.allow !== 'none');
  }

  /**
   * The level of the entry as a whole: the first covering rule without an attribute list. Adding,
   * deleting and renaming an entry change all of it, so a grant limited to some attributes (a
   * provisioning account's phone numbers) does not allow them.
   */
  get whole(): Level {
    return this.rules.find((r) => r.attributes === undefined)?.allow ?? 'none';
  }

  /** True when every attribute gets the entry's level (the first covering rule has no attribute list). */
  get uniform(): boolean {
    return this.rules.length === 0 || this.rules[0].attributes === undefined;
  }

  /** Whether every attribute of the entry is readable: no refusal comes before a read grant without an attribute list. */
  get readsEvery(): boolean {
    return this.grantsEvery('read');
  }

  /** Whether every attribute of the entry is writable. */
  get writesEvery(): boolean {
    return this.grantsEvery('write');
  }

  /** Whether the rules deciding on this entry are those deciding on `other`: the same decisions. */
  sameRules(other: EntryAccess): boolean {
    return this.rules.length === other.rules.length && this.rules.every((r, i) => r === other.rules[i]);
  }

  private grantsEvery(level: Level): boolean {
    for (const r of this.rules) {
      if (!allows(r.allow, level)) return false;
      if (r.attributes === undefined) return true;
    }
    return false;
  }

  /**
   * The level of an attribute's values: the type's own, and no more than that of the types its
   * values reveal. A description Canopy cannot resolve (an unknown OID) may name any type: it gets
   * the lowest level any attribute of the entry has.
   */
  attribute(name: string): Level {
    const key = attributeKey(name);
    if (keyKind(key) === 'unresolved') return this.lowest;
    return lower(this.level(key), revealedTypes(key), (k) => this.level(k));
  }

  /** The level of an assertion on an attribute (a filter, a compare): it also tests the subtypes. */
  assertion(name: string): Level {
    const key = attributeKey(name);
    if (keyKind(key) === 'unresolved') return this.lowest;
    return lower(this.attribute(key), testedTypes(key), (k) => this.attribute(k));
  }

  private level(key: string): Level {
    return this.rules.find((r) => r.attributes?.has(key) ?? true)?.allow ?? 'none';
  }

  /** The lowest level of any attribute: the rules up to the first without an attribute list decide one type or another. */
  private get lowest(): Level {
    let level: Level = 'write';
    for (const r of this.rules) {
      if (RANK[r.allow] < RANK[level]) level = r.allow;
      if (r.attributes === undefined) return level;
    }
    return 'none';
  }
}

/** The lowest of `level` and the levels of `keys`. */
function lower(level: Level, keys: readonly string[], of: (key: string) => Level): Level {
  for (const k of keys) {
    const other = of(k);
    if (RANK[other] < RANK[level]) level = other;
  }
  return level;
}

function compileWho(who: string): (identity: Identity) => boolean {
  switch (who) {
    case '*':
      return () => true;
    case 'anonymous':
      return (i) => i.kind === 'anonymous';
    case 'authenticated':
      return (i) => i.kind !== 'anonymous';
    default: {
      const dn = Dn.parse(who);
      return (i) => i.kind !== 'anonymous' && i.dn?.equals(dn) === true;
    }
  }
}

function covers(rule: Rule, dn: Dn): boolean {
  switch (rule.scope) {
    case 'base':
      return dn.equals(rule.base);
    case 'one':
      return dn.parent()?.equals(rule.base) === true;
    case 'subtree':
      return dn.isWithin(rule.base);
  }
}

/** Whether the rule's region and a search region share an entry. */
function intersects(rule: Rule, base: Dn, scope: Scope): boolean {
  if (scope !== 'one' && covers(rule, base)) return true;
  if (scope === 'base') return false;
  // Entries strictly below the search base.
  if (base.isWithin(rule.base)) {
    if (rule.scope === 'subtree') return true;
    return rule.scope === 'one' && base.equals(rule.base);
  }
  if (!rule.base.isWithin(base)) return false;
  if (scope === 'sub') return true;
  // scope one: only the search base's children.
  return rule.base.parent()?.equals(base) === true && rule.scope !== 'one';
}

/** What decides on an entry below one the rules hide: nothing may be done with it, as with its hidden ancestor. */
const HIDDEN_ABOVE = new EntryAccess([{ who: () => true, base: Dn.root, scope: 'subtree', allow: 'none' }]);
