/**
 * Attributes a forest computes from an entry's children (hasSubordinates) never tell a client that a
 * child it may not see exists (round 9): withheld from an entry some of whose children the client's
 * rules hide, and UNDEFINED in its filters where its search region holds such an entry. Over a slapd
 * forest, which computes hasSubordinates from every child, hidden ones included (memory forests do
 * not produce it).
 */
import { fileURLToPath } from 'node:url';
import { Client, ServerSideSortingRequestControl, type Entry as LdaptsEntry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { SERVICE_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';

const SUFFIX = 'dc=corp,dc=example';
const AVVID = `ou=avvid,${SUFFIX}`;
const SYNC = `cn=sync,${SUFFIX}`;
const READER = `cn=reader,${SUFFIX}`;
const PASSWORD = 'Reader-Passw0rd!';
const AVVID_LDIF = fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url));
const USERS = `OU=Users,${AVVID}`;

describe('attributes computed from children, and refusals around hidden entries, over a slapd forest', () => {
  let slapd: Slapd;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const clients: Client[] = [];
  const bound = async (dn: string): Promise<Client> => {
    const c = new Client({ url: server.url, timeout: 10_000 });
    clients.push(c);
    await c.bind(dn, PASSWORD);
    return c;
  };
  /** The first value of an attribute (ldapts gives one that was asked for and is absent as an empty list). */
  const value = (e: LdaptsEntry | undefined, name: string): unknown => {
    const v = e?.[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const hasSubordinates = (e: LdaptsEntry | undefined): unknown => value(e, 'hasSubordinates');

  beforeAll(async () => {
    slapd = await startSlapd({ suffix: 'DC=avvid,DC=info', ldif: [AVVID_LDIF] });
    const hash = await hashPassword(PASSWORD);
    server = await startTestServer(`namespace: { suffix: "${SUFFIX}" }
accounts:
  - { dn: "${SYNC}", passwordHash: "${hash}" }
  - { dn: "${READER}", passwordHash: "${hash}" }
access:
  - { who: "${SYNC}", what: { dn: "${SUFFIX}" }, allow: read }
  - { who: "${READER}", what: { dn: "CN=John Doe,${USERS}", scope: base }, allow: none }
  - { who: "${READER}", what: { dn: "${SUFFIX}" }, allow: read }
cache: { enabled: false }
forests:
  - name: avvid
    backend: ldap
    base: "DC=avvid,DC=info"
    mount: "${AVVID}"
    servers: ["${slapd.url}"]
    bind: { dn: "${serviceDn('DC=avvid,DC=info')}", password: "${SERVICE_PASSWORD}" }
`);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
    await server?.close();
    await slapd?.stop();
  });

  it('a client that sees every child gets hasSubordinates, and may search by it', async () => {
    const sync = await bound(SYNC);
    const [users] = (await sync.search(USERS, { scope: 'base', attributes: ['hasSubordinates'] })).searchEntries;
    expect(hasSubordinates(users)).toBe('TRUE');
    const parents = (await sync.search(AVVID, { scope: 'one', filter: '(hasSubordinates=TRUE)', attributes: ['1.1'] })).searchEntries.map((e) => e.dn);
    expect(parents.map((dn) => dn.toLowerCase())).toContain(USERS.toLowerCase());
  });

  it('an entry with a child the client may not see keeps it to itself, by name, by OID and under +', async () => {
    const reader = await bound(READER);
    for (const attributes of [['hasSubordinates'], ['2.5.18.9'], ['+']]) {
      const [users] = (await reader.search(USERS, { scope: 'base', attributes })).searchEntries;
      expect(users.dn.toLowerCase()).toBe(USERS.toLowerCase());
      expect(hasSubordinates(users)).toBeUndefined();
      expect(value(users, '2.5.18.9')).toBeUndefined();
    }
    // Where every child is visible the client is told as before: a group container, a user without children.
    const [groups] = (await reader.search(`OU=Groups,${AVVID}`, { scope: 'base', attributes: ['hasSubordinates'] })).searchEntries;
    expect(hasSubordinates(groups)).toBe('TRUE');
    const [leaf] = (await reader.search(`CN=Elizabeth Green,${USERS}`, { scope: 'base', attributes: ['hasSubordinates'] })).searchEntries;
    expect(hasSubordinates(leaf)).toBe('FALSE');
  });

  it('a filter on it matches nothing where the region holds such an entry, nor does its negation', async () => {
    const reader = await bound(READER);
    for (const filter of ['(hasSubordinates=TRUE)', '(!(hasSubordinates=FALSE))', '(hasSubordinates=FALSE)', '(hasSubordinates=*)']) {
      const found = (await reader.search(USERS, { scope: 'base', filter, attributes: ['1.1'] })).searchEntries;
      expect(found, filter).toEqual([]);
    }
    // By OID, through OpenLDAP's ldapsearch (ldapts does not parse OID descriptions in filters).
    const byOid = await runLdapTool('ldapsearch', ['-x', '-LLL', '-H', server.url, '-D', READER, '-w', PASSWORD, '-b', USERS, '-s', 'base', '(2.5.18.9=TRUE)', '1.1']);
    expect(byOid.status).toBe(0);
    expect(byOid.stdout.trim()).toBe('');
    const syncByOid = await runLdapTool('ldapsearch', ['-x', '-LLL', '-H', server.url, '-D', SYNC, '-w', PASSWORD, '-b', USERS, '-s', 'base', '(2.5.18.9=TRUE)', '1.1']);
    expect(syncByOid.stdout.toLowerCase()).toContain(`dn: ${USERS.toLowerCase()}`);
    // A region holding no entry with a hidden child answers as before.
    const found = (await reader.search(`OU=Groups,${AVVID}`, { scope: 'base', filter: '(hasSubordinates=TRUE)', attributes: ['1.1'] })).searchEntries;
    expect(found.map((e) => e.dn.toLowerCase())).toEqual([`ou=groups,${AVVID}`]);
  });

  it('a missing DN gets what a hidden one gets, whatever the forest would check first (syntax, a parent, a new superior)', async () => {
    const reader = await bound(READER);
    const hidden = `CN=John Doe,${USERS}`;
    const missingDn = `CN=John Nope,${USERS}`;
    const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code: number }) => e.code);
    // The whole answer, the DN it names written as <dn>: the same for both.
    const answer = (p: Promise<unknown>, dn: string) =>
      p.then(
        () => 'success',
        (e: { code: number; message: string }) => `${e.code} ${e.message.split(dn).join('<dn>')}`,
      );
    const newEntry = (dn: string) => `CN=New,${dn}`;
    const adds = await Promise.all([hidden, missingDn].map((dn) => answer(reader.add(newEntry(dn), { objectClass: ['top', 'person'], cn: 'New', sn: 'New' }), newEntry(dn))));
    expect(adds[0]).toBe(adds[1]);
    const moves = await Promise.all([hidden, missingDn].map((dn) => answer(reader.modifyDN(`CN=Elizabeth Green,${USERS}`, `CN=Elizabeth Green,${dn}`), 'unused')));
    expect(moves[0]).toBe(moves[1]);
    for (const dn of [hidden, missingDn]) {
      // slapd checks the assertion's syntax (21) and answers hasSubordinates itself (0) before it looks for the entry.
      expect(await code(reader.compare(dn, 'createTimestamp', 'x')), dn).toBe(32);
      expect(await code(reader.compare(dn, 'hasSubordinates', 'TRUE')), dn).toBe(32);
      // An add below it, a move under it: refused by the rules (50) only where the parent exists.
      expect(await code(reader.add(`CN=New,${dn}`, { objectClass: ['top', 'person'], cn: 'New', sn: 'New' })), dn).toBe(32);
      expect(await code(reader.modifyDN(`CN=Elizabeth Green,${USERS}`, `CN=Elizabeth Green,${dn}`)), dn).toBe(32);
    }
    // Where the parent or the new superior exists the rules' refusal is heard.
    expect(await code(reader.add(`CN=New,${USERS}`, { objectClass: ['top', 'person'], cn: 'New', sn: 'New' }))).toBe(50);
    expect(await code(reader.modifyDN(`CN=Elizabeth Green,${USERS}`, `CN=Elizabeth Green,OU=Groups,${AVVID}`))).toBe(50);
  });

  it('is no sort key where a child is hidden: a critical sort by it is refused (12, sortResult 50), by any name', async () => {
    const reader = await bound(READER);
    const sync = await bound(SYNC);
    const sorted = (c: Client, attributeType: string, critical: boolean) => {
      const control = new ServerSideSortingRequestControl({ value: { attributeType }, critical });
      return c.search(AVVID, { scope: 'one', filter: '(|(ou=Users)(ou=Groups))', attributes: ['1.1'] }, control).then(
        (r) => ({ code: 0, sortResult: control.result?.sortResult, dns: r.searchEntries.map((e) => e.dn.toLowerCase()) }),
        (e: { code: number }) => ({ code: e.code, sortResult: control.result?.sortResult, dns: [] as string[] }),
      );
    };
    for (const key of ['hasSubordinates', '2.5.18.9']) {
      expect(await sorted(reader, key, true)).toMatchObject({ code: 12, sortResult: 50 });
      expect(await sorted(reader, key, false)).toMatchObject({ code: 0, sortResult: 50 });
    }
    expect(await sorted(sync, 'hasSubordinates', true)).toMatchObject({ code: 0, sortResult: 0 });
  });
});
