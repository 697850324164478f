/**
 * Attributes a forest computes from an entry's children (hasSubordinates) never tell a client that a
 * child it may not see exists (round 9): withheld from an entry some of whose children the client's
 * rules hide, and UNDEFINED in its filters where its search region holds such an entry. Over a slapd
 * forest, which computes hasSubordinates from every child, hidden ones included (memory forests do
 * not produce it).
 */
import { fileURLToPath } from 'node:url';
import { Client, type Entry as LdaptsEntry } from 'ldapts';
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

describe('attributes computed from children, over a slapd forest', () => {
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
});
