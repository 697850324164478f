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
 * Whether a filter has more than `max` terms (assertions and and/or/not), counted up to `max + 1`
 * only: a client's 40,000-term OR is refused before anything evaluates it.
 */
export function exceedsTerms(filter: Filter, max: number): boolean {
  let terms = 0;
  const pending: Filter[] = [filter];
  while (pending.length > 0) {
    const f = pending.pop()!;
    if (++terms > max) return true;
    if (f.type === 'and' || f.type === 'or') for (const g of f.filters) pending.push(g);
    else if (f.type === 'not') pending.push(f.filter);
  }
  return false;
}
