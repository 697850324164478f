import { describe, expect, it } from 'vitest';
import { AD_DEFAULTS } from '../../src/backends/memory/ad-profile.js';
import { MAX_SELF_WRITTEN_ENTRY, SELF_WRITABLE, selfWritable } from '../../src/backends/memory/entry-writes.js';
import { MemoryDirectory } from '../../src/backends/memory/memory-directory.js';
import { hashPassword } from '../../src/backends/memory/password.js';
import { LdifError } from '../../src/backends/memory/ldif.js';
import { AttributeIndex } from '../../src/backends/memory/attribute-index.js';
import { candidates } from '../../src/backends/memory/query-plan.js';
import type { Modification, OperationContext, Scope, SearchContext } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { compileFilter } from '../../src/core/filter-eval.js';
import type { Filter } from '../../src/core/filter.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { attributeKey, keyKind } from '../../src/core/schema.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { generateForest } from '../../src/tools/fixture-generator.js';
import { searchCtx } from '../support/search-context.js';

const b = (v: string | Buffer): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
const eq = (attribute: string, value: string | Buffer): Filter => ({ type: 'equality', attribute, value: b(value) });
const present = (attribute: string): Filter => ({ type: 'present', attribute });
const and = (...filters: Filter[]): Filter => ({ type: 'and', filters });
const or = (...filters: Filter[]): Filter => ({ type: 'or', filters });
const not = (filter: Filter): Filter => ({ type: 'not', filter });
const prefix = (attribute: string, initial: string, final?: string): Filter => ({
  type: 'substrings',
  attribute,
  initial: b(initial),
  any: [],
  ...(final !== undefined ? { final: b(final) } : {}),
});
const bitAnd = (attribute: string, value: string): Filter => ({
  type: 'extensible',
  attribute,
  rule: '1.2.840.113556.1.4.803',
  value: b(value),
  dnAttributes: false,
});

const ctx = (signal: AbortSignal = new AbortController().signal): SearchContext => searchCtx({ signal });
const SUFFIX = Dn.parse('DC=avvid,DC=info');

const BASE = `version: 1

dn: DC=avvid,DC=info
objectClass: top
objectClass: domain
objectClass: domainDNS
dc: avvid

dn: OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: organizationalUnit
ou: Users

dn: CN=John Doe,OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: John Doe
sn: Doe
sAMAccountName: jdoe
userPrincipalName: jdoe@avvid.info
mail: john.doe@avvid.info
userAccountControl: 512
userPassword: secret
manager: CN=Jane Boss,OU=Users,DC=avvid,DC=info
objectGUID:: AID/EA==

dn: CN=Jane Boss,OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Jane Boss
sAMAccountName: jboss
userAccountControl: 512
userPassword: ${hashPassword('boss-pw')}

dn: CN=Dis Abled,OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: user
cn: Dis Abled
sAMAccountName: disabled
userAccountControl: 514
userPassword: secret

dn: CN=PC01,OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: user
objectClass: computer
cn: PC01
userAccountControl: 4096

dn: CN=Staff,DC=avvid,DC=info
objectClass: top
objectClass: group
cn: Staff
member: CN=John Doe,OU=Users,DC=avvid,DC=info
member: CN=Jane Boss,OU=Users,DC=avvid,DC=info
`;

function load(extra = '', ad = false): MemoryDirectory {
  return MemoryDirectory.fromLdif({ suffix: SUFFIX, sources: [{ name: 'test.ldif', text: BASE + '\n' + extra }], ...(ad && { ad: AD_DEFAULTS }) });
}

async function search(dir: MemoryDirectory, base: string, scope: Scope, filter: Filter = present('objectClass')): Promise<string[]> {
  const out: string[] = [];
  const request = { base: Dn.parse(base), scope, filter, attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
  for await (const e of dir.search(request, ctx())) out.push(e.dn.text);
  return out;
}

async function ldapError(p: Promise<unknown>): Promise<LdapError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LdapError) return err;
    throw err;
  }
  throw new Error('expected an LdapError');
}

const entry = (dn: string, attrs: Record<string, string[]>): Entry =>
  new Entry(Dn.parse(dn), Object.entries(attrs).map(([name, values]) => ({ name, values })));

describe('MemoryDirectory loading', () => {
  it('loads entries, parents first whatever the order of the sources', () => {
    const [head, ...rest] = BASE.split('\n\n');
    const dir = MemoryDirectory.fromLdif({
      suffix: SUFFIX,
      sources: [
        { name: 'users.ldif', text: rest.slice(1).join('\n\n') },
        { name: 'base.ldif', text: [head, rest[0]].join('\n\n') },
      ],
    });
    expect(dir.size).toBe(7);
    expect([...dir.entries()][0].dn.text).toBe('DC=avvid,DC=info');
    expect(dir.namingContexts()).toEqual([SUFFIX]);
  });

  const failures: Array<[string, string, RegExp]> = [
    ['outside the suffix', 'dn: dc=other\nobjectClass: top\n', /^test\.ldif:\d+: .*outside the naming context/],
    ['missing parent', 'dn: cn=x,ou=nowhere,DC=avvid,DC=info\nobjectClass: top\n', /^test\.ldif:\d+: parent .* does not exist/],
    ['duplicate', 'dn: cn=staff,dc=AVVID,dc=info\nobjectClass: top\n', /duplicate entry .*first defined at test\.ldif:\d+/],
    ['no objectClass', 'dn: cn=x,DC=avvid,DC=info\ncn: x\n', /has no objectClass/],
  ];
  it.each(failures)('refuses an entry %s, naming file and line', (_n, extra, message) => {
    expect(() => load(extra)).toThrow(LdifError);
    expect(() => load(extra)).toThrow(message);
  });
});

describe('MemoryDirectory search', () => {
  const dir = load();

  it('honours scopes', async () => {
    expect(await search(dir, 'dc=AVVID,dc=info', 'base')).toEqual(['DC=avvid,DC=info']);
    expect(await search(dir, 'dc=avvid,dc=info', 'one')).toEqual(['OU=Users,DC=avvid,DC=info', 'CN=Staff,DC=avvid,DC=info']);
    expect(await search(dir, 'ou=users,dc=avvid,dc=info', 'sub')).toHaveLength(5);
    expect(await search(dir, 'dc=avvid,dc=info', 'sub')).toHaveLength(7);
  });

  it('sees the whole tree from above the naming context', async () => {
    expect(await search(dir, 'dc=info', 'sub')).toHaveLength(7);
    expect(await search(dir, 'dc=info', 'one')).toEqual(['DC=avvid,DC=info']);
    expect(await search(dir, '', 'sub', eq('sAMAccountName', 'jdoe'))).toEqual(['CN=John Doe,OU=Users,DC=avvid,DC=info']);
  });

  it('fails a missing base with noSuchObject and the longest existing ancestor', async () => {
    const err = await ldapError(search(dir, 'cn=nobody,cn=ghosts,ou=USERS,dc=avvid,dc=info', 'sub'));
    expect(err.code).toBe(ResultCode.noSuchObject);
    expect(err.matchedDn).toBe('OU=Users,DC=avvid,DC=info');
    const outside = await ldapError(search(dir, 'dc=elsewhere', 'base'));
    expect(outside.code).toBe(ResultCode.noSuchObject);
    expect(outside.matchedDn).toBe('');
  });

  it('stops when the operation is abandoned', async () => {
    const abort = new AbortController();
    const request = { base: SUFFIX, scope: 'sub' as const, filter: present('objectClass'), attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
    const seen: string[] = [];
    await expect(async () => {
      for await (const e of dir.search(request, ctx(abort.signal))) {
        seen.push(e.dn.text);
        abort.abort();
      }
    }).rejects.toThrow();
    expect(seen).toHaveLength(1);
  });

  it('returns stored entries that cannot be changed in place', async () => {
    const request = { base: SUFFIX, scope: 'sub' as const, filter: eq('sAMAccountName', 'jdoe'), attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
    for await (const e of dir.search(request, ctx())) {
      expect(() => e.get('cn')!.values.push('x')).toThrow(TypeError);
      expect(e.get('createTimestamp')?.values[0]).toMatch(/^\d{14}Z$/);
    }
  });
});

describe('MemoryDirectory indexes agree with a scan', () => {
  const users = Array.from({ length: 300 }, (_, i) =>
    [
      `dn: CN=User ${i},OU=Users,DC=avvid,DC=info`,
      'objectClass: top',
      'objectClass: user',
      `cn: User ${i}`,
      `sAMAccountName: user${i}`,
      `mail: user${i}@avvid.info`,
      `userAccountControl: ${i % 7 === 0 ? 514 : 512}`,
      `manager: CN=User ${i % 10},OU=Users,DC=avvid,DC=info`,
    ].join('\n'),
  ).join('\n\n');
  const dir = load(users);
  const filters: Array<[string, Filter]> = [
    ['equality', eq('samaccountname', 'USER42')],
    ['equality on a DN attribute', eq('manager', 'cn=user 3, ou=users,dc=avvid,dc=info')],
    ['member', eq('member', 'CN=John Doe,OU=Users,DC=avvid,DC=info')],
    ['binary GUID', eq('objectGUID', Buffer.from([0x00, 0x80, 0xff, 0x10]))],
    ['prefix', prefix('cn', 'user 1')],
    ['prefix and final', prefix('mail', 'USER2', '@avvid.info')],
    ['AND picks an index and re-checks', and(eq('objectClass', 'user'), prefix('sAMAccountName', 'user1'), not(bitAnd('userAccountControl', '2')))],
    ['OR of indexed branches', or(eq('uid', 'nobody'), eq('sAMAccountName', 'user7'), eq('mail', 'user8@avvid.info'))],
    ['OR with an unindexed branch', or(eq('sAMAccountName', 'user7'), eq('sn', 'doe'))],
    ['objectClass only', eq('objectClass', 'USER')],
    ['no match', eq('cn', 'nobody')],
  ];
  it.each(filters)('%s', async (_n, filter) => {
    const scan = [...dir.entries()].filter((e) => e.dn.isWithin(Dn.parse('ou=users,dc=avvid,dc=info')) && compileFilter(filter)(e));
    const got = await search(dir, 'ou=users,dc=avvid,dc=info', 'sub', filter);
    expect(got.sort()).toEqual(scan.map((e) => e.dn.text).sort());
    expect(await search(dir, 'dc=avvid,dc=info', 'one', filter)).toEqual(
      [...dir.entries()].filter((e) => e.dn.depth === 3 && compileFilter(filter)(e)).map((e) => e.dn.text),
    );
  });

  // Speed is measured by bench/search-throughput.ts; here: lookups read the index, not the tree.
  it('plans indexed lookups to the matching entries only, and unindexed filters as scans', () => {
    const idx = new Map([['samaccountname', new AttributeIndex('sAMAccountName')], ['objectclass', new AttributeIndex('objectClass')]]);
    for (const e of dir.entries()) idx.forEach((index) => index.add(e, e.dn.key));
    const plan = candidates(and(eq('objectClass', 'user'), eq('sAMAccountName', 'USER42')), idx);
    expect([...(plan ?? [])]).toEqual(['cn=user 42,ou=users,dc=avvid,dc=info']);
    expect(candidates(eq('sn', 'doe'), idx)).toBeUndefined();
    expect(candidates(or(eq('sAMAccountName', 'user7'), eq('sn', 'doe')), idx)).toBeUndefined();
  });

  it('keeps an index value right as entries holding it come and go', () => {
    const index = new AttributeIndex('department');
    const person = (cn: string, department: string): Entry => entry(`cn=${cn},dc=avvid,dc=info`, { department: [department] });
    const [ann, bob, cy] = [person('ann', 'Sales'), person('bob', 'sales'), person('cy', 'Sales Ops')];
    for (const e of [ann, bob, cy]) index.add(e, e.dn.key);
    expect([...index.equal('sales')]).toEqual([ann.dn.key, bob.dn.key]);
    expect([...index.prefix('sales')].sort()).toEqual([ann.dn.key, bob.dn.key, cy.dn.key]);
    index.remove(ann, ann.dn.key);
    expect([...index.equal('sales')]).toEqual([bob.dn.key]);
    index.add(ann, ann.dn.key);
    index.remove(bob, bob.dn.key);
    expect([...index.equal('sales')]).toEqual([ann.dn.key]);
    index.remove(ann, ann.dn.key);
    index.remove(ann, ann.dn.key); // already gone: no effect
    expect(index.equal('sales').size).toBe(0);
    expect([...index.prefix('sal')]).toEqual([cy.dn.key]);
  });
});

describe('MemoryDirectory writes', () => {
  const JOHN = Dn.parse('cn=john doe,ou=users,dc=avvid,dc=info');
  const mod = (operation: Modification['operation'], name: string, ...values: string[]): Modification => ({
    operation,
    attribute: { name, values },
  });

  it('adds an entry, adding the RDN value and timestamps', async () => {
    const dir = load();
    await dir.add(entry('cn=New Person,ou=Users,dc=avvid,dc=info', { objectClass: ['user'], sn: ['Person'] }), ctx());
    const found = await search(dir, 'dc=avvid,dc=info', 'sub', eq('cn', 'new person'));
    expect(found).toEqual(['cn=New Person,OU=Users,DC=avvid,DC=info']); // under the parent's spelling
    const stored = [...dir.entries()].find((e) => e.dn.text === found[0])!;
    expect(stored.get('modifyTimestamp')?.values[0]).toMatch(/^\d{14}Z$/);
  });

  const addFailures: Array<[string, Entry, number, string?]> = [
    ['existing entry', entry('CN=JOHN DOE,OU=Users,DC=avvid,DC=info', { objectClass: ['user'] }), ResultCode.entryAlreadyExists],
    ['missing parent', entry('cn=x,ou=gone,ou=Users,dc=avvid,dc=info', { objectClass: ['user'] }), ResultCode.noSuchObject, 'OU=Users,DC=avvid,DC=info'],
    ['outside the suffix', entry('cn=x,dc=other', { objectClass: ['user'] }), ResultCode.noSuchObject, ''],
    ['no objectClass', entry('cn=x,dc=avvid,dc=info', { cn: ['x'] }), ResultCode.objectClassViolation],
    ['server attribute', entry('cn=x,dc=avvid,dc=info', { objectClass: ['user'], createTimestamp: ['20200101000000Z'] }), ResultCode.constraintViolation],
    ['duplicate values', entry('cn=x,dc=avvid,dc=info', { objectClass: ['user'], mail: ['a@x', 'A@X'] }), ResultCode.attributeOrValueExists],
  ];
  it.each(addFailures)('add refuses %s', async (_n, e, code, matched) => {
    const err = await ldapError(load().add(e, ctx()));
    expect(err.code).toBe(code);
    if (matched !== undefined) expect(err.matchedDn).toBe(matched);
  });

  it('modifies with add, delete and replace, replacing the stored entry', async () => {
    const dir = load();
    const before = [...dir.entries()].find((e) => e.dn.key === JOHN.key)!;
    await dir.modify(JOHN, [mod('add', 'telephoneNumber', '+1 555 0100'), mod('replace', 'mail', 'jd@avvid.info'), mod('delete', 'sn')], ctx());
    expect(before.get('mail')?.values).toEqual(['john.doe@avvid.info']); // the old object is untouched
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('mail', 'JD@avvid.info'))).toHaveLength(1);
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('mail', 'john.doe@avvid.info'))).toHaveLength(0);
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', present('sn'))).toHaveLength(0);
    await dir.modify(JOHN, [mod('delete', 'telephoneNumber', '+1  555 0100')], ctx());
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', present('telephoneNumber'))).toHaveLength(0);
  });

  const modifyFailures: Array<[string, Modification[], number]> = [
    ['deleting a missing value', [mod('delete', 'mail', 'other@x')], ResultCode.noSuchAttribute],
    ['deleting a missing attribute', [mod('delete', 'pager')], ResultCode.noSuchAttribute],
    ['adding an existing value', [mod('add', 'mail', 'JOHN.DOE@avvid.info')], ResultCode.attributeOrValueExists],
    ['removing every objectClass', [mod('delete', 'objectClass')], ResultCode.objectClassViolation],
    ['changing the RDN value', [mod('replace', 'cn', 'Johnny')], ResultCode.namingViolation], // as OpenLDAP; AD: see mock-memory-ad
    ['a value its syntax refuses', [mod('replace', 'userAccountControl', '0x200')], ResultCode.invalidAttributeSyntax],
    ['several values of a single-valued attribute', [mod('add', 'displayName', 'John', 'Johnny')], ResultCode.constraintViolation],
    ['writing a server attribute', [mod('replace', 'modifyTimestamp', '20200101000000Z')], ResultCode.constraintViolation],
  ];
  it.each(modifyFailures)('modify refuses %s, changing nothing', async (_n, changes, code) => {
    const dir = load();
    const err = await ldapError(dir.modify(JOHN, [mod('replace', 'title', 'Boss'), ...changes], ctx()));
    expect(err.code).toBe(code);
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', present('title'))).toHaveLength(0);
  });

  it('modify of a missing entry is noSuchObject', async () => {
    const err = await ldapError(load().modify(Dn.parse('cn=x,ou=users,dc=avvid,dc=info'), [mod('add', 'cn', 'x')], ctx()));
    expect(err.code).toBe(ResultCode.noSuchObject);
    expect(err.matchedDn).toBe('OU=Users,DC=avvid,DC=info');
  });

  it('deletes leaves only', async () => {
    const dir = load();
    expect((await ldapError(dir.delete(Dn.parse('ou=users,dc=avvid,dc=info'), ctx()))).code).toBe(ResultCode.notAllowedOnNonLeaf);
    expect((await ldapError(dir.delete(Dn.parse('cn=x,dc=avvid,dc=info'), ctx()))).code).toBe(ResultCode.noSuchObject);
    await dir.delete(JOHN, ctx());
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('sAMAccountName', 'jdoe'))).toEqual([]);
    expect(dir.size).toBe(6);
  });

  it('renames in place, with and without deleteOldRdn', async () => {
    const dir = load();
    await dir.modifyDn({ dn: JOHN, newRdn: 'cn=Johnny Doe', deleteOldRdn: false }, ctx());
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('cn', 'john doe'))).toEqual(['cn=Johnny Doe,OU=Users,DC=avvid,DC=info']);
    await dir.modifyDn({ dn: Dn.parse('cn=johnny doe,ou=users,dc=avvid,dc=info'), newRdn: 'cn=JD', deleteOldRdn: true }, ctx());
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('sAMAccountName', 'jdoe'))).toEqual(['cn=JD,OU=Users,DC=avvid,DC=info']);
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('cn', 'johnny doe'))).toEqual([]);
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('cn', 'john doe'))).toEqual(['cn=JD,OU=Users,DC=avvid,DC=info']);
  });

  it('moves a subtree under a new superior', async () => {
    const dir = load('dn: OU=Archive,DC=avvid,DC=info\nobjectClass: organizationalUnit\nou: Archive\n');
    await dir.modifyDn({ dn: Dn.parse('ou=users,dc=avvid,dc=info'), newRdn: 'ou=Old Users', deleteOldRdn: true, newSuperior: Dn.parse('ou=archive,dc=avvid,dc=info') }, ctx());
    expect(await search(dir, 'ou=old users,ou=archive,dc=avvid,dc=info', 'one', eq('sAMAccountName', 'jdoe'))).toEqual([
      'CN=John Doe,ou=Old Users,OU=Archive,DC=avvid,DC=info',
    ]);
    expect(await search(dir, 'ou=archive,dc=avvid,dc=info', 'sub')).toHaveLength(6);
    expect((await ldapError(search(dir, 'ou=users,dc=avvid,dc=info', 'base'))).code).toBe(ResultCode.noSuchObject);
    await dir.modify(Dn.parse('cn=john doe,ou=old users,ou=archive,dc=avvid,dc=info'), [mod('replace', 'title', 'x')], ctx());
  });

  const renameFailures: Array<[string, { dn: string; newRdn: string; newSuperior?: string }, number]> = [
    ['a missing entry', { dn: 'cn=x,dc=avvid,dc=info', newRdn: 'cn=y' }, ResultCode.noSuchObject],
    ['onto an existing entry', { dn: 'cn=john doe,ou=users,dc=avvid,dc=info', newRdn: 'cn=Jane Boss' }, ResultCode.entryAlreadyExists],
    ['under a missing superior', { dn: 'cn=staff,dc=avvid,dc=info', newRdn: 'cn=staff', newSuperior: 'ou=gone,dc=avvid,dc=info' }, ResultCode.noSuchObject],
    ['below itself', { dn: 'ou=users,dc=avvid,dc=info', newRdn: 'ou=x', newSuperior: 'cn=john doe,ou=users,dc=avvid,dc=info' }, ResultCode.unwillingToPerform],
  ];
  it.each(renameFailures)('modifyDn refuses %s', async (_n, r, code) => {
    const request = { dn: Dn.parse(r.dn), newRdn: r.newRdn, deleteOldRdn: true, ...(r.newSuperior ? { newSuperior: Dn.parse(r.newSuperior) } : {}) };
    expect((await ldapError(load().modifyDn(request, ctx()))).code).toBe(code);
  });

  it('a rename to another value of a single-valued type is a constraintViolation (19), as slapd answers; to its own value it is done', async () => {
    const dir = load();
    await dir.modify(JOHN, [mod('replace', 'employeeNumber', '100002')], ctx());
    for (const newRdn of ['employeeNumber=999', 'EMPLOYEENUMBER=999', '2.16.840.1.113730.3.1.3=999']) {
      expect((await ldapError(dir.modifyDn({ dn: JOHN, newRdn, deleteOldRdn: true }, ctx()))).code, newRdn).toBe(ResultCode.constraintViolation);
    }
    await dir.modifyDn({ dn: JOHN, newRdn: 'employeeNumber=100002', deleteOldRdn: true }, ctx());
    expect(await search(dir, 'employeeNumber=100002,ou=users,dc=avvid,dc=info', 'base', eq('employeeNumber', '100002'))).toHaveLength(1);
    expect(await search(dir, 'ou=users,dc=avvid,dc=info', 'sub', eq('employeeNumber', '999'))).toEqual([]);
  });

  it('compares with the matching rules', async () => {
    const dir = load();
    expect(await dir.compare(JOHN, 'SAMACCOUNTNAME', 'JDOE', ctx())).toBe(true);
    expect(await dir.compare(JOHN, 'userAccountControl', '0512', ctx())).toBe(true);
    expect(await dir.compare(JOHN, 'manager', 'cn=jane boss,ou=users,dc=avvid,dc=info', ctx())).toBe(true);
    expect(await dir.compare(JOHN, 'objectGUID', Buffer.from([0x00, 0x80, 0xff, 0x10]), ctx())).toBe(true);
    expect(await dir.compare(JOHN, 'sn', 'smith', ctx())).toBe(false);
    expect((await ldapError(dir.compare(JOHN, 'title', 'x', ctx()))).code).toBe(ResultCode.noSuchAttribute);
    expect((await ldapError(dir.compare(Dn.parse('cn=x,dc=avvid,dc=info'), 'cn', 'x', ctx()))).code).toBe(ResultCode.noSuchObject);
  });
});

/**
 * A forest user writing as itself (`asUser`), without an access rule granting the write: on its own
 * entry it may change what Active Directory lets SELF change (Personal-Information and
 * Web-Information) and its password, nothing else, in both profiles.
 */
describe('MemoryDirectory: a user writing its own entry', () => {
  const JOHN = Dn.parse('cn=john doe,ou=users,dc=avvid,dc=info');
  const JANE = Dn.parse('cn=jane boss,ou=users,dc=avvid,dc=info');
  const asJohn = (rulesAllow = false): OperationContext => ({ ...ctx(), asUser: { dn: JOHN, rulesAllow } });
  const replace = (name: string, ...values: (string | Buffer)[]): Modification => ({ operation: 'replace', attribute: { name, values } });
  const stored = (dir: MemoryDirectory, at: Dn) => [...dir.entries()].find((e) => e.dn.key === at.key)!;
  const profiles: Array<[string, boolean]> = [
    ['plain', false],
    ['ad', true],
  ];

  // By LDAP name, alias, OID (the schema's or Microsoft's), with options: one type each.
  const allowed: Array<[string, string | Buffer]> = [
    ['telephoneNumber', '+1 555 0101'],
    ['2.5.4.20', '+1 555 0102'],
    ['OID.2.5.4.20', '+1 555 0103'],
    ['TELEPHONENUMBER', '+1 555 0104'],
    ['mobileTelephoneNumber', '+1 555 0105'],
    ['homePhone', '+1 555 0106'],
    ['pager', '+1 555 0107'],
    ['ipPhone', '4711'],
    ['otherTelephone', '+1 555 0108'],
    ['1.2.840.113556.1.2.18', '+1 555 0109'],
    ['facsimileTelephoneNumber', '+1 555 0110'],
    ['streetAddress', '1 Main St'],
    ['1.2.840.113556.1.2.256', '2 Main St'],
    ['l', 'San Jose'],
    ['st', 'CA'],
    ['c', 'US'],
    ['postalCode', '95134'],
    ['postOfficeBox', 'PO 1'],
    ['physicalDeliveryOfficeName', 'SJC-10'],
    ['homePostalAddress', '3 Home St'],
    ['info', 'a note'],
    ['thumbnailPhoto', Buffer.from([0xff, 0xd8, 0xff])],
    ['userCertificate;binary', Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])],
    ['wWWHomePage', 'https://example.org/~jdoe'],
    ['url', 'https://example.org/jdoe'],
  ];
  it.each(profiles)('%s profile: changes its Personal-Information and Web-Information, by any name, alias or OID of the type', async (_p, ad) => {
    const dir = load('', ad);
    for (const [name, value] of allowed) await dir.modify(JOHN, [replace(name, value)], asJohn());
    expect(stored(dir, JOHN).get('telephoneNumber')?.values).toEqual(['+1 555 0104']);
    expect(stored(dir, JOHN).get('mobile')?.values).toEqual(['+1 555 0105']);
    expect(stored(dir, JOHN).get('street')?.values).toEqual(['1 Main St']);
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('2.5.4.20', '+1 555 0104'))).toEqual(['CN=John Doe,OU=Users,DC=avvid,DC=info']);
  });

  // Each class AD grants SELF no write on, and what is not a known type at all.
  const refused: Array<[string, string, string | Buffer]> = [
    ['identity', 'objectGUID', Buffer.alloc(16, 1)],
    ['identity, with an option', 'OBJECTGUID;binary', Buffer.alloc(16, 2)],
    ['identity', 'objectSid', Buffer.from('010500000000000515000000', 'hex')],
    ['account state', 'userAccountControl', '66048'],
    ['account state, by OID', '1.2.840.113556.1.4.8', '66048'],
    ['account state', 'accountExpires', '0'],
    ['account state', 'pwdLastSet', '-1'],
    ['account state', 'lockoutTime', '0'],
    ['the class', 'objectClass', 'computer'],
    ['group membership', 'memberOf', 'CN=Domain Admins,CN=Users,DC=avvid,DC=info'],
    ['an unknown OID', '1.3.6.1.4.1.99999.77.1', 'x'],
    ['an unknown name', 'shoeSize', '38'],
    ['outside both property sets', 'description', 'admin'],
    ['outside both property sets', 'title', 'Boss'],
    ['outside both property sets', 'countryCode', '840'],
    ['the RDN attribute', 'cn', 'John Doe'],
    ['a login name', 'sAMAccountName', 'administrator'],
    ['a login name, by alias', 'rfc822Mailbox', 'boss@avvid.info'],
    ['a login name, by OID', '0.9.2342.19200300.100.1.1', 'jdoe'],
    ['a password attribute written as a reset', 'unicodePwd', Buffer.from('"x"', 'utf16le')],
  ];
  for (const [profile, ad] of profiles) {
    it.each(refused)(`${profile} profile: refuses %s (%s) with insufficientAccessRights, naming it as spelled, changing nothing`, async (_c, name, value) => {
      const dir = load('', ad);
      const err = await ldapError(dir.modify(JOHN, [replace('telephoneNumber', '+1 555 0199'), replace(name, value)], asJohn()));
      expect(err.code).toBe(ResultCode.insufficientAccessRights);
      expect(err.message).toContain(`a user may not change ${name} of its own entry`);
      expect(stored(dir, JOHN).has('telephoneNumber')).toBe(false);
    });
  }

  it('plain profile: changes its own userPassword by a modify, as slapd lets `self`; ad profile: that would be a reset (50)', async () => {
    const plain = load();
    await plain.modify(JOHN, [replace('userPassword', 'Own-Passw0rd')], asJohn());
    await plain.bind(JOHN, Buffer.from('Own-Passw0rd'), ctx());
    const ad = load('', true);
    const err = await ldapError(ad.modify(JOHN, [replace('userPassword', 'Own-Passw0rd')], asJohn()));
    expect(err.code).toBe(ResultCode.insufficientAccessRights);
    expect(err.message).toContain('userPassword');
    await ad.bind(JOHN, Buffer.from('secret'), ctx());
  });

  it.each(profiles)('%s profile: its own writes may not grow its entry past MAX_SELF_WRITTEN_ENTRY characters of values (constraintViolation); shrinking it passes', async (_p, ad) => {
    const dir = load('', ad);
    const add = (name: string, ...values: string[]): Modification => ({ operation: 'add', attribute: { name, values } });
    // 200 values of 1,000 characters fit; 100 more do not.
    await dir.modify(JOHN, [add('otherTelephone', ...Array.from({ length: 200 }, (_, i) => `${i}`.padEnd(1000, 'x')))], asJohn());
    const err = await ldapError(dir.modify(JOHN, [add('otherTelephone', ...Array.from({ length: 100 }, (_, i) => `n${i}`.padEnd(1000, 'y')))], asJohn()));
    expect(err.code).toBe(ResultCode.constraintViolation);
    expect(err.message).toContain(String(MAX_SELF_WRITTEN_ENTRY));
    expect(stored(dir, JOHN).get('otherTelephone')?.values).toHaveLength(200);
    await dir.modify(JOHN, [{ operation: 'delete', attribute: { name: 'otherTelephone', values: [] } }], asJohn());
    await dir.modify(JOHN, [add('info', 'a note')], asJohn());
    // Another writer (the rules' provisioning account) is not bound by it.
    await dir.modify(JOHN, [add('otherTelephone', ...Array.from({ length: 300 }, (_, i) => `${i}`.padEnd(1000, 'x')))], ctx());
  });

  it.each(profiles)('%s profile: changes its own password by Password Modify, not another user`s', async (_p, ad) => {
    const dir = load('', ad);
    await dir.passwordModify({ user: JOHN, oldPassword: Buffer.from('secret'), newPassword: Buffer.from('N3w-Passw0rd!') }, asJohn());
    await dir.bind(JOHN, Buffer.from('N3w-Passw0rd!'), ctx());
    const err = await ldapError(dir.passwordModify({ user: JANE, newPassword: Buffer.from('Stolen-Passw0rd!') }, asJohn()));
    expect(err.code).toBe(ResultCode.insufficientAccessRights);
  });

  it.each(profiles)('%s profile: may not rename, move, delete or add, its own entry included, nor write another entry', async (_p, ad) => {
    const dir = load('', ad);
    const refusals = [
      dir.modifyDn({ dn: JOHN, newRdn: 'cn=Johnny Doe', deleteOldRdn: true }, asJohn()),
      dir.modifyDn({ dn: JOHN, newRdn: 'cn=John Doe', deleteOldRdn: false, newSuperior: SUFFIX }, asJohn()),
      dir.delete(JOHN, asJohn()),
      dir.add(entry('cn=New,ou=users,dc=avvid,dc=info', { objectClass: ['user'] }), asJohn()),
      dir.modify(JANE, [replace('telephoneNumber', '+1 555 0100')], asJohn()),
    ];
    for (const refusal of refusals) expect((await ldapError(refusal)).code).toBe(ResultCode.insufficientAccessRights);
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('sAMAccountName', 'jdoe'))).toEqual(['CN=John Doe,OU=Users,DC=avvid,DC=info']);
    expect(stored(dir, JANE).has('telephoneNumber')).toBe(false);
  });

  it.each(profiles)('%s profile: an access rule granting the write lets it through (rulesAllow)', async (_p, ad) => {
    const dir = load('', ad);
    await dir.modify(JOHN, [replace('description', 'granted'), replace('userAccountControl', '66048')], asJohn(true));
    expect(stored(dir, JOHN).get('userAccountControl')?.values).toEqual(['66048']);
    await dir.modify(JANE, [replace('title', 'granted')], asJohn(true));
    await dir.modifyDn({ dn: JOHN, newRdn: 'cn=Johnny Doe', deleteOldRdn: true }, asJohn(true));
    expect(await search(dir, 'dc=avvid,dc=info', 'sub', eq('sAMAccountName', 'jdoe'))).toEqual(['cn=Johnny Doe,OU=Users,DC=avvid,DC=info']);
  });

  it('decides by type: every listed name and Microsoft`s OID for it, with or without options; the password by profile', () => {
    const pairs: Array<[string, string]> = [
      ['telephoneNumber', '2.5.4.20'],
      ['otherHomePhone', '1.2.840.113556.1.2.277'],
      ['otherMobile', '1.2.840.113556.1.4.647'],
      ['otherPager', '1.2.840.113556.1.2.118'],
      ['otherIpPhone', '1.2.840.113556.1.4.722'],
      ['otherFacsimileTelephoneNumber', '1.2.840.113556.1.4.646'],
      ['primaryInternationalISDNNumber', '1.2.840.113556.1.4.649'],
      ['internationalISDNNumber', '2.5.4.25'],
      ['primaryTelexNumber', '1.2.840.113556.1.4.648'],
      ['telexNumber', '2.5.4.21'],
      ['teletexTerminalIdentifier', '2.5.4.22'],
      ['x121Address', '2.5.4.24'],
      ['postalAddress', '2.5.4.16'],
      ['registeredAddress', '2.5.4.26'],
      ['preferredDeliveryMethod', '2.5.4.28'],
      ['personalTitle', '1.2.840.113556.1.2.615'],
      ['assistant', '1.2.840.113556.1.4.652'],
      ['userCert', '1.2.840.113556.1.4.645'],
      ['userSMIMECertificate', '2.16.840.1.113730.3.1.40'],
      ['userSharedFolder', '1.2.840.113556.1.4.751'],
      ['userSharedFolderOther', '1.2.840.113556.1.4.752'],
      ['msDS-GeoCoordinatesLatitude', '1.2.840.113556.1.4.2184'],
      ['wWWHomePage', '1.2.840.113556.1.2.464'],
      ['url', '1.2.840.113556.1.4.749'],
    ];
    for (const [name, oid] of pairs) {
      for (const spelling of [name, name.toUpperCase(), `${name};binary`, oid, `oid.${oid}`]) {
        expect(selfWritable(spelling, false), spelling).toBe(true);
        expect(selfWritable(spelling, true), spelling).toBe(true);
      }
    }
    // Each listed OID names its type, or no type Canopy knows: never another known type.
    for (const [name, oid] of SELF_WRITABLE) {
      if (keyKind(attributeKey(oid)) === 'known') expect(attributeKey(oid), `${name} ${oid}`).toBe(attributeKey(name));
    }
    // In Personal-Information, but about how the account authenticates or is delegated to: left out.
    for (const name of ['msDS-AllowedToActOnBehalfOfOtherIdentity', 'msDS-SupportedEncryptionTypes', 'msDS-HostServiceAccount', 'mSMQSignCertificates']) {
      expect(selfWritable(name, false), name).toBe(false);
    }
    expect(selfWritable('userPassword', false)).toBe(true);
    expect(selfWritable('2.5.4.35', false)).toBe(true);
    expect(selfWritable('userPassword', true)).toBe(false);
    expect(selfWritable('unicodePwd', false)).toBe(false);
  });
});

describe('MemoryDirectory bind', () => {
  const dir = load();
  const outcomes: Array<[string, string, string, boolean]> = [
    ['plain password', 'cn=john doe,ou=users,dc=avvid,dc=info', 'secret', true],
    ['{SSHA} password', 'CN=Jane Boss,OU=Users,DC=avvid,DC=info', 'boss-pw', true],
    ['wrong password', 'cn=john doe,ou=users,dc=avvid,dc=info', 'Secret', false],
    ['wrong {SSHA} password', 'CN=Jane Boss,OU=Users,DC=avvid,DC=info', 'boss', false],
    ['empty password', 'cn=john doe,ou=users,dc=avvid,dc=info', '', false],
    ['unknown user', 'cn=nobody,ou=users,dc=avvid,dc=info', 'secret', false],
    ['disabled account', 'cn=dis abled,ou=users,dc=avvid,dc=info', 'secret', false],
    ['entry without a password', 'cn=pc01,ou=users,dc=avvid,dc=info', 'x', false],
  ];
  it.each(outcomes)('%s', async (_n, dn, password, ok) => {
    const p = dir.bind(Dn.parse(dn), Buffer.from(password), ctx());
    if (ok) return expect(p).resolves.toBeUndefined();
    const err = await ldapError(p);
    expect(err.code).toBe(ResultCode.invalidCredentials);
    expect(err.message).toBe('invalid credentials');
  });
});

describe('a long scan shares the event loop', () => {
  it('lets other work run while a search examines thousands of entries that match nothing', async () => {
    const suffix = 'DC=big,DC=test';
    const dir = MemoryDirectory.fromLdif({ suffix: Dn.parse(suffix), sources: [{ name: 'big.ldif', text: generateForest({ suffix, users: 3000, seed: 5 }) }] });
    // Unindexed and costly per entry: an OR of 200 substring assertions, none of which matches.
    const filter = parseFilterString(`(|${Array.from({ length: 200 }, (_, i) => `(description=*nothing-${i}*)`).join('')})`);
    const request = { base: Dn.parse(suffix), scope: 'sub' as Scope, filter, attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 };
    let scanDone = false;
    const scan = (async () => {
      for await (const entry of dir.search(request, ctx())) void entry;
      scanDone = true;
    })();
    // A timer due at once stands for another client's request: it must not wait for the whole scan.
    const ranDuringScan = await new Promise<boolean>((resolve) => setTimeout(() => resolve(!scanDone), 0));
    await scan;
    expect(scanDone).toBe(true);
    expect(ranDuringScan).toBe(true);
  });
});
