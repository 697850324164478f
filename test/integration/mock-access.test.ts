/**
 * Who may do what on the mock directory, as on the directories it stands in for: the suite's own
 * administrator (slapd's root DN, not an entry) reads and writes everything.
 */
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { runLdapTool } from '../support/ldap-tools.js';

const SUFFIX = 'dc=example,dc=com';
// As slapd images have it: an organizationalRole entry named like the root DN, without a password.
const LDIF = `dn: ${SUFFIX}
objectClass: domain
dc: example

dn: cn=admin,${SUFFIX}
objectClass: organizationalRole
cn: admin
description: LDAP administrator

dn: uid=alice,${SUFFIX}
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Smith
userPassword: alice-pw
`;

describe('the administrator (adminDn)', () => {
  let dir: MockDirectory;
  beforeAll(async () => {
    dir = await startMockDirectory({ ldif: LDIF, adminDn: `cn=admin,${SUFFIX}`, adminPassword: 'admin-pw' });
  });
  afterAll(() => dir.close());

  it('binds as the root DN, by any spelling of it, although an entry has that DN', async () => {
    expect(dir.bindDn).toBe(`cn=admin,${SUFFIX}`);
    const client = new Client({ url: dir.url });
    await client.bind('CN=Admin, DC=Example,DC=COM', 'admin-pw');
    expect(await client.exop('1.3.6.1.4.1.4203.1.11.3').then((r) => r.value)).toBe(`dn:cn=admin,${SUFFIX}`);
    const entry = (await client.search(`cn=admin,${SUFFIX}`, { scope: 'base' })).searchEntries[0];
    expect(entry.description).toBe('LDAP administrator');
    await client.add(`uid=bob,${SUFFIX}`, { objectClass: 'inetOrgPerson', uid: 'bob', cn: 'Bob', sn: 'Brown' });
    await client.del(`uid=bob,${SUFFIX}`);
    await client.unbind();
    await expect(new Client({ url: dir.url }).bind(dir.bindDn, 'wrong')).rejects.toThrow(/credentials/i);
  });

  it('is what ldapmodify binds as in a suite written for slapd', async () => {
    const result = await runLdapTool('ldapmodify', ['-x', '-H', dir.url, '-D', `cn=admin,${SUFFIX}`, '-w', 'admin-pw'],
      `dn: uid=alice,${SUFFIX}\nchangetype: modify\nreplace: sn\nsn: Jones\n`);
    expect(result.status).toBe(0);
    dir.reset();
  });

  it('refuses an administrator DN that is not a DN', async () => {
    await expect(startMockDirectory({ ldif: LDIF, adminDn: 'not a dn' })).rejects.toThrow(/"not a dn" is not a valid DN/);
  });
});
