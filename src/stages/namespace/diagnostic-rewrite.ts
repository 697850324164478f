import type { ForestView } from './forest-view.js';

/** Per forest, built on its first error: where its base ends a DN in a message. */
const patterns = new WeakMap<ForestView, RegExp | null>();

/**
 * A forest's diagnostic message with the DNs it names in the virtual tree: slapd and Active
 * Directory name entries in their texts (`best match of: 'DC=avvid,DC=info'`, a unique overlay's
 * filter), the memory directory names the missing entry. Wherever the forest's base ends a DN
 * (case-insensitive, as configured or normalised), the mount replaces it. Only errors pass here.
 */
export function messageToVirtual(view: ForestView, message: string): string {
  if (message === '') return message;
  const pattern = patternOf(view);
  if (pattern === null) return message;
  const mount = view.mount;
  // Under a root mount the base and the comma before it go: `CN=x,DC=avvid,DC=info` → `CN=x`.
  return message.replace(pattern, (_, comma: string) => (mount.isRoot ? '' : comma + mount.text));
}

function patternOf(view: ForestView): RegExp | null {
  let pattern = patterns.get(view);
  if (pattern === undefined) {
    // Mount and base that differ only in spelling name the same entries: nothing to rewrite.
    const spellings = new Set([view.base.text.toLowerCase(), view.base.key]);
    pattern =
      view.base.isRoot || view.base.key === view.mount.key
        ? null
        : // Not inside a longer attribute type or value (`XDC=`, `DC=info2`, `…\,DC=`), not followed by more RDNs.
          new RegExp(`(,?)(?<![\\w-])(?<!\\\\,)(?:${[...spellings].map(escape).join('|')})(?![\\w,+=\\\\-]|\\.\\w)`, 'giu');
    patterns.set(view, pattern);
  }
  return pattern;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
