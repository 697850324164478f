import type { Filter } from '../../core/filter.js';

/** The attribute names a filter asserts on, once each. */
export function filterAttributes(filter: Filter): string[] {
  const names = new Set<string>();
  const walk = (f: Filter): void => {
    if (f.type === 'and' || f.type === 'or') f.filters.forEach(walk);
    else if (f.type === 'not') walk(f.filter);
    else if (f.attribute !== undefined) names.add(f.attribute);
  };
  walk(filter);
  return [...names];
}
