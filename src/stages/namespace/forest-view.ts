import type { ForestConfig } from '../../config/schema.js';
import { Dn } from '../../core/dn.js';
import type { Filter } from '../../core/filter.js';
import { attributeKey, attributeType, keyKind, revealedTypes, testedTypes } from '../../core/schema.js';
import { parseFilterString } from '../../protocol/filter-codec.js';

/** DN-valued attributes rewritten whatever their schema says (DESIGN: "DN-valued attributes"). */
const DN_VALUED = ['manager', 'member', 'memberOf', 'directReports', 'distinguishedName', 'owner', 'seeAlso', 'managedBy', 'secretary'];

/**
 * The rewriting facts of one forest, compiled once from its configuration. Attributes are decided
 * by type (core/schema.ts `attributeKey`): `attributes.hide` and `attributes.map` cover every name,
 * alias and OID of the types they list, whatever the case; an option (`;binary`, `;range=0-1499`)
 * is kept and the name before it mapped.
 *
 * `attributes.map` is a rename: a virtual name replaces its upstream name. So the upstream name
 * of a mapping is not visible under its own spelling in the virtual tree (unless it is itself a
 * virtual name), and an upstream attribute spelled like a virtual name is shadowed by the mapping:
 * both are treated like hidden attributes, so no two upstream attributes land on one virtual name.
 *
 * A description Canopy cannot resolve (an unknown OID) may name a hidden type: where the forest
 * hides or maps anything it is hidden too; `attributes.unknown: hide` hides unknown names as well.
 */
export interface ForestView {
  readonly name: string;
  readonly mount: Dn;
  readonly base: Dn;
  /** Writes are refused (`readOnly: true`). */
  readonly readOnly: boolean;
  /** Virtual UPN suffix (lower case) → the forest's own suffix as configured. */
  readonly upnToUpstream: ReadonlyMap<string, string>;
  /** The forest's own UPN suffix (lower case) → its virtual suffix as configured. */
  readonly upnToVirtual: ReadonlyMap<string, string>;
  /** The forest's configured filter, in its own attribute names. */
  readonly filter?: Filter;
  /** A virtual attribute description as the forest spells it; undefined when hidden (or computed from a hidden one). */
  upstreamName(virtual: string): string | undefined;
  /**
   * A virtual attribute description as the forest spells it in an assertion (a filter, a compare);
   * undefined also when the forest would test a hidden type with it: a subtype (slapd matches
   * `(name=x)` against title, `(distinguishedName=x)` against member).
   */
  assertedName(virtual: string): string | undefined;
  /** An upstream attribute description as the virtual tree spells it; undefined when hidden. */
  virtualName(upstream: string): string | undefined;
  /** Whether values of the attribute (either side's name) are DNs to rewrite. */
  isDnValued(name: string): boolean;
  /** Whether some attribute of the forest's entries is not in the virtual tree (hidden or shadowed by a mapping). */
  readonly hidesAttributes: boolean;
}

export function compileForestView(config: ForestConfig): ForestView {
  const base = Dn.parse(config.base);
  const mount = Dn.parse(config.mount ?? config.base);

  // Type key → the other side's name as configured.
  const toUpstream = new Map<string, string>();
  const toVirtual = new Map<string, string>();
  for (const [virtual, upstream] of Object.entries(config.attributes.map)) {
    toUpstream.set(attributeKey(virtual), upstream);
    toVirtual.set(attributeKey(upstream), virtual);
  }
  const hidden = config.attributes.hide.map(attributeKey);
  const hiddenUpstream = new Set(hidden);
  // Upstream names of mappings are not virtual names, and virtual names are not upstream ones.
  const hiddenVirtual = new Set([...toVirtual.keys()].filter((k) => !toUpstream.has(k)));
  for (const k of toUpstream.keys()) if (!toVirtual.has(k)) hiddenUpstream.add(k);
  // A hidden virtual name of a mapping hides what it maps, too.
  for (const k of hidden) if (toUpstream.has(k)) hiddenUpstream.add(attributeKey(toUpstream.get(k)!));
  for (const [virtual, upstream] of toUpstream) if (hiddenUpstream.has(attributeKey(upstream))) hiddenVirtual.add(virtual);
  for (const k of hidden) if (!toVirtual.has(k) && !toUpstream.has(k)) hiddenVirtual.add(k);

  const hidesAnything = hiddenUpstream.size + hiddenVirtual.size > 0;
  const unknownHidden = unknownPolicy(config.attributes.unknown, hidesAnything);
  const isHidden = (set: ReadonlySet<string>) => (key: string) => set.has(key) || unknownHidden(key);

  const dnValued = new Set([...DN_VALUED, ...config.attributes.dnValued].map(attributeKey));
  for (const k of [...dnValued]) {
    const up = toUpstream.get(k);
    const vi = toVirtual.get(k);
    if (up) dnValued.add(attributeKey(up));
    if (vi) dnValued.add(attributeKey(vi));
  }

  const upnToUpstream = new Map<string, string>();
  const upnToVirtual = new Map<string, string>();
  for (const [virtual, upstream] of Object.entries(config.upnSuffixes)) {
    upnToUpstream.set(virtual.toLowerCase(), upstream);
    // Several virtual suffixes may share one upstream suffix: the first configured names it.
    if (!upnToVirtual.has(upstream.toLowerCase())) upnToVirtual.set(upstream.toLowerCase(), virtual);
  }

  const upstreamName = translator(toUpstream, isHidden(hiddenVirtual));
  // The types an assertion tests besides its own are known ones: hidden on either side by name.
  const testsHidden = (key: string): boolean => testedTypes(key).some((k) => hiddenVirtual.has(k) || hiddenUpstream.has(k));

  return {
    name: config.name,
    mount,
    base,
    readOnly: config.readOnly,
    upnToUpstream,
    upnToVirtual,
    ...(config.filter !== undefined ? { filter: parseFilterString(config.filter) } : {}),
    upstreamName,
    assertedName: (virtual) => (testsHidden(attributeKey(virtual)) ? undefined : upstreamName(virtual)),
    virtualName: translator(toVirtual, isHidden(hiddenUpstream)),
    hidesAttributes: hidesAnything || config.attributes.unknown === 'hide',
    isDnValued: (name) => dnValued.has(attributeKey(name)) || attributeType(name)?.syntax === 'dn',
  };
}

/** Which type keys Canopy's schema does not know are hidden. */
function unknownPolicy(policy: 'pass' | 'hide', hidesAnything: boolean): (key: string) => boolean {
  if (policy === 'hide') return (key) => keyKind(key) !== 'known';
  return hidesAnything ? (key) => keyKind(key) === 'unresolved' : () => false;
}

function translator(map: ReadonlyMap<string, string>, hidden: (key: string) => boolean): (name: string) => string | undefined {
  return (name) => {
    const key = attributeKey(name);
    if (hidden(key) || revealedTypes(key).some(hidden)) return undefined;
    const mapped = map.get(key);
    if (mapped === undefined) return name;
    const semicolon = name.indexOf(';');
    return semicolon < 0 ? mapped : mapped + name.slice(semicolon);
  };
}
