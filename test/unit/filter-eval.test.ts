import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import { Entry, type AttributeValue } from '../../src/core/entry.js';
import { compileFilter, FilterMeter, MAX_TESTS_PER_ENTRY } from '../../src/core/filter-eval.js';
import { filterToString } from '../../src/core/filter-text.js';
import type { Filter } from '../../src/core/filter.js';
import { compareOrdering, normalise } from '../../src/core/matching.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';

const b = (v: string | Buffer): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
const eq = (attribute: string, value: string | Buffer): Filter => ({ type: 'equality', attribute, value: b(value) });
const approx = (attribute: string, value: string): Filter => ({ type: 'approx', attribute, value: b(value) });
const ge = (attribute: string, value: string): Filter => ({ type: 'ge', attribute, value: b(value) });
const le = (attribute: string, value: string): Filter => ({ type: 'le', attribute, value: b(value) });
const present = (attribute: string): Filter => ({ type: 'present', attribute });
const and = (...filters: Filter[]): Filter => ({ type: 'and', filters });
const or = (...filters: Filter[]): Filter => ({ type: 'or', filters });
const not = (filter: Filter): Filter => ({ type: 'not', filter });
const sub = (attribute: string, initial?: string | Buffer, any: Array<string | Buffer> = [], final?: string | Buffer): Filter => ({
  type: 'substrings',
  attribute,
  ...(initial !== undefined ? { initial: b(initial) } : {}),
  any: any.map(b),
  ...(final !== undefined ? { final: b(final) } : {}),
});
const ext = (attribute: string | undefined, rule: string | undefined, value: string, dnAttributes = false): Filter => ({
  type: 'extensible',
  ...(attribute !== undefined ? { attribute } : {}),
  ...(rule !== undefined ? { rule } : {}),
  value: b(value),
  dnAttributes,
});

function entry(dn: string, attrs: Record<string, AttributeValue | AttributeValue[]>): Entry {
  return new Entry(
    Dn.parse(dn),
    Object.entries(attrs).map(([name, v]) => ({ name, values: Array.isArray(v) ? v : [v] })),
  );
}

const guid = Buffer.from([0x00, 0x80, 0xff, 0x10]);
const jose = entry('CN=José Núñez,OU=Users,DC=avvid,DC=info', {
  objectClass: ['top', 'person', 'organizationalPerson', 'user'],
  cn: 'José Núñez',
  sn: 'Núñez',
  givenName: 'José',
  sAMAccountName: 'jnunez',
  mail: 'jose.nunez@avvid.info',
  userAccountControl: '512',
  groupType: '-2147483646',
  objectGUID: guid,
  telephoneNumber: '+1 408  555 0100',
  manager: 'CN=Boss\\, The,OU=Users,DC=avvid,DC=info',
  whenCreated: '20240102030405.0Z',
  'msDS-UserAccountDisabled': 'FALSE',
  description: ['first', 'second'],
});
const disabled = entry('CN=Dis Abled,OU=Users,DC=avvid,DC=info', {
  objectClass: ['top', 'person', 'organizationalPerson', 'user'],
  cn: 'Dis Abled',
  userAccountControl: '514',
});
const computer = entry('CN=PC01,OU=Computers,DC=avvid,DC=info', {
  objectClass: ['top', 'person', 'organizationalPerson', 'user', 'computer'],
  cn: 'PC01',
  userAccountControl: '4096',
});

const matches = (f: Filter, e: Entry = jose): boolean => compileFilter(f)(e);

describe('compileFilter: simple items', () => {
  const cases: Array<[string, Filter, boolean]> = [
    ['equality is case-insensitive', eq('samaccountname', 'JNUNEZ'), true],
    ['non-ASCII equality ignores case', eq('cn', 'josé núñez'), true],
    ['(cn=josé) does not match another value', eq('givenName', 'josé'), true],
    ['insignificant spaces are folded', eq('telephoneNumber', ' +1 408 555 0100 '), true],
    ['equality on a missing attribute is false', eq('title', 'x'), false],
    ['multi-valued: any value', eq('description', 'SECOND'), true],
    ['objectClass values ignore case', eq('OBJECTCLASS', 'USER'), true],
    ['objectClass by OID', eq('objectClass', '1.2.840.113556.1.5.9'), true],
    ['integer equality is numeric', eq('userAccountControl', '0512'), true],
    ['DN equality by normalised form', eq('manager', 'cn=boss\\2c the, ou=users,dc=AVVID,dc=info'), true],
    ['binary GUID equality is byte-exact', eq('objectGUID', Buffer.from([0x00, 0x80, 0xff, 0x10])), true],
    ['binary GUID does not fold case', eq('objectGUID', Buffer.from([0x00, 0x80, 0xdf, 0x10])), false],
    ['boolean equality', eq('msDS-UserAccountDisabled', 'false'), true],
    ['approx is case-ignore equality', approx('sn', 'NÚÑEZ'), true],
    ['presence', present('mail'), true],
    ['presence of a missing attribute', present('pager'), false],
    ['objectClass=* is always true', present('objectclass'), true],
    ['entryDN is computed', eq('entryDN', 'cn=josé núñez,ou=users,dc=avvid,dc=info'), true],
    ['attribute alias', eq('commonName', 'José Núñez'), true],
  ];
  it.each(cases)('%s', (_name, f, want) => expect(matches(f)).toBe(want));
});

describe('compileFilter: substrings', () => {
  const cases: Array<[string, Filter, boolean]> = [
    ['initial', sub('cn', 'jos'), true],
    ['initial with a space', sub('cn', 'josé '), true],
    ['final', sub('mail', undefined, [], '@AVVID.INFO'), true],
    ['any in order', sub('cn', undefined, ['s', 'ñ']), true],
    ['any out of order', sub('cn', undefined, ['ñ', 'josé']), false],
    ['initial and final may not overlap', sub('sAMAccountName', 'jnun', [], 'unez'), false],
    ['initial, any, final', sub('mail', 'jose', ['nunez'], 'info'), true],
    ['binary substrings are bytewise', sub('objectGUID', Buffer.from([0x00, 0x80])), true],
    ['binary substrings are exact', sub('objectGUID', Buffer.from([0x00, 0x81])), false],
    ['missing attribute', sub('title', 'x'), false],
  ];
  it.each(cases)('%s', (_name, f, want) => expect(matches(f)).toBe(want));
});

describe('compileFilter: ordering', () => {
  const cases: Array<[string, Filter, boolean]> = [
    ['integer >= numerically (512 >= 64)', ge('userAccountControl', '64'), true],
    ['integer <= numerically (512 <= 1000)', le('userAccountControl', '1000'), true],
    ['integer >= fails', ge('userAccountControl', '513'), false],
    ['negative integers', le('groupType', '0'), true],
    ['strings case-ignore', ge('sn', 'nu'), true],
    ['generalized time >=', ge('whenCreated', '20240101000000Z'), true],
    ['generalized time <=', le('whenCreated', '20240102030404Z'), false],
    ['time zones are applied', ge('whenCreated', '20240102040405+0100'), true],
  ];
  it.each(cases)('%s', (_name, f, want) => expect(matches(f)).toBe(want));
});

describe('compileFilter: three-valued logic', () => {
  const cases: Array<[string, Filter, boolean]> = [
    ['unknown rule is Undefined', ext('cn', '1.2.3.4.5', 'x'), false],
    ['NOT of Undefined is Undefined', not(ext('cn', '1.2.3.4.5', 'x')), false],
    ['OR with Undefined and TRUE is TRUE', or(ext('cn', '1.2.3.4.5', 'x'), eq('sn', 'núñez')), true],
    ['AND with Undefined and FALSE is FALSE, its NOT TRUE', not(and(ext('cn', '9.9', 'x'), eq('sn', 'x'))), true],
    ['NOT(AND(Undefined, TRUE)) stays Undefined', not(and(ext('cn', '9.9', 'x'), eq('sn', 'núñez'))), false],
    ['invalid integer assertion is Undefined, even under NOT', not(eq('userAccountControl', 'abc')), false],
    ['ordering on binary is Undefined', not(ge('objectGUID', 'a')), false],
    ['NOT of FALSE is TRUE', not(eq('sn', 'x')), true],
    ['NOT of a missing attribute is TRUE', not(eq('msDS-UserAccountDisabled', 'TRUE')), true],
    ['empty AND is TRUE', and(), true],
    ['empty OR is FALSE', or(), false],
  ];
  it.each(cases)('%s', (_name, f, want) => expect(matches(f)).toBe(want));
});

describe('compileFilter: extensible match', () => {
  const cisco = and(
    eq('objectclass', 'user'),
    not(eq('objectclass', 'Computer')),
    not(ext('UserAccountControl', '1.2.840.113556.1.4.803', '2')),
  );
  it.each([
    ['enabled user (512)', jose, true],
    ['disabled user (514)', disabled, false],
    ['computer', computer, false],
  ] as const)("Cisco's sync filter: %s", (_n, e, want) => expect(matches(cisco, e)).toBe(want));

  const cases: Array<[string, Filter, boolean]> = [
    ['.803 bitwise AND all bits', ext('userAccountControl', '1.2.840.113556.1.4.803', '512'), true],
    ['.803 needs every bit', ext('userAccountControl', '1.2.840.113556.1.4.803', '514'), false],
    ['.803 on a negative groupType', ext('groupType', '1.2.840.113556.1.4.803', '2147483648'), true],
    ['.804 bitwise OR any bit', ext('userAccountControl', '1.2.840.113556.1.4.804', '514'), true],
    ['.804 no common bit', ext('userAccountControl', '1.2.840.113556.1.4.804', '3'), false],
    ['.803 by name', ext('userAccountControl', 'integerBitAndMatch', '512'), true],
    ['.803 with a non-integer assertion is Undefined', not(ext('userAccountControl', '1.2.840.113556.1.4.803', 'x')), false],
    ['caseIgnoreMatch', ext('sn', '2.5.13.2', 'NÚÑEZ'), true],
    ['caseIgnoreMatch by name', ext('sn', 'caseIgnoreMatch', 'núñez'), true],
    ['caseExactMatch', ext('sn', '2.5.13.5', 'núñez'), false],
    ['caseExactMatch exact', ext('sn', 'caseExactMatch', 'Núñez'), true],
    ['integerMatch', ext('userAccountControl', 'integerMatch', '512'), true],
    ['no rule: the attribute equality', ext('sn', undefined, 'NÚÑEZ'), true],
    ['rule without attribute: any attribute', ext(undefined, '2.5.13.2', 'JNUNEZ'), true],
    ['dnAttributes matches the DN AVAs', ext('ou', undefined, 'users', true), true],
    ['without dnAttributes the DN does not count', ext('ou', undefined, 'users'), false],
    ['dnAttributes with a rule and no attribute', ext(undefined, 'caseIgnoreMatch', 'AVVID', true), true],
    ['no rule and no attribute is Undefined', not(ext(undefined, undefined, 'x')), false],
  ];
  it.each(cases)('%s', (_name, f, want) => expect(matches(f)).toBe(want));

  it('in chain (1.2.840.113556.1.4.1941) follows memberOf transitively with a resolver', () => {
    const g1 = entry('cn=g1,dc=x', { objectClass: 'group', memberOf: 'cn=g2,dc=x' });
    const g2 = entry('cn=g2,dc=x', { objectClass: 'group', memberOf: ['cn=g3,dc=x', 'cn=g1,dc=x'] });
    const g3 = entry('cn=g3,dc=x', { objectClass: 'group' });
    const user = entry('cn=u,dc=x', { objectClass: 'user', memberOf: 'CN=G1,DC=X' });
    const all = new Map([g1, g2, g3, user].map((e) => [e.dn.key, e]));
    const resolve = (k: string): Entry | undefined => all.get(k);
    const chain = (target: string): Filter => ext('memberOf', '1.2.840.113556.1.4.1941', target);
    expect(compileFilter(chain('cn=g3,dc=x'), { resolve })(user)).toBe(true);
    expect(compileFilter(chain('cn=other,dc=x'), { resolve })(user)).toBe(false);
    expect(compileFilter(chain('cn=g3,dc=x'))(user)).toBe(false); // no resolver: Undefined
  });
});

describe('matching rules', () => {
  it('normalises by syntax and never throws on bad DNs', () => {
    expect(normalise('cn', '  José   Núñez ')).toBe('josé núñez');
    expect(normalise('objectGUID', guid)).toBe('0080ff10');
    expect(normalise('userAccountControl', '+0512')).toBe('512');
    expect(normalise('member', 'CN=A, DC=X')).toBe('cn=a,dc=x');
    expect(normalise('member', 'not a dn')).toBe('not a dn');
    expect(normalise('msDS-UserAccountDisabled', 'true')).toBe('TRUE');
    expect(normalise('accountExpires', '9223372036854775807')).toBe('9223372036854775807');
  });

  it('orders integers numerically and refuses to order binary values', () => {
    expect(compareOrdering('userAccountControl', '66048', '512')).toBeGreaterThan(0);
    expect(compareOrdering('cn', 'B', 'a')).toBeGreaterThan(0);
    expect(compareOrdering('objectGUID', guid, guid)).toBeUndefined();
  });
});

describe('filterToString', () => {
  const cases: Array<[Filter, string]> = [
    [eq('cn', 'José'), '(cn=José)'],
    [eq('cn', 'a*b(c)\\d\0'), '(cn=a\\2ab\\28c\\29\\5cd\\00)'],
    [eq('objectGUID', Buffer.from([0x00, 0x80, 0xff])), '(objectGUID=\\00\\80\\ff)'],
    [eq('cn', Buffer.from([0x41, 0xff])), '(cn=\\41\\ff)'],
    [cisco(), '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))'],
    [or(present('mail'), approx('sn', 'x'), ge('uSNChanged', '10'), le('uSNChanged', '20')), '(|(mail=*)(sn~=x)(uSNChanged>=10)(uSNChanged<=20))'],
    [sub('cn', 'a', ['b', 'c'], 'd'), '(cn=a*b*c*d)'],
    [sub('cn', undefined, ['b']), '(cn=*b*)'],
    [ext(undefined, 'caseIgnoreMatch', 'x', true), '(:dn:caseIgnoreMatch:=x)'],
  ];
  it.each(cases)('%s', (f, want) => expect(filterToString(f)).toBe(want));

  function cisco(): Filter {
    return and(eq('objectclass', 'user'), not(eq('objectclass', 'Computer')), not(ext('UserAccountControl', '1.2.840.113556.1.4.803', '2')));
  }
});

describe('filters parsed from RFC 4515 text', () => {
  const cases: Array<[string, Entry, boolean]> = [
    ['(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))', jose, true],
    ['(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))', disabled, false],
    ['(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))', computer, false],
    ['(cn=josé*)', jose, true],
    ['(objectGUID=\\00\\80\\ff\\10)', jose, true],
    ['(!(msDS-UserAccountDisabled=TRUE))', jose, true],
  ];
  it.each(cases)('%s', (text, e, want) => {
    const filter = parseFilterString(text);
    expect(compileFilter(filter)(e)).toBe(want);
    expect(filterToString(filter)).toBe(text);
  });
});

describe('compileFilter: the work one entry costs', () => {
  // A letter and a run of combining marks NFKC reorders: preparing one such value takes long.
  const crafted = (i: number) => `${String.fromCharCode(97 + (i % 26))}${'\u0301\u0316\u0300\u0317'.repeat(200)}${i}`;
  const entry = new Entry(Dn.parse('cn=x,dc=test'), [
    { name: 'cn', values: ['x'] },
    { name: 'description', values: Array.from({ length: 200 }, (_, i) => crafted(i)) },
  ]);
  const anyOf = (n: number, term: (i: number) => string) => parseFilterString(`(|${Array.from({ length: n }, (_, i) => term(i)).join('')})`);

  it('prepares each value of the entry once for many assertions: equality, ordering and substrings alike', () => {
    for (const filter of [anyOf(499, (i) => `(description=y${i})`), anyOf(499, (i) => `(description>=${'\uffff'}${i})`), anyOf(499, (i) => `(description=*zq${i}*)`)]) {
      const meter = new FilterMeter();
      expect(compileFilter(filter, { meter })(entry)).toBe(false);
      const prepared = [...meter.keys.values()];
      expect(prepared).toHaveLength(1);
      expect(prepared[0].size).toBe(200); // not 499 × 200
      expect(meter.tests).toBeGreaterThanOrEqual(499 * 200);
    }
  });

  it('ends a test past MAX_TESTS_PER_ENTRY with adminLimitExceeded, a KiB of a value counting as one more', () => {
    const long = new Entry(Dn.parse('cn=y,dc=test'), [{ name: 'description', values: ['x'.repeat(900_000)] }]);
    expect(() => compileFilter(anyOf(200, (i) => `(description=y${i})`))(long)).toThrow(expect.objectContaining({ code: 11 }) as unknown as Error);
    expect(compileFilter(parseFilterString('(description=y)'))(long)).toBe(false);
    expect(MAX_TESTS_PER_ENTRY).toBe(100_000);
  });
});
