/**
 * Bootstrap folders as slapd test images have them: numbered LDIF files, change records among
 * them, and files that configure the server, which the mock skips and names.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { repoRoot } from '../support/server.js';

const folder = mkdtempSync(join(tmpdir(), 'canopy-bootstrap-'));
const files: Record<string, string> = {
  // Sorted by name, not by the order written here.
  '02-changes.ldif': `dn: uid=alice,ou=people,dc=example,dc=com
changetype: modify
replace: sn
sn: Jones
-
add: mail
mail: alice@example.com
-

dn: uid=bob,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Brown

dn: ou=people,dc=example,dc=com
changetype: modrdn
newrdn: ou=staff
deleteoldrdn: 1
`,
  '01-base.ldif': `dn: dc=example,dc=com
objectClass: domain
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Smith
`,
  '00-memberof.ldif': 'dn: cn=module{0},cn=config\nchangetype: modify\nadd: olcModuleLoad\nolcModuleLoad: memberof\n',
  '00-schema.ldif': 'dn: cn=custom,cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: custom\n',
  'README.txt': 'not LDIF',
};
for (const [name, text] of Object.entries(files)) writeFileSync(join(folder, name), text);
mkdirSync(join(folder, 'nested.ldif')); // a folder, even named so, is not read

describe('a bootstrap folder', () => {
  let dir: MockDirectory;
  beforeAll(async () => {
    dir = await startMockDirectory({ files: [folder] });
  });
  afterAll(() => dir.close());

  it('loads its *.ldif files in name order and applies the change records', async () => {
    expect(dir.suffixes).toEqual(['dc=example,dc=com']);
    const r = await runLdapTool('ldapsearch', ['-x', '-LLL', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, '-b', 'dc=example,dc=com', '(objectClass=inetOrgPerson)', 'sn', 'mail']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('dn: uid=alice,ou=staff,dc=example,dc=com\nsn: Jones\nmail: alice@example.com');
    expect(r.stdout).toContain('dn: uid=bob,ou=staff,dc=example,dc=com\nsn: Brown');
    expect(dir.loaded).toBe(4);
  });

  it('skips the files that configure a server, naming them', () => {
    expect(dir.warnings).toEqual([
      `${join(folder, '00-memberof.ldif')}: configures a server ("cn=module{0},cn=config"), not data: skipped`,
      `${join(folder, '00-schema.ldif')}: configures a server ("cn=custom,cn=schema,cn=config"), not data: skipped`,
    ]);
  });

  it('reset() returns to the data with the changes applied', async () => {
    const again = await runLdapTool('ldapmodify', ['-x', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password], 'dn: uid=bob,ou=staff,dc=example,dc=com\nchangetype: delete\n');
    expect(again.status).toBe(0);
    dir.reset();
    const r = await runLdapTool('ldapsearch', ['-x', '-LLL', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, '-b', 'uid=bob,ou=staff,dc=example,dc=com', '-s', 'base', '1.1']);
    expect(r.status).toBe(0);
  });
});

describe('canopy mock FOLDER', () => {
  const cli = join(repoRoot, 'dist/cli.js');

  it('reports a change record that fails with its file and line, not a raw error', () => {
    const bad = mkdtempSync(join(tmpdir(), 'canopy-bootstrap-bad-'));
    writeFileSync(join(bad, '01.ldif'), files['01-base.ldif']);
    writeFileSync(join(bad, '02.ldif'), '\ndn: uid=carol,ou=people,dc=example,dc=com\nchangetype: delete\n');
    const run = spawnSync(process.execPath, [cli, 'mock', bad, '--port', '0'], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`canopy mock: ${join(bad, '02.ldif')}:2: delete: no entry "uid=carol,ou=people,dc=example,dc=com" (added by none of the records before it)\n`);
    expect(run.stderr).not.toContain('EISDIR');
  });
});
