import type { Filter } from './filter.js';

/**
 * Constant folding of filters: a stage decides some assertions itself (TRUE or FALSE) and the
 * constants propagate through and/or/not, so a filter that folds to FALSE need not be evaluated
 * (or sent) at all. Used by the namespace stage (assertions that cannot hold in a forest) and the
 * access stage (assertions on attributes a client may not read).
 */
export type Folded = Filter | boolean;

/** Any filter but and/or/not. */
export type LeafFilter = Exclude<Filter, { type: 'and' | 'or' | 'not' }>;

/** Folds `f` with `leaf` deciding each assertion; unchanged subtrees keep their identity. */
export function foldFilter(f: Filter, leaf: (f: LeafFilter) => Folded): Folded {
  switch (f.type) {
    case 'and':
    case 'or': {
      const parts = f.filters.map((x) => foldFilter(x, leaf));
      if (parts.length > 0 && parts.every((p, i) => p === f.filters[i])) return f;
      return f.type === 'and' ? foldAnd(parts) : foldOr(parts);
    }
    case 'not': {
      const inner = foldFilter(f.filter, leaf);
      return typeof inner === 'boolean' ? !inner : inner === f.filter ? f : { type: 'not', filter: inner };
    }
    default:
      return leaf(f);
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
