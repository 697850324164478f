/**
 * The mock directory's Active Directory behaviour (`profile: ad`) through real clients: range
 * retrieval on a 5,000-member group, MaxPageSize for unpaged searches, connection-bound paging
 * cookies, memberOf back links and in-chain matching, and `requireTls`'s strongerAuthRequired.
 */
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { runMockInProcess } from '../support/mock-command.js';
import { RawLdapClient, pagedControl, pagedCookie } from '../support/raw-ldap.js';

const USERS = 5000;
const BASE = 'DC=big,DC=test';
const userDn = (i: number) => `CN=User ${i},OU=Users,${BASE}`;
const BIG = `CN=Everyone,OU=Groups,${BASE}`;
const ALL = `CN=All,OU=Groups,${BASE}`;

function ldif(): string {
  const out = [
    `dn: ${BASE}\nobjectClass: domain\nobjectClass: domainDNS\ndc: big\n`,
    `dn: OU=Users,${BASE}\nobjectClass: organizationalUnit\nou: Users\n`,
    `dn: OU=Groups,${BASE}\nobjectClass: organizationalUnit\nou: Groups\n`,
  ];
  for (let i = 0; i < USERS; i++) {
    out.push(`dn: ${userDn(i)}\nobjectClass: user\ncn: User ${i}\nsAMAccountName: u${i}\nuserAccountControl: 512\nuserPassword: Passw0rd!\n`);
  }
  out.push(`dn: ${BIG}\nobjectClass: group\ncn: Everyone\n${Array.from({ length: USERS }, (_, i) => `member: ${userDn(i)}`).join('\n')}\n`);
  // Nested: All > Everyone > every user, for the in-chain rule.
  out.push(`dn: ${ALL}\nobjectClass: group\ncn: All\nmember: ${BIG}\n`);
  return out.join('\n');
}

let dir: MockDirectory;
let client: Client;

beforeAll(async () => {
  dir = await startMockDirectory({ ldif: ldif() });
  client = new Client({ url: dir.url });
  await client.bind(dir.bindDn, dir.password);
});

afterAll(async () => {
  await client.unbind();
  await dir.close();
});

const ldapsearch = (...args: string[]) =>
  runLdapTool('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, ...args]);

describe('mock directory, profile ad', () => {
  it('is chosen for AD-looking data', () => {
    expect(dir.profile).toBe('ad');
    expect(dir.suffixes).toEqual([BASE]);
    expect(dir.loaded).toBe(USERS + 5);
  });

  it('returns a large group in ranges, with ldapts', async () => {
    const first = (await client.search(BIG, { scope: 'base', attributes: ['member'] })).searchEntries[0];
    expect(first['member;range=0-1499']).toHaveLength(1500);
    expect(first.member ?? []).toEqual([]); // ldapts lists a requested attribute it did not get as []
    const values: string[] = [];
    for (let low = 0; ; ) {
      const entry = (await client.search(BIG, { scope: 'base', attributes: [`member;range=${low}-*`] })).searchEntries[0];
      const name = Object.keys(entry).find((k) => k.startsWith('member;range='))!;
      values.push(...(entry[name] as string[]));
      const high = name.split('-')[1];
      if (high === '*') break;
      low = Number(high) + 1;
    }
    expect(values).toHaveLength(USERS);
    expect(new Set(values.map((v) => v.toLowerCase()))).toEqual(new Set(Array.from({ length: USERS }, (_, i) => userDn(i).toLowerCase())));
  });

  it("answers 'member;range=1500-*' with the next window, with ldapsearch", async () => {
    const r = await ldapsearch('-b', BIG, '-s', 'base', '(objectClass=*)', 'member;range=1500-*');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('member;range='));
    expect(lines).toHaveLength(1500);
    expect(new Set(lines.map((l) => l.slice(0, l.indexOf(':'))))).toEqual(new Set(['member;range=1500-2999']));
    const last = await ldapsearch('-b', BIG, '-s', 'base', '(objectClass=*)', 'member;range=4500-*');
    expect(last.stdout.split('\n').filter((l) => l.startsWith('member;range=4500-*:'))).toHaveLength(500);
  });

  it('stops an unpaged search at MaxPageSize with sizeLimitExceeded; paged searches go past it', async () => {
    const unpaged = await ldapsearch('-b', BASE, '(objectClass=user)', '1.1');
    expect(unpaged.status).toBe(4); // sizeLimitExceeded, after the first 1,000 entries
    expect(unpaged.stdout.match(/^dn: /gm)).toHaveLength(1000);
    const paged = await ldapsearch('-E', 'pr=5000/noprompt', '-b', BASE, '(objectClass=user)', '1.1');
    expect(paged.status).toBe(0);
    expect(paged.stdout.match(/^dn: /gm)).toHaveLength(USERS); // pages of 5,000 asked for are capped at 1,000
  });

  it('accepts a paging cookie only on the connection that got it', async () => {
    const a = await RawLdapClient.connect(dir.url);
    const b = await RawLdapClient.connect(dir.url);
    try {
      await a.bind(dir.bindDn, dir.password);
      await b.bind(dir.bindDn, dir.password);
      const first = await a.search(BASE, [pagedControl(100)]);
      expect(first.dns).toHaveLength(100);
      const cookie = pagedCookie(first);
      expect((await b.search(BASE, [pagedControl(100, cookie)])).code).not.toBe(0);
      const second = await a.search(BASE, [pagedControl(100, cookie)]);
      expect(second.code).toBe(0);
      expect(second.dns).toHaveLength(100);
    } finally {
      a.close();
      b.close();
    }
  });

  it('computes memberOf and follows membership chains with 1.2.840.113556.1.4.1941', async () => {
    const user = (await client.search(userDn(42), { scope: 'base', attributes: ['memberOf'] })).searchEntries[0];
    expect(user.memberOf).toBe(BIG);
    const chain = await client.search(BASE, { filter: `(&(sAMAccountName=u42)(memberOf:1.2.840.113556.1.4.1941:=${ALL}))`, attributes: ['1.1'] });
    expect(chain.searchEntries.map((e) => e.dn)).toEqual([userDn(42)]);
  });

  it('maintains memberOf and uSNChanged on writes, and reset() takes them back', async () => {
    const group = `CN=Ops,OU=Groups,${BASE}`;
    const { Attribute, Change } = await import('ldapts');
    await client.add(group, { objectClass: 'group', cn: 'Ops', member: [userDn(1), userDn(2)] });
    const u1 = (await client.search(userDn(1), { scope: 'base', attributes: ['memberOf', 'uSNChanged'] })).searchEntries[0];
    expect(new Set([u1.memberOf].flat())).toEqual(new Set([BIG, group]));
    await client.modify(group, [new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [userDn(1)] }) })]);
    const ops = (await client.search(group, { scope: 'base', attributes: ['uSNChanged', 'uSNCreated'] })).searchEntries[0];
    expect(Number(ops.uSNChanged)).toBeGreaterThan(Number(ops.uSNCreated));
    expect((await client.search(userDn(1), { scope: 'base', attributes: ['memberOf'] })).searchEntries[0].memberOf).toBe(BIG);
    dir.reset();
    await expect(client.search(group, { scope: 'base' })).rejects.toThrow(/no such|32/i);
  });
});

describe('mock directory, requireTls', () => {
  it('refuses simple binds in cleartext with strongerAuthRequired (8), as DCs requiring LDAP signing do', async () => {
    await using strict = await startMockDirectory({ requireTls: true }); // the bundled fixtures
    const user = new Client({ url: strict.url });
    await expect(user.bind(strict.bindDn, strict.password)).rejects.toMatchObject({ code: 8 });
    await expect(user.bind('jdoe@avvid.info', 'Passw0rd!')).rejects.toMatchObject({ code: 8 });
    await user.unbind();
    const r = await runLdapTool('ldapsearch', ['-x', '-H', strict.url, '-D', strict.bindDn, '-w', strict.password, '-b', '', '-s', 'base']);
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/Strong\(er\) authentication required \(8\)/);
    // Anonymous clients still read the root DSE, as on AD.
    const anonymous = await runLdapTool('ldapsearch', ['-x', '-H', strict.url, '-b', '', '-s', 'base', 'namingContexts']);
    expect(anonymous.status).toBe(0);
  });

  it('is off by default, and `canopy mock --require-tls` switches it on', async () => {
    const bind = (url: string, password: string) => runLdapTool('ldapwhoami', ['-x', '-H', url, '-D', 'cn=admin', '-w', password]);
    expect((await bind(dir.url, dir.password)).status).toBe(0);
    const mock = await runMockInProcess(['--port', '0', '--admin-password', 'Adm1n!pw', '--require-tls']);
    expect((await bind(mock.url, 'Adm1n!pw')).status).toBe(8);
    expect(await mock.stop()).toBe(0);
  });
});
