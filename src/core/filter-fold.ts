import type { Filter } from './filter.js';

/**
 * Constant folding of filters: a stage decides some assertions itself and the constants propagate
 * through and/or/not, so a filter that folds to FALSE need not be evaluated (or sent) at all. Used
 * by the namespace stage (assertions that cannot hold in a forest, attributes it hides) and the
 * access stage (assertions on attributes a client may not read).
 *
 * The result is two-valued (a filter or a constant) and means the same as the input as a whole
 * search filter: it is TRUE for exactly the entries the input is TRUE for. It is not equivalent as
 * a subfilter (an UNDEFINED decision became a constant), so it must never be negated or nested.
 */
export type Folded = Filter | boolean;

/**
 * RFC 4511 §4.5.1.7's Undefined: an assertion the client may not make (an attribute it may not
 * read). Unlike FALSE, its negation is not TRUE: `(!(hidden=x))` matches nothing.
 */
export const UNDEFINED: unique symbol = Symbol('Undefined');

/** What a stage decides for one assertion: kept (possibly rewritten), TRUE, FALSE or UNDEFINED. */
export type Decision = Folded | typeof UNDEFINED;

/** Any filter but and/or/not. */
export type LeafFilter = Exclude<Filter, { type: 'and' | 'or' | 'not' }>;

/** Folds `f` with `leaf` deciding each assertion; unchanged subtrees keep their identity. */
export function foldFilter(f: Filter, leaf: (f: LeafFilter) => Decision): Folded {
  return fold(f, leaf, false);
}

/**
 * `negated`: whether `f` sits under an odd number of NOTs. An UNDEFINED leaf becomes the constant
 * that is FALSE in negation normal form (FALSE, or TRUE under an odd number of NOTs). Why that
 * keeps the set of TRUE entries: Kleene's and/or are monotone and NOT antitone in FALSE < UNDEFINED
 * < TRUE, so the swap can only lower the whole filter's value, and Kleene logic is regular (a
 * result computed with an UNDEFINED input holds for either value of it), so TRUE stays TRUE.
 */
function fold(f: Filter, leaf: (f: LeafFilter) => Decision, negated: boolean): Folded {
  switch (f.type) {
    case 'and':
    case 'or': {
      const parts = f.filters.map((x) => fold(x, leaf, negated));
      if (parts.length > 0 && parts.every((p, i) => p === f.filters[i])) return f;
      return f.type === 'and' ? foldAnd(parts) : foldOr(parts);
    }
    case 'not': {
      const inner = fold(f.filter, leaf, !negated);
      return typeof inner === 'boolean' ? !inner : inner === f.filter ? f : { type: 'not', filter: inner };
    }
    default: {
      const decided = leaf(f);
      return decided === UNDEFINED ? negated : decided;
    }
  }
}

export function foldAnd(parts: readonly Folded[]): Folded {
  const kept: Filter[] = [];
  for (const p of parts) {
    if (p === false) return false;
    if (p !== true) kept.push(p);
  }
  return kept.length === 0 ? true : kept.length === 1 ? kept[0] : { type: 'and', filters: kept };
}

export function foldOr(parts: readonly Folded[]): Folded {
  const kept: Filter[] = [];
  for (const p of parts) {
    if (p === true) return true;
    if (p !== false) kept.push(p);
  }
  return kept.length === 0 ? false : kept.length === 1 ? kept[0] : { type: 'or', filters: kept };
}
