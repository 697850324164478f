import type { Filter } from '../../core/filter.js';
import { foldAnd, foldFilter, type Folded } from '../../core/filter-fold.js';
import { compareOrdering, substringMatcher, valueText } from '../../core/matching.js';
import { DISABLED, UAC_DISABLED, UAC_ENABLED, UAC_PRESENT } from './account-disabled.js';
import { dnValueToUpstream } from './dn-rewrite.js';
import type { ForestView } from './forest-view.js';
import type { NamespaceMap } from './namespace-map.js';
import { UPN, upnToUpstream } from './upn-rewrite.js';

/**
 * A client's filter in one forest's terms, with constant folding: an assertion that cannot hold in
 * this forest (a hidden attribute, a DN under another forest's mount, another forest's UPN suffix)
 * is FALSE, `canopyForest` assertions are decided here, and TRUE/FALSE propagate through and/or/not.
 * A filter that folds to FALSE means the forest need not be asked at all.
 */
export type Rewritten = Folded;

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

function assertion(map: NamespaceMap, view: ForestView, f: Assertion): Rewritten {
  const lower = f.attribute.toLowerCase();
  if (lower === CANOPY_FOREST) return forestAssertion(view, f);
  const name = view.upstreamName(f.attribute);
  if (name === undefined) return false;
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

function extensible(map: NamespaceMap, view: ForestView, f: Extract<Filter, { type: 'extensible' }>): Rewritten {
  if (f.attribute === undefined) return f;
  const lower = f.attribute.toLowerCase();
  if (lower === CANOPY_FOREST || lower === DISABLED) return false;
  const name = view.upstreamName(f.attribute);
  if (name === undefined) return false;
  const value = valueToUpstream(map, view, f.attribute, name, f.value);
  if (value === undefined) return false;
  return name === f.attribute && value === f.value ? f : { ...f, attribute: name, value };
}

/** A DN or UPN assertion value in the forest's terms; undefined when it cannot match there. */
function valueToUpstream(map: NamespaceMap, view: ForestView, virtual: string, upstream: string, value: Buffer): Buffer | undefined {
  if (view.isDnValued(virtual) || view.isDnValued(upstream)) return rewriteText(value, (t) => dnValueToUpstream(map, view, t));
  if (virtual.toLowerCase() === UPN) return rewriteText(value, (t) => upnToUpstream(map, view, t));
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
