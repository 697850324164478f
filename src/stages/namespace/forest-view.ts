import type { ForestConfig } from '../../config/schema.js';
import { Dn } from '../../core/dn.js';
import type { Filter } from '../../core/filter.js';
import { syntaxOf } from '../../core/schema.js';
import { parseFilterString } from '../../protocol/filter-codec.js';

/** DN-valued attributes rewritten whatever their schema says (DESIGN: "DN-valued attributes"). */
const DN_VALUED = ['manager', 'member', 'memberOf', 'directReports', 'distinguishedName', 'owner', 'seeAlso', 'managedBy', 'secretary'];

/**
 * The rewriting facts of one forest, compiled once from its configuration. Names are looked up
 * case-insensitively; an attribute option (`;binary`, `;range=0-1499`) is kept and the name
 * before it mapped.
 *
 * `attributes.map` is a rename: a virtual name replaces its upstream name. So the upstream name
 * of a mapping is not visible under its own spelling in the virtual tree (unless it is itself a
 * virtual name), and an upstream attribute spelled like a virtual name is shadowed by the mapping:
 * both are treated like hidden attributes, so no two upstream attributes land on one virtual name.
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
  /** A virtual attribute name as the forest spells it; undefined when hidden. */
  upstreamName(virtual: string): string | undefined;
  /** An upstream attribute name as the virtual tree spells it; undefined when hidden. */
  virtualName(upstream: string): string | undefined;
  /** Whether values of the attribute (either side's name) are DNs to rewrite. */
  isDnValued(name: string): boolean;
  /** Whether some attribute of the forest's entries is not in the virtual tree (hidden or shadowed by a mapping). */
  readonly hidesAttributes: boolean;
}

export function compileForestView(config: ForestConfig): ForestView {
  const base = Dn.parse(config.base);
  const mount = Dn.parse(config.mount ?? config.base);

  const toUpstream = new Map<string, string>();
  const toVirtual = new Map<string, string>();
  for (const [virtual, upstream] of Object.entries(config.attributes.map)) {
    toUpstream.set(virtual.toLowerCase(), upstream);
    toVirtual.set(upstream.toLowerCase(), virtual);
  }
  const hiddenUpstream = new Set(config.attributes.hide.map((n) => n.toLowerCase()));
  // Upstream names of mappings are not virtual names, and virtual names are not upstream ones.
  const hiddenVirtual = new Set([...toVirtual.keys()].filter((n) => !toUpstream.has(n)));
  for (const n of toUpstream.keys()) if (!toVirtual.has(n)) hiddenUpstream.add(n);
  for (const [virtual, upstream] of toUpstream) if (hiddenUpstream.has(upstream.toLowerCase())) hiddenVirtual.add(virtual);
  for (const n of config.attributes.hide) {
    const lower = n.toLowerCase();
    if (!toVirtual.has(lower) && !toUpstream.has(lower)) hiddenVirtual.add(lower);
  }

  const dnValued = new Set([...DN_VALUED, ...config.attributes.dnValued].map((n) => n.toLowerCase()));
  for (const n of [...dnValued]) {
    const up = toUpstream.get(n);
    const vi = toVirtual.get(n);
    if (up) dnValued.add(up.toLowerCase());
    if (vi) dnValued.add(vi.toLowerCase());
  }

  const upnToUpstream = new Map<string, string>();
  const upnToVirtual = new Map<string, string>();
  for (const [virtual, upstream] of Object.entries(config.upnSuffixes)) {
    upnToUpstream.set(virtual.toLowerCase(), upstream);
    // Several virtual suffixes may share one upstream suffix: the first configured names it.
    if (!upnToVirtual.has(upstream.toLowerCase())) upnToVirtual.set(upstream.toLowerCase(), virtual);
  }

  return {
    name: config.name,
    mount,
    base,
    readOnly: config.readOnly,
    upnToUpstream,
    upnToVirtual,
    ...(config.filter !== undefined ? { filter: parseFilterString(config.filter) } : {}),
    upstreamName: (virtual) => translate(virtual, toUpstream, hiddenVirtual),
    virtualName: (upstream) => translate(upstream, toVirtual, hiddenUpstream),
    hidesAttributes: hiddenUpstream.size > 0,
    isDnValued: (name) => {
      const bare = baseName(name);
      return dnValued.has(bare.toLowerCase()) || syntaxOf(bare) === 'dn';
    },
  };
}

function baseName(name: string): string {
  const i = name.indexOf(';');
  return i < 0 ? name : name.slice(0, i);
}

function translate(name: string, map: ReadonlyMap<string, string>, hidden: ReadonlySet<string>): string | undefined {
  const bare = baseName(name);
  const lower = bare.toLowerCase();
  if (hidden.has(lower)) return undefined;
  const mapped = map.get(lower);
  if (mapped === undefined) return name;
  return bare.length === name.length ? mapped : mapped + name.slice(bare.length);
}
