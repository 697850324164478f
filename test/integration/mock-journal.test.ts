/**
 * The mock directory's journal, as a Node project's test suite uses it (vitest, startMockDirectory
 * in beforeAll, TLS): what the application sent, in order, with the controls decoded, the bound
 * identity and the results, and never a password.
 */
import { Client } from 'ldapts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { runLdapTool } from '../support/ldap-tools.js';

const SUFFIX = 'dc=example,dc=com';
const people = Array.from({ length: 12 }, (_, i) => `dn: uid=u${i},${SUFFIX}\nobjectClass: inetOrgPerson\nuid: u${i}\ncn: User ${i}\nsn: S${11 - i}\nuserPassword: pw-u${i}\n`);
const LDIF = [`dn: ${SUFFIX}\nobjectClass: domain\ndc: example\n`, ...people].join('\n');

describe('the journal, in a suite written the way a Node project would', () => {
  let dir: MockDirectory;
  beforeAll(async () => {
    dir = await startMockDirectory({ ldif: LDIF, tls: true, adminDn: `cn=admin,${SUFFIX}`, adminPassword: 'Adm1n-secret', faultPort: 0 });
  });
  beforeEach(() => dir.journal.clear());
  afterAll(() => dir.close());

  it('shows that the application bound over TLS before it searched, and how it paged', async () => {
    // The application under test:
    const client = new Client({ url: dir.url });
    await client.startTLS({ ca: dir.caPem, servername: 'localhost' });
    await client.bind(dir.bindDn, dir.password);
    await client.search(SUFFIX, { filter: '(objectClass=inetOrgPerson)', attributes: ['cn'], paged: { pageSize: 5 } });
    await client.unbind();

    const [startTls, bind, ...pages] = dir.journal.entries;
    expect(startTls).toMatchObject({ operation: 'extended', oid: '1.3.6.1.4.1.1466.20037', result: 0 });
    expect(bind).toMatchObject({ operation: 'bind', dn: `cn=admin,${SUFFIX}`, method: 'simple', tls: true, result: 0, identity: `dn:cn=admin,${SUFFIX}` });
    expect(pages.map((p) => [p.operation, p.controls[0]?.pageSize, p.controls[0]?.cookie, p.entries])).toEqual([
      ['search', 5, false, 5],
      ['search', 5, true, 5],
      ['search', 5, true, 2],
    ]);
    expect(pages[0]).toMatchObject({ dn: SUFFIX, scope: 'sub', filter: '(objectClass=inetOrgPerson)', attributes: ['cn'], tls: true, connection: bind.connection });
    expect(new Set(dir.journal.entries.map((e) => e.seq)).size).toBe(5);
  });

  it('decodes sort keys and records failures with their result code', async () => {
    const r = await runLdapTool('ldapsearch', ['-x', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, '-E', '!sss=-sn', '-b', SUFFIX, '(uid=u1*)', 'sn']);
    expect(r.status).toBe(0);
    await runLdapTool('ldapsearch', ['-x', '-H', dir.url, '-b', `ou=missing,${SUFFIX}`, '-D', dir.bindDn, '-w', dir.password]);
    const sorted = await dir.journal.waitFor((e) => e.operation === 'search' && e.controls.some((c) => c.sortKeys));
    expect(sorted.controls).toEqual([{ oid: '1.2.840.113556.1.4.473', critical: true, sortKeys: [{ attribute: 'sn', reverse: true }] }]);
    expect(sorted.entries).toBe(3);
    const missing = await dir.journal.waitFor((e) => e.dn === `ou=missing,${SUFFIX}`);
    expect(missing).toMatchObject({ result: 32, resultName: 'noSuchObject', tls: false });
  });

  it('waits for an operation still to come, and gives up after the timeout', async () => {
    const waiting = dir.journal.waitFor((e) => e.operation === 'delete');
    const client = new Client({ url: dir.ldapsUrl!, tlsOptions: { ca: dir.caPem } });
    await client.bind(dir.bindDn, dir.password);
    await client.del(`uid=u0,${SUFFIX}`);
    await expect(waiting).resolves.toMatchObject({ dn: `uid=u0,${SUFFIX}`, result: 0, tls: true });
    await client.unbind();
    dir.reset();
    await expect(dir.journal.waitFor((e) => e.operation === 'modifyDn', 50)).rejects.toThrow(/no journal entry matched within 50 ms/);
  });

  it('never holds a password: not of a bind, a filter, an added entry or Password Modify', async () => {
    const user = new Client({ url: dir.url });
    await user.bind(`uid=u3,${SUFFIX}`, 'pw-u3');
    await user.search(SUFFIX, { filter: '(userPassword=pw-u4)' });
    await expect(user.bind(`uid=u3,${SUFFIX}`, 'wrong-pw-guess')).rejects.toThrow();
    await user.unbind();
    const admin = new Client({ url: dir.url });
    await admin.bind(dir.bindDn, dir.password);
    await admin.add(`uid=new,${SUFFIX}`, { objectClass: 'inetOrgPerson', uid: 'new', cn: 'New', sn: 'N', userPassword: 'new-entry-pw' });
    await admin.unbind();
    const passwd = await runLdapTool('ldappasswd', ['-x', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, '-s', 'changed-pw', `uid=u5,${SUFFIX}`]);
    expect(passwd.status).toBe(0);
    dir.reset();

    const text = JSON.stringify(dir.journal.entries);
    for (const secret of ['pw-u3', 'pw-u4', 'wrong-pw-guess', 'new-entry-pw', 'changed-pw', dir.password]) expect(text).not.toContain(secret);
    expect(text).toContain('(userPassword=***)');
    expect(dir.journal.entries.find((e) => e.operation === 'bind' && e.result === 49)).toMatchObject({ dn: `uid=u3,${SUFFIX}`, identity: '' });
    expect(dir.journal.entries.find((e) => e.operation === 'extended' && e.oid === '1.3.6.1.4.1.4203.1.11.1')).toMatchObject({ dn: `uid=u5,${SUFFIX}`, result: 0 });
  });

  it('is served at GET /journal on the fault port', async () => {
    await runLdapTool('ldapsearch', ['-x', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, '-b', SUFFIX, '-s', 'base', '1.1']);
    const { entries } = (await (await fetch(`${dir.faultUrl}/journal`)).json()) as { entries: { seq: number; operation: string }[] };
    expect(entries.map((e) => e.operation)).toEqual(['bind', 'search']);
    const since = (await (await fetch(`${dir.faultUrl}/journal?since=${entries[0].seq}`)).json()) as { entries: unknown[] };
    expect(since.entries).toHaveLength(1);
    expect((await fetch(`${dir.faultUrl}/journal`, { method: 'DELETE' })).status).toBe(204);
    expect(dir.journal.entries).toEqual([]);
  });
});

describe('the journal size', () => {
  it('keeps the newest operations up to its size, counting those dropped', async () => {
    await using dir = await startMockDirectory({ ldif: LDIF, journalSize: 3 });
    const client = new Client({ url: dir.url });
    await client.bind(dir.bindDn, dir.password);
    for (let i = 0; i < 4; i++) await client.search(`uid=u${i},${SUFFIX}`, { scope: 'base' });
    await client.unbind();
    expect(dir.journal.entries.map((e) => e.dn)).toEqual([`uid=u1,${SUFFIX}`, `uid=u2,${SUFFIX}`, `uid=u3,${SUFFIX}`]);
    expect(dir.journal.dropped).toBe(2);
    await expect(startMockDirectory({ ldif: LDIF, journalSize: 0 })).rejects.toThrow(/journal size/);
  });
});
