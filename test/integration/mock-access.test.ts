/**
 * Who may do what on the mock directory, as on the directories it stands in for: the suite's own
 * administrator (slapd's root DN, not an entry) reads and writes everything; password attributes
 * are hidden from everyone else; anonymous clients read nothing, or, with anonymousRead, all but
 * the passwords.
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
sambaNTPassword: 0123456789ABCDEF0123456789ABCDEF
`;
const ALICE = `uid=alice,${SUFFIX}`;
const ldapsearch = (dir: MockDirectory, bind: string[], filter = '(objectClass=*)') =>
  runLdapTool('ldapsearch', ['-x', '-LLL', '-H', dir.url, ...bind, '-b', SUFFIX, filter, '*']);

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

describe('password attributes and anonymous clients', () => {
  let dir: MockDirectory;
  let open: MockDirectory;
  beforeAll(async () => {
    [dir, open] = await Promise.all([
      startMockDirectory({ ldif: LDIF, adminDn: `cn=admin,${SUFFIX}` }),
      startMockDirectory({ ldif: LDIF, anonymousRead: true }),
    ]);
  });
  afterAll(() => Promise.all([dir.close(), open.close()]));

  it('are read by the administrator only', async () => {
    const admin = await ldapsearch(dir, ['-D', dir.bindDn, '-w', dir.password], '(uid=alice)');
    expect(admin.stdout).toContain('userPassword:: YWxpY2UtcHc=');
    expect(admin.stdout).toContain('sambaNTPassword: 0123456789ABCDEF');
    const user = await ldapsearch(dir, ['-D', ALICE, '-w', 'alice-pw'], '(uid=alice)');
    expect(user.status).toBe(0);
    expect(user.stdout).toContain('sn: Smith');
    expect(user.stdout).not.toMatch(/userPassword|sambaNTPassword/i);
  });

  it('cannot be guessed through a filter or a compare by a user', async () => {
    const probe = await ldapsearch(dir, ['-D', ALICE, '-w', 'alice-pw'], '(userPassword=alice-pw)');
    expect(probe.stdout).toBe('');
    const compare = await runLdapTool('ldapcompare', ['-x', '-H', dir.url, '-D', ALICE, '-w', 'alice-pw', ALICE, 'userPassword:alice-pw']);
    expect(compare.status).not.toBe(6); // 6: compareTrue
  });

  it('anonymous clients read nothing by default', async () => {
    const anonymous = await ldapsearch(dir, []);
    expect(anonymous.stdout).toBe('');
  });

  it('with anonymousRead, anonymous clients read everything but the passwords, and write nothing', async () => {
    const anonymous = await ldapsearch(open, []);
    expect(anonymous.status).toBe(0);
    expect(anonymous.stdout).toContain(`dn: ${ALICE}`);
    expect(anonymous.stdout).toContain('sn: Smith');
    expect(anonymous.stdout).not.toMatch(/userPassword|sambaNTPassword/i);
    const write = await runLdapTool('ldapmodify', ['-x', '-H', open.url], `dn: ${ALICE}\nchangetype: modify\nreplace: sn\nsn: X\n`);
    expect(write.status).not.toBe(0);
  });
});
