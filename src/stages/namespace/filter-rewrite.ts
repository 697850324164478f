import type { Filter } from '../../core/filter.js';
import { foldAnd, foldFilter, UNDEFINED, type Decision, type Folded } from '../../core/filter-fold.js';
import { compareOrdering, rulesFor, substringMatcher, valueText } from '../../core/matching.js';
import { attributeKey, testsAnyAttribute } from '../../core/schema.js';
import { sidAssertionBytes } from '../../core/sid.js';
import { DISABLED, UAC_DISABLED, UAC_ENABLED, UAC_PRESENT } from './account-disabled.js';
import { dnValueToUpstream } from './dn-rewrite.js';
import type { ForestView } from './forest-view.js';
import type { NamespaceMap } from './namespace-map.js';
import { UPN, upnToUpstream } from './upn-rewrite.js';

/**
 * A client's filter in one forest's terms, with constant folding: an assertion that cannot hold in
 * this forest (a DN under another forest's mount, another forest's UPN suffix) is FALSE, one on an
 * attribute the forest hides is UNDEFINED (it may not be searched: its negation matches nothing
 * either), `canopyForest` assertions are decided here, and the constants propagate through
 * and/or/not. A filter that folds to FALSE means the forest need not be asked at all.
 */
export type Rewritten = Folded;

/** Type keys (core/schema.ts `attributeKey`) of the attributes decided here. */
export const CANOPY_FOREST = 'canopyforest';

/** What a filter that folds to TRUE is sent as. */
const ANY_ENTRY: Filter = { type: 'present', attribute: 'objectClass' };

/** The filter to send to the forest (its configured filter AND-ed on), or undefined when nothing can match. */
export function upstreamFilter(map: NamespaceMap, view: ForestView, filter: Filter): Filter | undefined {
  const rewritten = rewriteFilter(map, view, filter);
  const combined = view.filter === undefined ? rewritten : foldAnd([rewritten, view.filter]);
  if (combined === false) return undefined;
  return combined === true ? ANY_ENTRY : combined;
}

export function rewriteFilter(map: NamespaceMap, view: ForestView, f: Filter): Rewritten {
  return foldFilter(f, (leaf) => (leaf.type === 'extensible' ? extensible(map, view, leaf) : assertion(map, view, leaf)));
}

type Assertion = Exclude<Filter, { type: 'and' | 'or' | 'not' | 'extensible' }>;

function assertion(map: NamespaceMap, view: ForestView, f: Assertion): Decision {
  const lower = attributeKey(f.attribute);
  if (lower === CANOPY_FOREST) return forestAssertion(view, f);
  // AD's anr tests attributes of the forest's choosing: as an extensible match naming none.
  if (testsAnyAttribute(lower) && view.hidesAttributes) return UNDEFINED;
  const name = view.assertedName(f.attribute);
  if (name === undefined) return UNDEFINED;
  if (lower === DISABLED && name === f.attribute) return disabledAssertion(f);
  switch (f.type) {
    case 'present':
      return name === f.attribute ? f : { type: 'present', attribute: name };
    case 'equality':
    case 'approx': {
      const value = valueToUpstream(map, view, f.attribute, name, f.value);
      if (value === undefined) return false;
      return name === f.attribute && value === f.value ? f : { type: f.type, attribute: name, value };
    }
    case 'ge':
    case 'le':
      return name === f.attribute ? f : { type: f.type, attribute: name, value: f.value };
    case 'substrings': {
      if (view.isDnValued(f.attribute) || view.isDnValued(name)) return dnSubstrings(map, view, f, name);
      let final = f.final;
      if (final !== undefined && lower === UPN) {
        const text = upnToUpstream(map, view, final.toString('utf8'));
        if (text === undefined) return false;
        final = Buffer.from(text, 'utf8');
      }
      if (name === f.attribute && final === f.final) return f;
      return { ...f, attribute: name, ...(final !== undefined ? { final } : {}) };
    }
  }
}

type Substrings = Extract<Filter, { type: 'substrings' }>;

/**
 * A substring assertion on DN values. The client sees a forest's DN values end with its mount, the
 * forest holds them ending with its base, and the RDNs before that suffix are spelled alike. So:
 * a final part that ends with the mount (or is a tail of it) is rewritten to end with the base —
 * exactly, since the parts before it fall in those leading RDNs; a final part ending like another
 * forest's mount names that forest's entries and is FALSE here, as an equality would be; a part
 * that could match the text of a base would match the forest's own spelling, so it is FALSE too.
 * Anything else passes unchanged (a part reaching into a mount's text then matches only outside it).
 */
function dnSubstrings(map: NamespaceMap, view: ForestView, f: Substrings, name: string): Rewritten {
  const final = f.final?.length ? f.final.toString('utf8') : undefined;
  const own = dnSuffixes(view);
  if (final !== undefined && own.virtual !== own.upstream) {
    const head = headBefore(final, own.virtual);
    if (head !== undefined) return { ...f, attribute: name, final: Buffer.from(head + own.upstreamText, 'utf8') };
  }
  const finalLower = final?.toLowerCase();
  const pieces = [...(f.initial ? [f.initial] : []), ...f.any].filter((p) => p.length > 0).map((p) => p.toString('utf8').toLowerCase());
  for (const forest of map.forests) {
    const suffix = dnSuffixes(forest);
    if (final !== undefined && forest !== view && headBefore(final, suffix.virtual) !== undefined) return false;
    if (suffix.virtual === suffix.upstream) continue; // spelled alike on both sides: nothing to confuse
    if (finalLower !== undefined && (finalLower.endsWith(suffix.upstream) || suffix.upstream.endsWith(finalLower))) return false;
    if (pieces.some((p) => reachesInto(p, suffix.upstream))) return false;
  }
  return name === f.attribute ? f : { ...f, attribute: name };
}

/**
 * How a forest's DN values end on each side (lower case for comparing): `…,<mount>` and
 * `…,<base>`; under a root mount, `…` and `…,<base>`.
 */
function dnSuffixes(view: ForestView): { virtual: string; upstream: string; upstreamText: string } {
  const upstreamText = view.mount.isRoot ? `,${view.base.text}` : view.base.text;
  return { virtual: view.mount.text.toLowerCase(), upstream: upstreamText.toLowerCase(), upstreamText };
}

/** What `final` has before `suffix` (case-insensitive): '' when it is a tail of `suffix`, undefined when the two do not end alike. */
function headBefore(final: string, suffix: string): string | undefined {
  if (final.length >= suffix.length) {
    const at = final.length - suffix.length;
    return final.slice(at).toLowerCase() === suffix ? final.slice(0, at) : undefined;
  }
  return suffix.endsWith(final.toLowerCase()) ? '' : undefined;
}

/** Whether `piece` could match some of `text` where text ends a value: inside it, or running into its start. */
function reachesInto(piece: string, text: string): boolean {
  if (text.includes(piece)) return true;
  for (let k = Math.min(piece.length, text.length); k > 0; k--) if (piece.endsWith(text.slice(0, k))) return true;
  return false;
}

/**
 * An extensible match. Without an attribute it would test every attribute of the entry, so where
 * the forest hides any it is UNDEFINED, never sent: the forest, or the memory backend, would test
 * the hidden ones too (slapd likewise skips attributes the client may not search).
 */
function extensible(map: NamespaceMap, view: ForestView, f: Extract<Filter, { type: 'extensible' }>): Decision {
  if (f.attribute === undefined) return view.hidesAttributes ? UNDEFINED : f;
  const lower = attributeKey(f.attribute);
  if (lower === CANOPY_FOREST || lower === DISABLED) return false;
  const name = view.assertedName(f.attribute);
  if (name === undefined) return UNDEFINED;
  const value = valueToUpstream(map, view, f.attribute, name, f.value);
  if (value === undefined) return false;
  return name === f.attribute && value === f.value ? f : { ...f, attribute: name, value };
}

/** A DN or UPN assertion value in the forest's terms; undefined when it cannot match there. */
function valueToUpstream(map: NamespaceMap, view: ForestView, virtual: string, upstream: string, value: Buffer): Buffer | undefined {
  if (view.isDnValued(virtual) || view.isDnValued(upstream)) return rewriteText(value, (t) => dnValueToUpstream(map, view, t));
  if (attributeKey(virtual) === UPN) return rewriteText(value, (t) => upnToUpstream(map, view, t));
  // A SID in string form, as AD accepts it, goes to a forest that may store only the bytes.
  if (rulesFor(virtual).sid) return sidAssertionBytes(value);
  return value; // binary values and everything else travel byte-exact
}

function rewriteText(value: Buffer, rewrite: (text: string) => string | undefined): Buffer | undefined {
  const text = value.toString('utf8');
  const out = rewrite(text);
  if (out === undefined) return undefined;
  return out === text ? value : Buffer.from(out, 'utf8');
}

/** `canopyForest` holds the forest's name: decided here, never sent. */
function forestAssertion(view: ForestView, f: Assertion): boolean {
  switch (f.type) {
    case 'present':
      return true;
    case 'equality':
    case 'approx':
      return compareOrdering('canopyForest', view.name, f.value) === 0;
    case 'ge':
      return (compareOrdering('canopyForest', view.name, f.value) ?? -1) >= 0;
    case 'le':
      return (compareOrdering('canopyForest', view.name, f.value) ?? 1) <= 0;
    case 'substrings':
      return substringMatcher('canopyForest', f)(view.name);
  }
}

function disabledAssertion(f: Assertion): Rewritten {
  if (f.type === 'present') return UAC_PRESENT;
  if (f.type !== 'equality' && f.type !== 'approx') return false;
  const value = valueText(f.value).trim().toUpperCase();
  return value === 'TRUE' ? UAC_DISABLED : value === 'FALSE' ? UAC_ENABLED : false;
}
