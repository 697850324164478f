import ldapFilter from '@ldapjs/filter';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { MAX_FILTER_DEPTH, type Filter } from '../core/filter.js';
import type { BerReader } from './ber-reader.js';

const AND = 0xa0;
const OR = 0xa1;
const NOT = 0xa2;
const EQUALITY = 0xa3;
const SUBSTRINGS = 0xa4;
const GE = 0xa5;
const LE = 0xa6;
const PRESENT = 0x87;
const APPROX = 0xa8;
const EXTENSIBLE = 0xa9;

interface Frame {
  readonly type: 'and' | 'or' | 'not';
  readonly end: number;
  readonly children: Filter[];
}

/**
 * Decodes a Filter (RFC 4511 §4.5.1) from the reader. Iterative with an explicit stack, so a filter
 * nested 10,000 deep is refused (unwillingToPerform) past MAX_FILTER_DEPTH instead of overflowing
 * the call stack; assertion values are copied out as the exact bytes sent. Malformed BER throws
 * BerError. More than `maxTerms` terms (assertions and and/or/not) are refused (unwillingToPerform)
 * as soon as counted: a 40,000-term OR is neither decoded nor evaluated.
 */
export function decodeFilter(r: BerReader, maxTerms = Infinity): Filter {
  const stack: Frame[] = [];
  let terms = 0;
  const count = (): void => {
    if (++terms > maxTerms) throw new LdapError(ResultCode.unwillingToPerform, `filter has more than ${maxTerms} terms (limits.maxFilterTerms)`);
  };
  for (;;) {
    let done: Filter | undefined;
    const top = stack[stack.length - 1];
    if (top && r.pos === top.end) {
      stack.pop();
      done = closeFrame(top);
    } else {
      const tag = r.peek();
      if (tag === AND || tag === OR || tag === NOT) {
        if (stack.length >= MAX_FILTER_DEPTH) {
          throw new LdapError(ResultCode.unwillingToPerform, `filter nested deeper than ${MAX_FILTER_DEPTH} levels`);
        }
        count();
        const end = r.enter(tag);
        if (top && end > top.end) throw new LdapError(ResultCode.protocolError, 'filter element overruns its parent');
        stack.push({ type: tag === AND ? 'and' : tag === OR ? 'or' : 'not', end, children: [] });
        continue;
      }
      count();
      done = decodeItem(r, tag, count);
      if (top && r.pos > top.end) throw new LdapError(ResultCode.protocolError, 'filter element overruns its parent');
    }
    const parent = stack[stack.length - 1];
    if (!parent) return done;
    parent.children.push(done);
  }
}

function closeFrame(frame: Frame): Filter {
  if (frame.type !== 'not') return { type: frame.type, filters: frame.children };
  if (frame.children.length !== 1) throw new LdapError(ResultCode.protocolError, 'a NOT filter holds exactly one filter');
  return { type: 'not', filter: frame.children[0] };
}

/** `count` counts a term: each substring piece past the first is one (each is matched against every value). */
function decodeItem(r: BerReader, tag: number, count: () => void): Filter {
  switch (tag) {
    case EQUALITY:
    case GE:
    case LE:
    case APPROX: {
      const ava = r.child(tag);
      const attribute = ava.string();
      const value = Buffer.from(ava.octets());
      const type = tag === EQUALITY ? 'equality' : tag === GE ? 'ge' : tag === LE ? 'le' : 'approx';
      return { type, attribute, value };
    }
    case PRESENT:
      return { type: 'present', attribute: r.string(PRESENT) };
    case SUBSTRINGS: {
      const s = r.child(SUBSTRINGS);
      const attribute = s.string();
      const parts = s.child(0x30);
      let initial: Buffer | undefined;
      let final: Buffer | undefined;
      const any: Buffer[] = [];
      let pieces = 0;
      while (!parts.atEnd) {
        const t = parts.peek();
        if (pieces++ > 0) count();
        const value = Buffer.from(parts.octets(t));
        // RFC 4511 §4.5.1.7.2 / RFC 4517 §3.3.29: a substring is at least one character.
        if (value.length === 0) throw new LdapError(ResultCode.protocolError, 'empty substring in a substrings filter');
        if (t === 0x80 && initial === undefined && any.length === 0 && final === undefined) initial = value;
        else if (t === 0x81 && final === undefined) any.push(value);
        else if (t === 0x82 && final === undefined) final = value;
        else throw new LdapError(ResultCode.protocolError, 'malformed substrings filter');
      }
      if (pieces === 0) throw new LdapError(ResultCode.protocolError, 'a substrings filter without substrings');
      return { type: 'substrings', attribute, any, ...(initial && { initial }), ...(final && { final }) };
    }
    case EXTENSIBLE: {
      const e = r.child(EXTENSIBLE);
      const rule = e.peek() === 0x81 ? e.string(0x81) : undefined;
      // An empty type names no attribute, as in the text `(:rule:=v)` (and the ldap backend sends
      // none): it is taken as absent, so it is decided like every match naming no attribute.
      const attribute = (!e.atEnd && e.peek() === 0x82 ? e.string(0x82) : '') || undefined;
      const value = Buffer.from(e.octets(0x83));
      const dnAttributes = !e.atEnd && e.peek() === 0x84 ? e.bool(0x84) : false;
      if (rule === undefined && attribute === undefined) {
        throw new LdapError(ResultCode.protocolError, 'extensible filter needs a matching rule or a type');
      }
      return { type: 'extensible', value, dnAttributes, ...(rule !== undefined && { rule }), ...(attribute !== undefined && { attribute }) };
    }
    default:
      throw new LdapError(ResultCode.protocolError, `unknown filter choice 0x${tag.toString(16)}`);
  }
}

/** The subset of @ldapjs/filter's filter objects this conversion reads. */
interface LdapjsFilter {
  readonly type: string;
  readonly attribute?: string;
  readonly value?: unknown;
  readonly filters?: readonly LdapjsFilter[];
  readonly filter?: LdapjsFilter;
  readonly initial?: string;
  readonly any?: readonly string[];
  readonly final?: string;
  readonly matchingRule?: string;
  readonly dnAttributes?: boolean;
}

/**
 * Converts a filter produced by @ldapjs/filter's `parseString` into a core Filter. Its values are
 * still RFC 4515-escaped text (`\00\80\ff`), so they are unescaped here into the exact bytes.
 * Iterative, like the BER decoder.
 */
export function fromLdapjsFilter(root: LdapjsFilter): Filter {
  interface Pending {
    readonly source: LdapjsFilter;
    readonly children: Filter[];
    next: number;
  }
  const stack: Pending[] = [];
  let current: LdapjsFilter | undefined = root;
  for (;;) {
    let done: Filter | undefined;
    if (current) {
      const kids = childrenOf(current);
      if (kids) {
        if (stack.length >= MAX_FILTER_DEPTH) {
          throw new LdapError(ResultCode.unwillingToPerform, `filter nested deeper than ${MAX_FILTER_DEPTH} levels`);
        }
        stack.push({ source: current, children: [], next: 0 });
        current = undefined;
        continue;
      }
      done = leaf(current);
      current = undefined;
    }
    const top = stack[stack.length - 1];
    if (!top) return done!;
    if (done) top.children.push(done);
    const kids = childrenOf(top.source)!;
    if (top.next < kids.length) {
      current = kids[top.next++];
      continue;
    }
    stack.pop();
    const parent = stack[stack.length - 1];
    const built = buildComposite(top.source, top.children);
    if (!parent) return built;
    parent.children.push(built);
  }
}

function childrenOf(f: LdapjsFilter): readonly LdapjsFilter[] | undefined {
  if (f.type === 'AndFilter' || f.type === 'OrFilter') return f.filters ?? [];
  if (f.type === 'NotFilter') return f.filter ? [f.filter] : [];
  return undefined;
}

function buildComposite(f: LdapjsFilter, children: Filter[]): Filter {
  if (f.type === 'AndFilter') return { type: 'and', filters: children };
  if (f.type === 'OrFilter') return { type: 'or', filters: children };
  if (children.length !== 1) throw new LdapError(ResultCode.protocolError, 'a NOT filter holds exactly one filter');
  return { type: 'not', filter: children[0] };
}

function leaf(f: LdapjsFilter): Filter {
  const attribute = f.attribute ?? '';
  switch (f.type) {
    case 'EqualityFilter':
      return { type: 'equality', attribute, value: unescape(f.value) };
    case 'GreaterThanEqualsFilter':
      return { type: 'ge', attribute, value: unescape(f.value) };
    case 'LessThanEqualsFilter':
      return { type: 'le', attribute, value: unescape(f.value) };
    case 'ApproximateFilter':
      return { type: 'approx', attribute, value: unescape(f.value) };
    case 'PresenceFilter':
      return { type: 'present', attribute };
    case 'SubstringFilter':
      return {
        type: 'substrings',
        attribute,
        any: (f.any ?? []).filter((a) => a !== '').map(unescape),
        ...(f.initial ? { initial: unescape(f.initial) } : {}),
        ...(f.final ? { final: unescape(f.final) } : {}),
      };
    case 'ExtensibleFilter':
      return {
        type: 'extensible',
        value: unescape(f.value),
        dnAttributes: f.dnAttributes === true,
        ...(attribute !== '' && { attribute }),
        ...(f.matchingRule && { rule: f.matchingRule }),
      };
    default:
      throw new LdapError(ResultCode.protocolError, `unsupported filter type ${f.type}`);
  }
}

/** RFC 4515 value text (`\XX` escapes over UTF-8) to bytes. */
function unescape(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  const text = typeof value === 'string' ? value : '';
  if (!text.includes('\\')) return Buffer.from(text, 'utf8');
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x5c) {
      const hex = bytes.toString('latin1', i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new LdapError(ResultCode.protocolError, `bad escape in filter value "${text}"`);
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = bytes[i];
    }
  }
  return out.subarray(0, n);
}

/**
 * Parses an RFC 4515 filter string (configuration, tests). Nesting is checked on the text first, as
 * @ldapjs/filter's parser recurses.
 */
export function parseFilterString(text: string): Filter {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (depth > MAX_FILTER_DEPTH + 1) {
      throw new LdapError(ResultCode.unwillingToPerform, `filter nested deeper than ${MAX_FILTER_DEPTH} levels`);
    }
  }
  const trimmed = text.trim();
  if (!trimmed.startsWith('(') || !trimmed.endsWith(')')) {
    throw new LdapError(ResultCode.protocolError, `invalid filter "${text}": must be enclosed in parentheses`);
  }
  let parsed: LdapjsFilter;
  try {
    parsed = ldapFilter.parseString(trimmed) as LdapjsFilter;
  } catch (err) {
    throw new LdapError(ResultCode.protocolError, `invalid filter "${text}": ${(err as Error).message}`);
  }
  return fromLdapjsFilter(parsed);
}
