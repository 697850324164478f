import { describe, expect, it } from 'vitest';
import { rangeRequests, withRanges } from '../../src/backends/memory/ad-profile.js';
import { applyLdifChanges, entriesToLdif, parseLdifChanges } from '../../src/backends/memory/ldif.js';
import { MemoryDirectory } from '../../src/backends/memory/memory-directory.js';
import type { SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { searchCtx } from '../support/search-context.js';

// The memory directory's journal (the mock's reset) and its Active Directory profile.

const ctx = searchCtx();
const SUFFIX = Dn.parse('DC=x,DC=test');
const dn = (rdn: string, ou = 'Users') => Dn.parse(`${rdn},OU=${ou},DC=x,DC=test`);

const LDIF = `dn: DC=x,DC=test
objectClass: domain
dc: x
uSNChanged: 700

dn: OU=Users,DC=x,DC=test
objectClass: organizationalUnit
ou: Users

dn: OU=Groups,DC=x,DC=test
objectClass: organizationalUnit
ou: Groups

dn: CN=Ann,OU=Users,DC=x,DC=test
objectClass: user
cn: Ann
sAMAccountName: ann
memberOf: CN=Bogus,OU=Groups,DC=x,DC=test
whenChanged: 20200101000000.0Z
uSNChanged: 800

dn: CN=Bob,OU=Users,DC=x,DC=test
objectClass: user
cn: Bob
sAMAccountName: bob

dn: CN=Staff,OU=Groups,DC=x,DC=test
objectClass: group
cn: Staff
member: CN=Ann,OU=Users,DC=x,DC=test
member: CN=Bob,OU=Users,DC=x,DC=test
`;

function load(ad = true): MemoryDirectory {
  return MemoryDirectory.fromLdif({ suffix: SUFFIX, sources: [{ name: 't.ldif', text: LDIF }], journal: true, ...(ad && { ad: { maxValRange: 3 } }) });
}

async function read(dir: MemoryDirectory, at: Dn, attributes: string[] = []): Promise<Entry> {
  const request: SearchRequest = { base: at, scope: 'base', filter: { type: 'present', attribute: 'objectClass' }, attributes, typesOnly: false, sizeLimit: 0, timeLimit: 0 };
  for await (const e of dir.search(request, ctx)) return e;
  throw new Error(`no ${at.text}`);
}

const text = (e: Entry, name: string) => (e.get(name)?.values ?? []).map(String);
/** The directory's entries as LDIF blocks, in a fixed order (an undo may change the order of siblings). */
const dump = (dir: MemoryDirectory) => entriesToLdif(dir.entries()).trim().split('\n\n').sort();

describe('memory directory journal', () => {
  it('undoes adds, modifies, deletes and renames newest first, back to the loaded data', async () => {
    const dir = load(false);
    const loaded = dump(dir);
    const mark = dir.mark();
    await dir.add(new Entry(dn('CN=Cy'), [{ name: 'objectClass', values: ['user'] }, { name: 'cn', values: ['Cy'] }]), ctx);
    await dir.modify(dn('CN=Ann'), [{ operation: 'replace', attribute: { name: 'sn', values: ['A'] } }], ctx);
    await dir.delete(dn('CN=Bob'), ctx);
    await dir.modifyDn({ dn: Dn.parse('OU=Users,DC=x,DC=test'), newRdn: 'OU=People', deleteOldRdn: true }, ctx);
    const afterWrites = dir.mark();
    expect(afterWrites).toBeGreaterThan(mark);
    dir.undoTo(mark);
    expect(dump(dir)).toEqual(loaded);
    expect(dir.size).toBe(6);
    expect(text(await read(dir, dn('CN=Bob')), 'cn')).toEqual(['Bob']);
    expect(() => dir.undoTo(afterWrites)).toThrow(/already undone/);
  });

  it('keeps no journal unless asked', () => {
    const dir = MemoryDirectory.fromLdif({ suffix: SUFFIX, sources: [{ name: 't.ldif', text: LDIF }] });
    expect(() => dir.mark()).toThrow(/no journal/);
  });
});

describe('memory directory, profile ad', () => {
  it('computes memberOf from the groups and ignores it in the data', async () => {
    const dir = load();
    expect(text(await read(dir, dn('CN=Ann')), 'memberOf')).toEqual(['CN=Staff,OU=Groups,DC=x,DC=test']);
    expect(text(await read(dir, dn('CN=Bob')), 'memberOf')).toEqual(['CN=Staff,OU=Groups,DC=x,DC=test']);
    // The plain profile serves the data as it is.
    expect(text(await read(load(false), dn('CN=Ann')), 'memberOf')).toEqual(['CN=Bogus,OU=Groups,DC=x,DC=test']);
  });

  it('completes the parsed entries of canopy mock\'s load with memberOf from none, one or several groups, timestamps and objectCategory', async () => {
    const groups = ['G1', 'G2', 'G3'].map((g, i) => `dn: CN=${g},OU=Groups,DC=x,DC=test\nobjectClass: group\ncn: ${g}\n${['CN=Ann', 'CN=Bob', 'CN=Cy'].slice(i).map((u) => `member: ${u},OU=Users,DC=x,DC=test\n`).join('')}`);
    const people = ['Ann', 'Bob', 'Cy', 'Di'].map((u) => `dn: CN=${u},OU=Users,DC=x,DC=test\nobjectClass: user\ncn: ${u}\nmemberOf: CN=Bogus,OU=Groups,DC=x,DC=test\n`);
    const ldif = [`${LDIF.split('\n\n').slice(0, 3).join('\n\n')}\n`, ...people, ...groups].join('\n');
    const records = applyLdifChanges(parseLdifChanges(ldif, 't.ldif').map((c) => ({ ...c, source: 't.ldif' })));
    const dir = MemoryDirectory.fromRecords({ suffix: SUFFIX, records, ad: { maxValRange: 1500 } });
    const g = (name: string) => `CN=${name},OU=Groups,DC=x,DC=test`;
    expect(text(await read(dir, dn('CN=Ann')), 'memberOf')).toEqual([g('G1')]);
    expect(text(await read(dir, dn('CN=Bob')), 'memberOf')).toEqual([g('G1'), g('G2')]);
    expect(text(await read(dir, dn('CN=Cy')), 'memberOf')).toEqual([g('G1'), g('G2'), g('G3')]);
    const di = await read(dir, dn('CN=Di'), ['*', 'createTimestamp', 'modifyTimestamp']);
    expect(di.has('memberOf')).toBe(false);
    expect(text(di, 'createTimestamp')[0]).toMatch(/^\d{14}Z$/);
    expect(text(di, 'modifyTimestamp')).toEqual(text(di, 'createTimestamp'));
    expect(text(di, 'objectCategory')).toEqual(['CN=Person,CN=Schema,CN=Configuration,DC=x,DC=test']);
    expect(text(di, 'cn')).toEqual(['Di']);
  });

  it('maintains memberOf after every write, and refuses writing it', async () => {
    const dir = load();
    const staff = dn('CN=Staff', 'Groups');
    await dir.modify(staff, [{ operation: 'delete', attribute: { name: 'member', values: ['cn=ann,ou=users,dc=x,dc=test'] } }], ctx);
    expect((await read(dir, dn('CN=Ann'))).has('memberOf')).toBe(false);
    await dir.add(new Entry(dn('CN=Admins', 'Groups'), [
      { name: 'objectClass', values: ['group'] },
      { name: 'member', values: [dn('CN=Ann').text, staff.text] },
    ]), ctx);
    expect(text(await read(dir, dn('CN=Ann')), 'memberOf')).toEqual([dn('CN=Admins', 'Groups').text]);
    expect(text(await read(dir, staff), 'memberOf')).toEqual([dn('CN=Admins', 'Groups').text]);
    // A renamed group is named by its new DN in its members' memberOf.
    await dir.modifyDn({ dn: dn('CN=Admins', 'Groups'), newRdn: 'CN=Root', deleteOldRdn: true }, ctx);
    expect(text(await read(dir, dn('CN=Ann')), 'memberOf')).toEqual([dn('CN=Root', 'Groups').text]);
    // A renamed member is named by its new DN in the groups; a deleted one leaves them.
    await dir.modifyDn({ dn: dn('CN=Bob'), newRdn: 'CN=Robert', deleteOldRdn: true }, ctx);
    expect(text(await read(dir, staff), 'member')).toEqual([dn('CN=Robert').text]);
    expect(text(await read(dir, dn('CN=Robert')), 'memberOf')).toEqual([staff.text]);
    await dir.delete(dn('CN=Robert'), ctx);
    expect((await read(dir, staff)).has('member')).toBe(false);
    const refused = dir.modify(dn('CN=Ann'), [{ operation: 'add', attribute: { name: 'memberOf', values: [staff.text] } }], ctx);
    await expect(refused).rejects.toMatchObject({ code: ResultCode.constraintViolation });
    expect(await refused.catch((e: unknown) => e)).toBeInstanceOf(LdapError);
  });

  it('refuses removing the naming value as AD does (notAllowedOnRDN)', async () => {
    const refused = load().modify(dn('CN=Ann'), [{ operation: 'replace', attribute: { name: 'cn', values: ['Anne'] } }], ctx);
    await expect(refused).rejects.toMatchObject({ code: ResultCode.notAllowedOnRDN });
  });

  it('numbers every write with the next uSNChanged and sets whenChanged', async () => {
    const dir = load();
    await dir.modify(dn('CN=Bob'), [{ operation: 'replace', attribute: { name: 'sn', values: ['B'] } }], ctx);
    const bob = await read(dir, dn('CN=Bob'));
    expect(text(bob, 'uSNChanged')).toEqual(['801']); // after the highest USN in the data
    expect(text(bob, 'whenChanged')[0]).toMatch(/^\d{14}\.0Z$/);
    await dir.add(new Entry(dn('CN=Cy'), [{ name: 'objectClass', values: ['user'] }]), ctx);
    const cy = await read(dir, dn('CN=Cy'));
    expect(text(cy, 'uSNCreated')).toEqual(['802']);
    expect(text(cy, 'uSNChanged')).toEqual(['802']);
    expect(cy.has('whenCreated')).toBe(true);
  });

  it('undoes back-link changes with the writes that caused them', async () => {
    const dir = load();
    const loaded = dump(dir);
    await dir.delete(dn('CN=Staff', 'Groups'), ctx);
    expect((await read(dir, dn('CN=Ann'))).has('memberOf')).toBe(false);
    dir.undoTo(0);
    expect(dump(dir)).toEqual(loaded);
  });

  it('returns large attributes in ranges', async () => {
    const dir = load(); // maxValRange 3
    await dir.modify(dn('CN=Staff', 'Groups'), [{ operation: 'replace', attribute: { name: 'member', values: ['a', 'b', 'c', 'd', 'e'].map((c) => `CN=${c},DC=y`) } }], ctx);
    const first = await read(dir, dn('CN=Staff', 'Groups'), ['member']);
    expect(text(first, 'member;range=0-2')).toEqual(['CN=a,DC=y', 'CN=b,DC=y', 'CN=c,DC=y']);
    expect(first.has('member')).toBe(false);
    const next = await read(dir, dn('CN=Staff', 'Groups'), ['member;range=3-*']);
    expect(text(next, 'member;range=3-*')).toEqual(['CN=d,DC=y', 'CN=e,DC=y']);
  });
});

describe('range windows', () => {
  const entry = new Entry(SUFFIX, [
    { name: 'cn', values: ['x'] },
    { name: 'member', values: ['0', '1', '2', '3', '4', '5', '6'] },
  ]);
  const ranged = (attributes: string[]) => [...withRanges(entry, rangeRequests(attributes), 3).attributes()].map((a) => [a.name, a.values.join('')]);

  it('answers windows as AD does', () => {
    expect(ranged([])).toEqual([['cn', 'x'], ['member;range=0-2', '012']]);
    expect(ranged(['member;range=2-3'])).toEqual([['cn', 'x'], ['member;range=2-3', '23']]);
    expect(ranged(['Member;Range=3-*'])).toEqual([['cn', 'x'], ['member;range=3-5', '345']]);
    expect(ranged(['member;range=6-*'])).toEqual([['cn', 'x'], ['member;range=6-*', '6']]);
    expect(ranged(['member;range=9-*'])).toEqual([['cn', 'x']]);
    expect(ranged(['cn;range=0-*'])).toEqual([['cn;range=0-*', 'x'], ['member;range=0-2', '012']]);
  });

  it('leaves entries without large attributes untouched', () => {
    const small = new Entry(SUFFIX, [{ name: 'member', values: ['a'] }]);
    expect(withRanges(small, rangeRequests(['cn']), 3)).toBe(small);
  });
});
