import type { AttributeValue, Entry } from './entry.js';
import { extensibleRule, IN_CHAIN_RULE } from './extensible-rules.js';
import { filterWeight, type Filter } from './filter.js';
import {
  compareOrder,
  equalityKey,
  foldValue,
  orderingKey,
  rulesFor,
  substringMatcher,
  type AttributeRules,
} from './matching.js';
import { LdapError } from './ldap-error.js';
import { ResultCode } from './result-codes.js';
import { attributeKey } from './schema.js';

/**
 * Filter evaluation with RFC 4511 three-valued logic: an item that cannot be decided (unknown
 * matching rule, no ordering rule, an assertion invalid for the syntax) is Undefined, and NOT of
 * Undefined stays Undefined, so `(!(x:unknownRule:=1))` matches nothing. An entry is returned
 * only when the filter is TRUE. Filters are compiled once per search into closures.
 */
export type EntryMatcher = (entry: Entry) => boolean;

export interface CompileOptions {
  /** Looks an entry up by DN key; enables the in-chain rule (1.2.840.113556.1.4.1941). */
  readonly resolve?: (dnKey: string) => Entry | undefined;
  /** Counts the values the filter tests (a memory scan's turns are counted in them); a meter of its own when absent. */
  readonly meter?: FilterMeter;
}

/**
 * Values a filter tested (each value of an attribute an assertion looked at, a KiB of it counting as
 * one more, each entry an in-chain walk visited), and the most one entry may cost: evaluating one
 * entry is synchronous, so a filter of a thousand assertions on a group of ten thousand members
 * would otherwise hold the process for seconds before anything else can run.
 */
export class FilterMeter {
  tests = 0;
  /** `tests` may not pass this while the current entry is tested. */
  limit = Infinity;
  /**
   * The current entry's values' matching keys (equality, ordering, substring folding), by kind of
   * key: many assertions on one attribute prepare each value once (preparing a value is most of a
   * test's cost, and Unicode normalisation of a crafted kilobyte takes up to a millisecond). Emptied
   * for each entry, so it holds one entry's keys at most.
   */
  readonly keys = new Map<string, Map<AttributeValue, unknown>>();

  /** `value`'s key of kind `kind`, prepared by `prepare` the first time this entry asks. */
  key<K>(kind: string, value: AttributeValue, prepare: (value: AttributeValue) => K): K {
    let known = this.keys.get(kind);
    if (!known) this.keys.set(kind, (known = new Map()));
    if (known.has(value)) return known.get(value) as K;
    const key = prepare(value);
    known.set(value, key);
    return key;
  }
}

/** Values one entry's test may look at: a few tenths of a second at most of the costliest tests (DN values, in-chain walks). */
export const MAX_TESTS_PER_ENTRY = 100_000;

const FALSE = 0;
const TRUE = 1;
const UNDEFINED = 2;
type Tri = typeof FALSE | typeof TRUE | typeof UNDEFINED;
type TriMatcher = (entry: Entry) => Tri;

/** Longest member/memberOf/manager chain the in-chain rule follows before giving up. */
const MAX_CHAIN_VISITS = 10_000;

export function compileFilter(filter: Filter, options: CompileOptions = {}): EntryMatcher {
  const meter = options.meter ?? new FilterMeter();
  const m = compile(filter, { ...options, meter, sharedKeys: filterWeight(filter) > 1 });
  return (entry) => {
    meter.limit = meter.tests + MAX_TESTS_PER_ENTRY;
    if (meter.keys.size > 0) meter.keys.clear();
    return m(entry) === TRUE;
  };
}

/**
 * A value's equality or ordering key under `rules`: from the meter's keys of the entry when the
 * filter has several assertions (`shared`), computed each time otherwise (one assertion asks once).
 */
function keyFunction<K>(meter: FilterMeter, shared: boolean, kind: string, rules: AttributeRules, prepare: (rules: AttributeRules, value: AttributeValue) => K): (value: AttributeValue) => K {
  const prepared = (value: AttributeValue): K => prepare(rules, value);
  if (!shared) return prepared;
  const id = `${kind}:${rules.syntax}:${rules.exact}:${rules.sid === true}`;
  return (value) => meter.key(id, value, prepared);
}

/**
 * Counts one test (of a value `length` long: a KiB counts as one more test, since matching folds the
 * whole value each time); past the entry's limit the search ends with adminLimitExceeded.
 */
function tested(meter: FilterMeter, length = 0): void {
  if ((meter.tests += 1 + (length >> 10)) > meter.limit) {
    throw new LdapError(ResultCode.adminLimitExceeded, `the filter tests more than ${MAX_TESTS_PER_ENTRY} values of one entry: narrow it (fewer assertions on a many-valued attribute)`);
  }
}

const always =
  (t: Tri): TriMatcher =>
  () =>
    t;

/** Options inside compile: the meter is always there; `sharedKeys`: the filter has several assertions (see keyFunction). */
type Compiling = CompileOptions & { readonly meter: FilterMeter; readonly sharedKeys: boolean };

function compile(f: Filter, options: Compiling): TriMatcher {
  switch (f.type) {
    case 'and': {
      const parts = f.filters.map((x) => compile(x, options));
      return (e) => {
        let r: Tri = TRUE;
        for (const p of parts) {
          const v = p(e);
          if (v === FALSE) return FALSE;
          if (v === UNDEFINED) r = UNDEFINED;
        }
        return r;
      };
    }
    case 'or': {
      const parts = f.filters.map((x) => compile(x, options));
      return (e) => {
        let r: Tri = FALSE;
        for (const p of parts) {
          const v = p(e);
          if (v === TRUE) return TRUE;
          if (v === UNDEFINED) r = UNDEFINED;
        }
        return r;
      };
    }
    case 'not': {
      const inner = compile(f.filter, options);
      return (e) => {
        const v = inner(e);
        return v === TRUE ? FALSE : v === FALSE ? TRUE : UNDEFINED;
      };
    }
    case 'present': {
      // Every entry has an objectClass; a bare `(objectClass=*)` must never depend on data.
      if (attributeKey(f.attribute) === 'objectclass') return always(TRUE);
      const values = valueLookup(f.attribute);
      const { meter } = options;
      return (e) => {
        tested(meter);
        return values(e) ? TRUE : FALSE;
      };
    }
    case 'equality':
    case 'approx': {
      // Approximate matching is case-ignore equality: no phonetic rule is worth guessing at.
      const rules = rulesFor(f.attribute);
      const want = equalityKey(rules, f.value);
      if (want === undefined) return always(UNDEFINED);
      const keyOf = keyFunction(options.meter, options.sharedKeys, 'eq', rules, equalityKey);
      return anyValue(valueLookup(f.attribute), options.meter, (v) => {
        const k = keyOf(v);
        return k === undefined ? undefined : k === want;
      });
    }
    case 'ge':
    case 'le': {
      const rules = rulesFor(f.attribute);
      const bound = orderingKey(rules, f.value);
      if (bound === undefined) return always(UNDEFINED);
      const sign = f.type === 'ge' ? 1 : -1;
      const keyOf = keyFunction(options.meter, options.sharedKeys, 'ord', rules, orderingKey);
      return anyValue(valueLookup(f.attribute), options.meter, (v) => {
        const k = keyOf(v);
        return k === undefined ? undefined : compareOrder(k, bound) * sign >= 0;
      });
    }
    case 'substrings': {
      // Folding a value is most of a substring test: with many assertions, once per value of an entry.
      const folding = options.sharedKeys ? (value: AttributeValue) => options.meter.key('fold', value, foldValue) : foldValue;
      return anyValue(valueLookup(f.attribute), options.meter, substringMatcher(f.attribute, f, folding));
    }
    case 'extensible':
      return compileExtensible(f, options);
  }
}

type ValueTest = (value: AttributeValue) => boolean | undefined;

/** TRUE if some value matches, else UNDEFINED if some value could not be evaluated, else FALSE. */
function anyValue(values: (e: Entry) => readonly AttributeValue[] | undefined, meter: FilterMeter, test: ValueTest): TriMatcher {
  return (e) => {
    const vs = values(e);
    if (vs) return someValue(vs, meter, test);
    tested(meter); // an absent attribute is one test too: a scan of entries without it still gives turns
    return FALSE;
  };
}

function someValue(values: readonly AttributeValue[], meter: FilterMeter, test: ValueTest): Tri {
  let r: Tri = FALSE;
  for (const v of values) {
    tested(meter, v.length);
    const t = test(v);
    if (t === true) return TRUE;
    if (t === undefined) r = UNDEFINED;
  }
  return r;
}

/**
 * Finds an attribute's values as the filter names it, or by its type without options (Entry
 * looks names up by type: a filter may say `commonName` or `2.5.4.3` for `cn`). entryDN is
 * computed from the entry's DN.
 */
function valueLookup(attribute: string): (e: Entry) => readonly AttributeValue[] | undefined {
  const type = attributeKey(attribute);
  const names = attribute.includes(';') ? [attribute, type] : [type];
  const isEntryDn = type === 'entrydn';
  return (e) => {
    for (const n of names) {
      const a = e.get(n);
      if (a && a.values.length > 0) return a.values;
    }
    return isEntryDn ? [e.dn.text] : undefined;
  };
}

type ExtensibleFilter = Extract<Filter, { type: 'extensible' }>;

function compileExtensible(f: ExtensibleFilter, options: Compiling): TriMatcher {
  const { meter } = options;
  if (f.rule === IN_CHAIN_RULE) return compileInChain(f, options);

  let test: ValueTest;
  let applies: (attribute: string) => boolean;
  if (f.rule !== undefined) {
    const rule = extensibleRule(f.rule);
    const prepared = rule?.prepare(f.value);
    if (!rule || !prepared) return always(UNDEFINED);
    test = prepared;
    applies =
      f.attribute !== undefined
        ? sameAttributeAs(f.attribute)
        : (name) => rule.appliesTo(rulesFor(name).syntax);
  } else {
    // No rule: the attribute's own equality rule (RFC 4511 §4.5.1.7.7); an attribute is required.
    if (f.attribute === undefined) return always(UNDEFINED);
    const rules: AttributeRules = rulesFor(f.attribute);
    const want = equalityKey(rules, f.value);
    if (want === undefined) return always(UNDEFINED);
    const keyOf = keyFunction(meter, options.sharedKeys, 'eq', rules, equalityKey);
    test = (v) => {
      const k = keyOf(v);
      return k === undefined ? undefined : k === want;
    };
    applies = sameAttributeAs(f.attribute);
  }

  const attrs: TriMatcher =
    f.attribute !== undefined
      ? anyValue(valueLookup(f.attribute), meter, test)
      : (e) => {
          let r: Tri = FALSE;
          for (const a of e.attributes()) {
            tested(meter);
            if (!applies(a.name)) continue;
            const t = someValue(a.values, meter, test);
            if (t === TRUE) return TRUE;
            if (t === UNDEFINED) r = UNDEFINED;
          }
          return r;
        };
  if (!f.dnAttributes) return attrs;

  // dnAttributes: the AVAs of the entry's DN count as values too.
  return (e) => {
    const r = attrs(e);
    if (r === TRUE) return TRUE;
    let d: Tri = r;
    for (const rdn of e.dn.rdns) {
      for (const ava of rdn.avas) {
        tested(meter, ava.value.length);
        if (!applies(ava.type)) continue;
        const t = test(ava.value);
        if (t === true) return TRUE;
        if (t === undefined) d = UNDEFINED;
      }
    }
    return d;
  };
}

function sameAttributeAs(attribute: string): (name: string) => boolean {
  const want = attributeKey(attribute);
  return (name) => attributeKey(name) === want;
}

/**
 * AD's LDAP_MATCHING_RULE_IN_CHAIN: TRUE when the assertion DN is reachable from the entry by
 * following the (DN-valued) attribute transitively, e.g. nested group membership via memberOf.
 */
function compileInChain(f: ExtensibleFilter, options: Compiling): TriMatcher {
  const { resolve, meter } = options;
  if (f.attribute === undefined || resolve === undefined) return always(UNDEFINED);
  const dnRules: AttributeRules = { syntax: 'dn', exact: false };
  const target = equalityKey(dnRules, f.value);
  if (target === undefined) return always(UNDEFINED);
  const values = valueLookup(f.attribute);
  return (e) => {
    const start = values(e);
    if (!start) return FALSE;
    const seen = new Set<string>();
    const queue: AttributeValue[] = [...start];
    while (queue.length > 0 && seen.size < MAX_CHAIN_VISITS) {
      tested(meter);
      const key = equalityKey(dnRules, queue.pop()!)!;
      if (key === target) return TRUE;
      if (seen.has(key)) continue;
      seen.add(key);
      const next = resolve(key);
      const more = next && values(next);
      if (more) queue.push(...more);
    }
    return FALSE;
  };
}
