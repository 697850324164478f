import { Dn } from '../../core/dn.js';
import type { ForestView } from './forest-view.js';
import type { NamespaceMap } from './namespace-map.js';

/**
 * DN values (manager, member, memberOf…) between a forest's names and the virtual ones. Only the
 * suffix is replaced; the rest keeps the spelling it came with, never re-escaped.
 */

/**
 * Anything that can make a DN's text differ from its normalised key other than by case: escapes,
 * quotes, hex values, `;` and `+` separators, whitespace other than single inner spaces, and the
 * one character whose lower case is longer (U+0130). DNs without any of these (nearly all values)
 * have their suffix found and replaced by string comparison instead of parsing: memberOf of a user
 * in many groups is rewritten once per entry of a sync.
 */
const NOT_PLAIN = /[\\"#;+\u0130]|[^\S ]| [ ,=]|[,=] |^ | $/;
const COMMA = 0x2c;

/** A DN value from `from` in virtual terms; values outside every base and unparsable ones are kept. */
export function dnValueToVirtual(map: NamespaceMap, from: ForestView, value: string): string {
  const fast = plainToVirtual(map.candidates(from), value);
  if (fast !== undefined) return fast;
  const dn = tryParse(value);
  if (!dn) return value;
  const mapped = map.toVirtual(dn, from);
  return mapped === dn ? value : mapped.text;
}

/** The string form of NamespaceMap.toVirtual for plain DNs; undefined when it cannot decide. */
function plainToVirtual(forests: readonly ForestView[], value: string): string | undefined {
  if (NOT_PLAIN.test(value)) return undefined;
  for (const f of forests) {
    const key = f.base.key;
    const head = value.length - key.length;
    if (key === '') return undefined;
    if (head < 0 || (head > 0 && value.charCodeAt(head - 1) !== COMMA)) continue;
    if (value.slice(head).toLowerCase() !== key) continue;
    if (f.mount.isRoot) return value.slice(0, Math.max(head - 1, 0));
    return value.slice(0, head) + f.mount.text;
  }
  return value;
}

/**
 * A virtual DN value in the terms of `forest`; undefined when it names an entry under another
 * forest's mount (it cannot be a value here). Values outside every mount are kept as sent.
 */
export function dnValueToUpstream(map: NamespaceMap, forest: ForestView, value: string): string | undefined {
  const dn = tryParse(value);
  if (!dn) return value;
  const target = map.toUpstream(dn);
  if (!target) return value;
  return target.forest === forest ? target.dn.text : undefined;
}

function tryParse(text: string): Dn | undefined {
  try {
    return Dn.parse(text);
  } catch {
    return undefined;
  }
}
