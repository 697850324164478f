import type { ForestView } from './forest-view.js';
import type { NamespaceMap } from './namespace-map.js';

/**
 * UPN suffixes (`jdoe@vse.local` ↔ `jdoe@vse.lab`), matched case-insensitively; the part before the
 * last `@` keeps its spelling. Works on whole values and on the final piece of a substring
 * assertion (`*@vse.lab`) alike.
 */

export const UPN = 'userprincipalname';

/** A forest's UPN (or final piece) in virtual terms; other suffixes are kept. */
export function upnToVirtual(view: ForestView, value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const virtual = view.upnToVirtual.get(value.slice(at + 1).toLowerCase());
  return virtual === undefined ? value : value.slice(0, at + 1) + virtual;
}

/**
 * A virtual UPN (or final piece) in the terms of `view`; undefined when its suffix cannot be one of
 * this forest's: another forest's virtual suffix, or this forest's own suffix that the virtual
 * tree spells differently (so `jdoe@vse.local` does not find vse's jdoe behind `vse.lab`).
 */
export function upnToUpstream(map: NamespaceMap, view: ForestView, value: string): string | undefined {
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const suffix = value.slice(at + 1).toLowerCase();
  const upstream = view.upnToUpstream.get(suffix);
  if (upstream !== undefined) return value.slice(0, at + 1) + upstream;
  const owner = map.upnOwner(suffix);
  if (owner !== undefined && owner !== view) return undefined;
  return view.upnToVirtual.has(suffix) ? undefined : value;
}
