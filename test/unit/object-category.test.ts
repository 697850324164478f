import { describe, expect, it } from 'vitest';
import { MemoryDirectory } from '../../src/backends/memory/memory-directory.js';
import { StoredEntry } from '../../src/backends/memory/stored-entry.js';
import { categoryName, expandObjectCategory, objectCategoryOf } from '../../src/backends/memory/object-category.js';
import { forestSchema } from '../../src/config/schema.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { filterToString } from '../../src/core/filter-text.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { upstreamFilter } from '../../src/stages/namespace/filter-rewrite.js';
import { compileForestView } from '../../src/stages/namespace/forest-view.js';
import { NamespaceMap } from '../../src/stages/namespace/namespace-map.js';
import { searchCtx } from '../support/search-context.js';

// AD's objectCategory under the memory backend's `profile: ad`: computed from objectClass,
// and `(objectCategory=<class name>)` expanded to the class's default category DN.

const ROOT = Dn.parse('DC=x,DC=test');
const SCHEMA = 'CN=Schema,CN=Configuration,DC=x,DC=test';
const ctx = searchCtx();

const withClasses = (...classes: string[]) => new Entry(Dn.parse('CN=e,DC=x,DC=test'), [{ name: 'objectClass', values: classes }]);

describe('the category an entry gets from its object classes', () => {
  it.each([
    [['top', 'person', 'organizationalPerson', 'user'], 'Person'],
    [['top', 'person', 'organizationalPerson', 'user', 'computer'], 'Computer'],
    [['computer', 'user', 'top'], 'Computer'], // order in the data does not matter for known classes
    [['top', 'person', 'organizationalPerson', 'user', 'inetOrgPerson'], 'Person'],
    [['top', 'person', 'organizationalPerson', 'contact'], 'Person'],
    [['top', 'person'], 'Person'],
    [['top', 'group'], 'Group'],
    [['top', 'organizationalUnit'], 'Organizational-Unit'],
    [['top', 'container'], 'Container'],
    [['top', 'domain', 'domainDNS'], 'Domain-DNS'],
    [['top', 'domain'], 'Domain-DNS'],
    [['TOP', 'USER'], 'Person'],
    [['top', '1.2.840.113556.1.5.8'], 'Group'], // a class named by its OID
    // anything else: the most specific (last) structural class, in AD's spelling of schema CNs
    [['top', 'groupOfNames'], 'Group-Of-Names'],
    [['top', 'msDS-PasswordSettings'], 'ms-DS-Password-Settings'],
    [['top', 'organization', 'dcObject'], 'Organization'], // an auxiliary class is never the category
  ])('%j → CN=%s', (classes, cn) => {
    expect(objectCategoryOf(withClasses(...classes), ROOT)).toBe(`CN=${cn},${SCHEMA}`);
  });

  it('gives none to an entry with no structural class', () => {
    expect(objectCategoryOf(withClasses('top'), ROOT)).toBeUndefined();
    expect(objectCategoryOf(withClasses('top', 'extensibleObject'), ROOT)).toBeUndefined();
  });

  it('answers entries sharing a stored list of classes alike, under each forest root, and a list that changed by its new classes', () => {
    const users = [0, 1].map((n) => StoredEntry.of(new Entry(Dn.parse(`CN=u${n},DC=x,DC=test`), [{ name: 'objectClass', values: ['top', 'person', 'user'] }])));
    expect(users[0].get('objectClass')!.values).toBe(users[1].get('objectClass')!.values);
    const other = Dn.parse('DC=other');
    expect(objectCategoryOf(users[0], ROOT)).toBe(`CN=Person,${SCHEMA}`);
    expect(objectCategoryOf(users[1], ROOT)).toBe(`CN=Person,${SCHEMA}`);
    expect(objectCategoryOf(users[1], other)).toBe('CN=Person,CN=Schema,CN=Configuration,DC=other');
    // A plain entry's list may change between two questions.
    const plain = withClasses('top', 'group');
    expect(objectCategoryOf(plain, ROOT)).toBe(`CN=Group,${SCHEMA}`);
    plain.get('objectClass')!.values.push('computer');
    expect(objectCategoryOf(plain, ROOT)).toBe(`CN=Computer,${SCHEMA}`);
  });

  it('names class CNs as AD does', () => {
    expect(categoryName('user')).toBe('Person');
    expect(categoryName('organizationalunit')).toBe('Organizational-Unit');
    expect(categoryName('printQueue')).toBe('Print-Queue');
    expect(categoryName('foo')).toBe('Foo');
  });
});

const expand = (filter: string) => filterToString(expandObjectCategory(parseFilterString(filter), ROOT));

describe('(objectCategory=<class name>) in a filter', () => {
  it.each([
    ['(objectCategory=person)', `(objectCategory=CN=Person,${SCHEMA})`],
    ['(objectCategory=user)', `(objectCategory=CN=Person,${SCHEMA})`], // user's default category is Person
    ['(objectCategory=contact)', `(objectCategory=CN=Person,${SCHEMA})`],
    ['(objectcategory=Computer)', `(objectcategory=CN=Computer,${SCHEMA})`],
    ['(objectCategory=group)', `(objectCategory=CN=Group,${SCHEMA})`],
    ['(objectCategory=organizationalUnit)', `(objectCategory=CN=Organizational-Unit,${SCHEMA})`],
    [
      '(&(objectCategory=person)(objectClass=user)(!(|(objectCategory=computer)(cn=x))))',
      `(&(objectCategory=CN=Person,${SCHEMA})(objectClass=user)(!(|(objectCategory=CN=Computer,${SCHEMA})(cn=x))))`,
    ],
  ])('%s → %s', (filter, expected) => {
    expect(expand(filter)).toBe(expected);
  });

  it('knows objectCategory by its OID', () => {
    const byOid = { type: 'equality', attribute: '1.2.840.113556.1.4.782', value: Buffer.from('person') } as const;
    expect(filterToString(expandObjectCategory(byOid, ROOT))).toBe(`(1.2.840.113556.1.4.782=CN=Person,${SCHEMA})`);
  });

  it.each([
    `(objectCategory=CN=Person,${SCHEMA})`, // already a DN
    '(objectCategory=*)',
    '(objectCategory=pers*)',
    '(objectClass=person)',
    '(cn=person)',
  ])('leaves %s alone', (filter) => {
    const parsed = parseFilterString(`(&${filter}(sn=x))`);
    expect(expandObjectCategory(parsed, ROOT)).toBe(parsed); // the same object: nothing allocated
  });

  it('passes the namespace stage unchanged, while a virtual DN form is rewritten to the forest', () => {
    const view = compileForestView(
      forestSchema.parse({ name: 'x', backend: 'memory', ldif: ['unused.ldif'], base: 'DC=x,DC=test', mount: 'OU=x,DC=corp,DC=example' }),
    );
    const map = new NamespaceMap([view]);
    const upstream = (f: string) => filterToString(upstreamFilter(map, view, parseFilterString(f))!);
    expect(upstream('(&(objectCategory=person)(objectClass=user))')).toBe('(&(objectCategory=person)(objectClass=user))');
    expect(upstream('(objectCategory=CN=Person,CN=Schema,CN=Configuration,OU=x,DC=corp,DC=example)')).toBe(`(objectCategory=CN=Person,${SCHEMA})`);
  });
});

const LDIF = `dn: DC=x,DC=test
objectClass: top
objectClass: domain
objectClass: domainDNS
dc: x

dn: OU=Users,DC=x,DC=test
objectClass: top
objectClass: organizationalUnit
ou: Users

dn: CN=Ann,OU=Users,DC=x,DC=test
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Ann

dn: CN=Bob,OU=Users,DC=x,DC=test
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Bob
objectCategory: CN=Special-Person,${SCHEMA}

dn: CN=PC1,OU=Users,DC=x,DC=test
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
objectClass: computer
cn: PC1

dn: CN=Staff,OU=Users,DC=x,DC=test
objectClass: top
objectClass: group
cn: Staff
`;

const load = (ad: boolean) =>
  MemoryDirectory.fromLdif({ suffix: ROOT, sources: [{ name: 't.ldif', text: LDIF }], journal: true, ...(ad && { ad: { maxValRange: 1500 } }) });

async function names(dir: MemoryDirectory, filter: string): Promise<string[]> {
  const out: string[] = [];
  const request = { base: ROOT, scope: 'sub' as const, filter: parseFilterString(filter), attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
  for await (const e of dir.search(request, ctx)) out.push(e.dn.rdns[0].avas[0].value);
  return out.sort();
}

describe('memory directory, profile ad', () => {
  it('gives every loaded entry its category and keeps one the data gives', async () => {
    const dir = load(true);
    const category = (cn: string) => [...dir.entries()].find((e) => e.dn.rdns[0].avas[0].value === cn)?.get('objectCategory')?.values;
    expect(category('x')).toEqual([`CN=Domain-DNS,${SCHEMA}`]);
    expect(category('Users')).toEqual([`CN=Organizational-Unit,${SCHEMA}`]);
    expect(category('Ann')).toEqual([`CN=Person,${SCHEMA}`]);
    expect(category('Bob')).toEqual([`CN=Special-Person,${SCHEMA}`]);
    expect(category('PC1')).toEqual([`CN=Computer,${SCHEMA}`]);
    expect(category('Staff')).toEqual([`CN=Group,${SCHEMA}`]);
  });

  it('finds users, not computers or groups, with (&(objectCategory=person)(objectClass=user))', async () => {
    const dir = load(true);
    expect(await names(dir, '(&(objectCategory=person)(objectClass=user))')).toEqual(['Ann']);
    expect(await names(dir, '(objectCategory=user)')).toEqual(['Ann']);
    expect(await names(dir, '(objectCategory=computer)')).toEqual(['PC1']);
    expect(await names(dir, '(objectCategory=group)')).toEqual(['Staff']);
    expect(await names(dir, `(objectCategory=cn=person,cn=schema,cn=configuration,dc=x,dc=test)`)).toEqual(['Ann']);
    expect(await names(dir, '(objectCategory=*)')).toEqual(['Ann', 'Bob', 'PC1', 'Staff', 'Users', 'x']);
    expect(await names(dir, '(&(objectClass=user)(!(objectCategory=computer)))')).toEqual(['Ann', 'Bob']);
    expect(await names(dir, '(objectCategory=noSuchClass)')).toEqual([]);
  });

  it('gives an added entry its category, and a reset takes it back', async () => {
    const dir = load(true);
    const mark = dir.mark();
    const dn = Dn.parse('CN=Cy,OU=Users,DC=x,DC=test');
    await dir.add(new Entry(dn, [{ name: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }]), ctx);
    const given = Dn.parse('CN=Di,OU=Users,DC=x,DC=test');
    await dir.add(new Entry(given, [{ name: 'objectClass', values: ['contact'] }, { name: 'objectCategory', values: [`CN=Other,${SCHEMA}`] }]), ctx);
    expect(await names(dir, '(objectCategory=person)')).toEqual(['Ann', 'Cy']);
    expect(await names(dir, `(objectCategory=CN=Other,${SCHEMA})`)).toEqual(['Di']);
    dir.undoTo(mark);
    expect(await names(dir, '(objectCategory=person)')).toEqual(['Ann']);
  });

  it('is not computed without the profile: plain forests hold no objectCategory', async () => {
    const dir = load(false);
    expect([...dir.entries()].filter((e) => e.has('objectCategory')).map((e) => e.dn.rdns[0].avas[0].value)).toEqual(['Bob']);
    expect(await names(dir, '(objectCategory=person)')).toEqual([]);
  });
});
