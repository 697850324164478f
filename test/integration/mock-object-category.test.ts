/**
 * AD's objectCategory on the mock directory's `profile: ad` forests, through real clients and a
 * namespace: `(&(objectCategory=person)(objectClass=user))`, the user filter of many applications,
 * finds the users and neither computers nor groups; short names and DN forms both work; values come
 * back rewritten into the virtual tree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import type { Entry } from '../../src/core/entry.js';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { repoRoot } from '../support/server.js';

const SUFFIX = 'dc=corp,dc=example';
const FORESTS = [
  { name: 'avvid', base: 'DC=avvid,DC=info', file: 'avvid.info.ldif' },
  { name: 'vse', base: 'DC=vse,DC=lab', file: 'vse.lab.ldif' },
];
const mount = (forest: string) => `ou=${forest},${SUFFIX}`;

const fixtures = FORESTS.flatMap((f) =>
  parseLdif(readFileSync(join(repoRoot, 'fixtures', f.file), 'utf8'), f.file).map((r) => ({ forest: f, entry: r.entry })),
);
const classes = (e: Entry) => (e.get('objectClass')?.values ?? []).map((c) => String(c).toLowerCase());
/** Fixture entries' DN keys under the namespace, for those the predicate picks. */
function virtualKeys(pick: (classes: string[]) => boolean): string[] {
  return fixtures
    .filter(({ entry }) => pick(classes(entry)))
    .map(({ forest, entry }) => entry.dn.text.slice(0, -forest.base.length) + mount(forest.name))
    .map((dn) => dn.toLowerCase())
    .sort();
}
const users = virtualKeys((c) => c.includes('user') && !c.includes('computer'));
const computers = virtualKeys((c) => c.includes('computer'));

let dir: MockDirectory;
let client: Client;

beforeAll(async () => {
  dir = await startMockDirectory({
    baseDir: repoRoot,
    config: `namespace: { suffix: "${SUFFIX}" }
forests:
${FORESTS.map((f) => `  - { name: ${f.name}, backend: memory, profile: ad, base: "${f.base}", mount: "${mount(f.name)}", ldif: [fixtures/${f.file}] }`).join('\n')}
`,
  });
  client = new Client({ url: dir.url });
  await client.bind(dir.bindDn, dir.password);
});

afterAll(async () => {
  await client.unbind();
  await dir.close();
});

async function found(filter: string, base = SUFFIX): Promise<string[]> {
  const { searchEntries } = await client.search(base, { scope: 'sub', filter, attributes: ['objectCategory'], paged: { pageSize: 100 } });
  return searchEntries.map((e) => e.dn.toLowerCase()).sort();
}

const ldapsearch = (...args: string[]) =>
  runLdapTool('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, ...args]);

describe('objectCategory on the mock, profile ad, behind a namespace', () => {
  it('the fixtures hold users and computers in both forests, and no objectCategory', () => {
    expect(users.length).toBeGreaterThan(100);
    expect(computers.length).toBeGreaterThan(1);
    expect(fixtures.filter(({ entry }) => entry.has('objectCategory'))).toEqual([]);
  });

  it('(&(objectCategory=person)(objectClass=user)) finds the users of every forest, with ldapts', async () => {
    expect(await found('(&(objectCategory=person)(objectClass=user))')).toEqual(users);
    expect(await found('(objectCategory=user)')).toEqual(users); // user's default category is Person
  });

  it('(objectCategory=computer) finds the computers, (objectCategory=group) the groups', async () => {
    expect(await found('(objectCategory=computer)')).toEqual(computers);
    expect(await found('(objectCategory=group)')).toEqual(virtualKeys((c) => c.includes('group')));
    expect(await found('(objectCategory=*)', mount('avvid'))).toHaveLength(fixtures.filter(({ forest }) => forest.name === 'avvid').length);
  });

  it('returns the value rewritten into the virtual tree, and finds by that DN', async () => {
    const { searchEntries } = await client.search(SUFFIX, { scope: 'sub', filter: '(&(objectCategory=person)(sAMAccountName=jdoe))', attributes: ['objectCategory'] });
    const byDn = Object.fromEntries(searchEntries.map((e) => [e.dn, e.objectCategory]));
    expect(byDn).toEqual({
      [`CN=John Doe,OU=Users,${mount('avvid')}`]: `CN=Person,CN=Schema,CN=Configuration,${mount('avvid')}`,
      [`CN=John Doe,OU=Users,${mount('vse')}`]: `CN=Person,CN=Schema,CN=Configuration,${mount('vse')}`,
    });

    const dnForm = `(objectCategory=CN=Person,CN=Schema,CN=Configuration,${mount('vse')})`;
    expect(await found(dnForm)).toEqual(users.filter((k) => k.endsWith(mount('vse'))));
  });

  it('answers ldapsearch with the users only, and a base search with the category of a computer', async () => {
    const r = await ldapsearch('-E', 'pr=200/noprompt', '-b', SUFFIX, '(&(objectCategory=person)(objectClass=user))', '1.1');
    expect(r.status).toBe(0);
    // Non-ASCII DNs come base64-encoded (`dn:: `).
    const dn = (line: string) => (line.startsWith('dn:: ') ? Buffer.from(line.slice(5), 'base64').toString('utf8') : line.slice(4));
    const dns = r.stdout.split('\n').filter((l) => l.startsWith('dn:')).map((l) => dn(l).toLowerCase()).sort();
    expect(dns).toEqual(users);

    const pc = computers[0];
    const one = await ldapsearch('-b', pc, '-s', 'base', '(objectCategory=computer)', 'objectCategory');
    expect(one.status).toBe(0);
    expect(one.stdout).toContain(`objectCategory: CN=Computer,CN=Schema,CN=Configuration,${mount(pc.includes(mount('avvid')) ? 'avvid' : 'vse')}`);
  });
});
