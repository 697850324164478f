import { Dn, normaliseDnValue } from './dn.js';
import type { AttributeValue } from './entry.js';
import { attributeType, hasBinaryOption, objectClass, type SyntaxKind } from './schema.js';
import { sidAssertionBytes } from './sid.js';

/**
 * Matching rules by syntax: equality keys, ordering and substrings. Keys are strings so they can
 * be compared with `===` and used as index keys; the same function builds both, so an index
 * lookup and a filter evaluation always agree.
 */

/** How an attribute's values are matched: its syntax, and whether text is compared exactly. */
export interface AttributeRules {
  readonly syntax: SyntaxKind;
  readonly exact: boolean;
  /** Values are SIDs: an assertion may give one in string form (`S-1-5-21-…`), as AD accepts. */
  readonly sid?: boolean;
}

export function rulesFor(attribute: string): AttributeRules {
  if (hasBinaryOption(attribute)) return { syntax: 'binary', exact: true };
  const def = attributeType(attribute);
  return { syntax: def?.syntax ?? 'string', exact: def?.exact === true, ...(def?.sid && { sid: true }) };
}

/** `userCertificate;binary` → `userCertificate`: options do not change which attribute is meant. */
export function stripOptions(attribute: string): string {
  const i = attribute.indexOf(';');
  return i < 0 ? attribute : attribute.slice(0, i);
}

/** `;binary` only says how a value travels (RFC 4522); the attribute it names is the same one. */
export function withoutBinaryOption(attribute: string): string {
  return hasBinaryOption(attribute) ? attribute.replace(/;binary(?=;|$)/i, '') : attribute;
}

export function valueText(value: AttributeValue): string {
  return typeof value === 'string' ? value : value.toString('utf8');
}

function valueBytes(value: AttributeValue): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/**
 * The equality key of a value under a syntax, or undefined when the value is not valid for it
 * (an assertion that is invalid makes a filter item Undefined, RFC 4511 §4.5.1.7).
 */
export function equalityKey(rules: AttributeRules, value: AttributeValue): string | undefined {
  switch (rules.syntax) {
    case 'binary':
      return (rules.sid ? sidAssertionBytes(valueBytes(value)) : valueBytes(value)).toString('hex');
    case 'integer':
      return integerValue(valueText(value))?.toString();
    case 'dn':
      return dnKey(valueText(value));
    case 'boolean': {
      const b = valueText(value).trim().toUpperCase();
      return b === 'TRUE' || b === 'FALSE' ? b : undefined;
    }
    case 'time':
      return timeKey(valueText(value));
    case 'oid': {
      const k = normaliseDnValue(valueText(value));
      return objectClass(k)?.name.toLowerCase() ?? k;
    }
    case 'string':
      return rules.exact ? valueText(value) : normaliseDnValue(valueText(value));
  }
}

/** A comparable key for a value of an attribute; values invalid for the syntax fall back to folded text. */
export function normalise(attribute: string, value: AttributeValue): string {
  return equalityKey(rulesFor(attribute), value) ?? normaliseDnValue(valueText(value));
}

/** A DN value's key; an unparsable DN is compared as case-folded text rather than failing. */
function dnKey(text: string): string {
  try {
    return Dn.parse(text).key;
  } catch {
    return normaliseDnValue(text);
  }
}

const INTEGER = /^\s*[+-]?\d+\s*$/;

/** Integers are arbitrary precision: accountExpires is 2^63-1 and groupType is negative. */
export function integerValue(text: string): bigint | undefined {
  return INTEGER.test(text) ? BigInt(text.trim()) : undefined;
}

const GENERALIZED_TIME = /^(\d{10})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)?$/;

/** GeneralizedTime in UTC as `YYYYMMDDHHMMSS[.fraction]`, so keys order lexically in time order. */
function timeKey(text: string): string | undefined {
  const m = GENERALIZED_TIME.exec(text.trim().toUpperCase());
  if (!m) return undefined;
  const [, ymdh, mm = '00', ss = '00', frac = '', zone = 'Z'] = m;
  let base = ymdh + mm + ss;
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? 1 : -1; // local time minus offset = UTC
    const offset = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5) || '0'));
    const t = Date.UTC(+base.slice(0, 4), +base.slice(4, 6) - 1, +base.slice(6, 8), +base.slice(8, 10), +base.slice(10, 12) + offset, +base.slice(12, 14));
    base = new Date(t).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  }
  const f = frac.replace(/0+$/, '');
  return f ? `${base}.${f}` : base;
}

/** Ordering values: integers numerically, time and strings by their keys. */
export type OrderKey = bigint | string;

/** The ordering key of a value, or undefined when the syntax has no ordering or the value is invalid. */
export function orderingKey(rules: AttributeRules, value: AttributeValue): OrderKey | undefined {
  switch (rules.syntax) {
    case 'integer':
      return integerValue(valueText(value));
    case 'time':
      return timeKey(valueText(value));
    case 'string':
    case 'oid':
      return rules.exact ? valueText(value) : normaliseDnValue(valueText(value));
    default:
      return undefined; // binary, DN and boolean have no ordering rule here
  }
}

/** Compares two ordering keys of the same syntax: negative, zero or positive. */
export function compareOrder(a: OrderKey, b: OrderKey): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Ordering compare of two values of an attribute; undefined when they cannot be ordered. */
export function compareOrdering(attribute: string, a: AttributeValue, b: AttributeValue): number | undefined {
  const rules = rulesFor(attribute);
  const ka = orderingKey(rules, a);
  const kb = orderingKey(rules, b);
  return ka === undefined || kb === undefined ? undefined : compareOrder(ka, kb);
}

export interface SubstringAssertion {
  readonly initial?: AttributeValue;
  readonly any: readonly AttributeValue[];
  readonly final?: AttributeValue;
}

/**
 * A substring piece folded like values are (case-ignore, space runs folded) but not trimmed:
 * `(cn=John *)` keeps the space that separates the initial part from what follows.
 */
export function foldPiece(piece: AttributeValue): string {
  return valueText(piece).replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Builds a substring matcher for an attribute. Binary values match byte-wise; every other
 * syntax matches its text case-ignore, as AD and slapd do for the directory string syntaxes.
 * `folding` says how a value is folded for case-ignore matching (filter evaluation passes one that
 * folds each value of an entry once for all the filter's assertions).
 */
export function substringMatcher(
  attribute: string,
  assertion: SubstringAssertion,
  folding: (value: AttributeValue) => string = foldValue,
): (value: AttributeValue) => boolean {
  const rules = rulesFor(attribute);
  if (rules.syntax === 'binary') {
    const initial = assertion.initial === undefined ? undefined : valueBytes(assertion.initial);
    const any = assertion.any.map(valueBytes);
    const final = assertion.final === undefined ? undefined : valueBytes(assertion.final);
    return (value) => matchPieces(valueBytes(value), initial, any, final);
  }
  const fold = rules.exact ? valueText : foldPiece;
  const initial = assertion.initial === undefined ? undefined : fold(assertion.initial);
  const any = assertion.any.map(fold);
  const final = assertion.final === undefined ? undefined : fold(assertion.final);
  const text = rules.exact ? valueText : folding;
  return (value) => matchPieces(text(value), initial, any, final);
}

/** A value's text folded for case-ignore substring matching. */
export function foldValue(value: AttributeValue): string {
  return normaliseDnValue(valueText(value));
}

/** Works on strings and Buffers alike: both have startsWith/indexOf semantics needed here. */
function matchPieces<T extends string | Buffer>(value: T, initial: T | undefined, any: readonly T[], final: T | undefined): boolean {
  let pos = 0;
  let end = value.length;
  if (initial !== undefined) {
    if (!startsWith(value, initial)) return false;
    pos = initial.length;
  }
  if (final !== undefined) {
    if (final.length > end - pos || !endsWith(value, final)) return false;
    end -= final.length;
  }
  for (const piece of any) {
    const at = (value as string).indexOf(piece as string, pos);
    if (at < 0 || at + piece.length > end) return false;
    pos = at + piece.length;
  }
  return true;
}

function startsWith(value: string | Buffer, piece: string | Buffer): boolean {
  if (typeof value === 'string') return value.startsWith(piece as string);
  return piece.length <= value.length && value.subarray(0, piece.length).equals(piece as Buffer);
}

function endsWith(value: string | Buffer, piece: string | Buffer): boolean {
  if (typeof value === 'string') return value.endsWith(piece as string);
  return value.subarray(value.length - piece.length).equals(piece as Buffer);
}
