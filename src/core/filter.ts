/**
 * A search filter (RFC 4511 §4.5.1) as Canopy's stages and backends see it. Assertion values stay
 * bytes so binary attributes (objectGUID) match byte-exact; text matching decodes them as UTF-8.
 */
export type Filter =
  | { readonly type: 'and'; readonly filters: readonly Filter[] }
  | { readonly type: 'or'; readonly filters: readonly Filter[] }
  | { readonly type: 'not'; readonly filter: Filter }
  | { readonly type: 'equality' | 'ge' | 'le' | 'approx'; readonly attribute: string; readonly value: Buffer }
  | {
      readonly type: 'substrings';
      readonly attribute: string;
      readonly initial?: Buffer;
      readonly any: readonly Buffer[];
      readonly final?: Buffer;
    }
  | { readonly type: 'present'; readonly attribute: string }
  | {
      readonly type: 'extensible';
      readonly rule?: string;
      readonly attribute?: string;
      readonly value: Buffer;
      readonly dnAttributes: boolean;
    };

/** Deepest nesting of and/or/not accepted from a client: deeper filters are refused, not evaluated. */
export const MAX_FILTER_DEPTH = 256;

/**
 * How much testing one entry against the filter costs, in assertions (a substring's pieces each
 * count): what a scan weighs to give other clients a turn after the same work whatever the filter.
 */
export function filterWeight(filter: Filter): number {
  switch (filter.type) {
    case 'and':
    case 'or':
      return filter.filters.reduce((n, f) => n + filterWeight(f), 0);
    case 'not':
      return filterWeight(filter.filter);
    case 'substrings':
      return 1 + filter.any.length;
    default:
      return 1;
  }
}
