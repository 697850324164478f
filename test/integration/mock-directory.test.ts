import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Attribute, Change, Client, EqualityFilter, type Entry as LdaptsEntry } from 'ldapts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { Dn } from '../../src/core/dn.js';
import type { Entry } from '../../src/core/entry.js';
import { runLdapTool, type LdapToolResult } from '../support/ldap-tools.js';
import { repoRoot, startTestServer } from '../support/server.js';

// The mock directory through the real server and real clients (ldapts, OpenLDAP's tools); every
// expectation is derived from the fixture LDIF with the product's own parser.

interface Forest {
  readonly suffix: string;
  readonly entries: readonly Entry[];
}

const forests: readonly Forest[] = [
  { suffix: 'DC=avvid,DC=info', file: 'fixtures/avvid.info.ldif' },
  { suffix: 'DC=vse,DC=lab', file: 'fixtures/vse.lab.ldif' },
].map(({ suffix, file }) => ({
  suffix,
  entries: parseLdif(readFileSync(join(repoRoot, file), 'utf8'), file).map((r) => r.entry),
}));
const [avvid, vse] = forests;

const SERVICE_PASSWORD = 'Svc-Canopy-Passw0rd!';
const USER_PASSWORD = 'Passw0rd!';

function strings(entry: Entry, name: string): string[] {
  return (entry.get(name)?.values ?? []).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
}

function bySam(forest: Forest, sam: string): Entry {
  const found = forest.entries.find((e) => strings(e, 'sAMAccountName').includes(sam));
  if (!found) throw new Error(`fixture ${forest.suffix} has no ${sam}`);
  return found;
}

function hasClass(entry: Entry, cls: string): boolean {
  return strings(entry, 'objectClass').some((c) => c.toLowerCase() === cls.toLowerCase());
}

function uac(entry: Entry): number {
  return Number(strings(entry, 'userAccountControl')[0] ?? 0);
}

/** The DN keys a search of `forest` would return, computed from the LDIF. */
function expectedKeys(forest: Forest, base: string, scope: 'base' | 'one' | 'sub', match: (e: Entry) => boolean = () => true): string[] {
  const b = Dn.parse(base);
  return forest.entries
    .filter((e) => (scope === 'base' ? e.dn.equals(b) : scope === 'one' ? e.dn.parent()?.equals(b) === true : e.dn.isWithin(b)))
    .filter(match)
    .map((e) => e.dn.key)
    .sort();
}

const keysOf = (dns: readonly string[]): string[] => dns.map((d) => Dn.parse(d).key).sort();

/** The DNs of an `ldapsearch -LLL` output, `dn::` base64 decoded. */
function ldifDns(stdout: string): string[] {
  return [...stdout.matchAll(/^dn(::?) (.*)$/gm)].map(([, sep, v]) => (sep === '::' ? Buffer.from(v, 'base64').toString('utf8') : v));
}

/** RFC 4515 escaping of every byte, as a client would write a binary assertion. */
const escapeBytes = (b: Buffer): string => [...b].map((x) => '\\' + x.toString(16).padStart(2, '0')).join('');

const john = bySam(avvid, 'jdoe');
const jose = bySam(avvid, 'jmuller');
const service = avvid.entries.find((e) => strings(e, 'sAMAccountName').includes('svc-canopy'))!;
const disabled = avvid.entries.find((e) => uac(e) === 514 && e.has('userPassword'))!;
const usersOu = `OU=Users,${avvid.suffix}`;

let url = '';
let close: () => Promise<void> = async () => {};
const clients: Client[] = [];

async function serve(): Promise<void> {
  const server = await startTestServer();
  url = server.url;
  close = () => server.close();
}

async function shutdown(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.unbind().catch(() => undefined)));
  await close();
}

function client(): Client {
  const c = new Client({ url, timeout: 5000, connectTimeout: 5000 });
  clients.push(c);
  return c;
}

const change = (operation: 'add' | 'delete' | 'replace', type: string, value: string): Change =>
  new Change({ operation, modification: new Attribute({ type, values: [value] }) });

const ldapsearch = (...args: string[]): Promise<LdapToolResult> =>
  runLdapTool('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', url, ...args]);

describe('mock directory, read-only', () => {
  beforeAll(serve);
  afterAll(shutdown);

  it('publishes both forests in the root DSE (ldapsearch + and *)', async () => {
    for (const attrs of ['+', '*']) {
      const r = await ldapsearch('-s', 'base', '-b', '', attrs);
      expect(r.status, r.stderr).toBe(0);
      const contexts = [...r.stdout.matchAll(/^namingContexts: (.*)$/gm)].map((m) => m[1]);
      expect(keysOf(contexts)).toEqual(keysOf(forests.map((f) => f.suffix)));
    }
  });

  describe.each(['base', 'one', 'sub'] as const)('scope %s', (scope) => {
    it.each([avvid.suffix, usersOu, john.dn.text, vse.suffix])('at %s returns what the LDIF holds', async (base) => {
      const forest = forests.find((f) => Dn.parse(base).isWithin(Dn.parse(f.suffix)))!;
      const expected = expectedKeys(forest, base, scope);
      if (scope !== 'one' || base !== john.dn.text) expect(expected).not.toEqual([]); // a leaf has no children
      const { searchEntries } = await client().search(base, { scope, attributes: ['1.1'] });
      expect(keysOf(searchEntries.map((e) => e.dn))).toEqual(expected);
    });
  });

  it('counts subtree entries the same through ldapsearch', async () => {
    const r = await ldapsearch('-b', avvid.suffix, '-s', 'sub', '(objectClass=*)', '1.1');
    expect(r.status, r.stderr).toBe(0);
    expect(keysOf(ldifDns(r.stdout))).toEqual(expectedKeys(avvid, avvid.suffix, 'sub'));
  });

  it('answers noSuchObject (32) with the deepest existing entry as matchedDN', async () => {
    const inside = await ldapsearch('-b', `CN=Nobody,OU=Nowhere,${avvid.suffix}`, '-s', 'base');
    expect(inside.status).toBe(32);
    expect(inside.stdout + inside.stderr).toMatch(new RegExp(`Matched DN: ${avvid.suffix}\\s*$`, 'm'));
    const leaf = await ldapsearch('-b', `CN=Nobody,${usersOu}`, '-s', 'sub');
    expect(leaf.status).toBe(32);
    expect(leaf.stdout + leaf.stderr).toMatch(new RegExp(`Matched DN: ${usersOu}\\s*$`, 'm'));
    const outside = await ldapsearch('-b', 'DC=nowhere,DC=example', '-s', 'sub');
    expect(outside.status).toBe(32);
    expect(outside.stdout + outside.stderr).not.toMatch(/Matched DN: \S/);
    await expect(client().search(`CN=Nobody,${usersOu}`, { scope: 'base' })).rejects.toMatchObject({ code: 32 });
    await expect(client().search('DC=nowhere,DC=example', { scope: 'sub' })).rejects.toMatchObject({ code: 32 });
  });

  it('returns exactly the enabled non-computer users for the Cisco sync filter', async () => {
    const filter = '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';
    const c = client();
    for (const forest of forests) {
      const expected = expectedKeys(forest, forest.suffix, 'sub', (e) => hasClass(e, 'user') && !hasClass(e, 'computer') && (uac(e) & 2) === 0);
      expect(expected).not.toContain(disabled.dn.key);
      const { searchEntries } = await c.search(forest.suffix, { scope: 'sub', filter, attributes: ['sAMAccountName'] });
      expect(keysOf(searchEntries.map((e) => e.dn))).toEqual(expected);
    }
    const r = await ldapsearch('-b', avvid.suffix, filter, '1.1');
    expect(keysOf(ldifDns(r.stdout))).toEqual(
      expectedKeys(avvid, avvid.suffix, 'sub', (e) => hasClass(e, 'user') && !hasClass(e, 'computer') && (uac(e) & 2) === 0),
    );
  });

  it('finds jdoe once in each forest', async () => {
    const c = client();
    for (const forest of forests) {
      const { searchEntries } = await c.search(forest.suffix, { scope: 'sub', filter: '(sAMAccountName=jdoe)' });
      expect(searchEntries.map((e) => e.dn)).toEqual([bySam(forest, 'jdoe').dn.text]);
    }
  });

  it('round-trips the binary objectGUID and finds a user by its escaped bytes', async () => {
    const guid = john.get('objectGUID')!.values[0] as Buffer;
    expect(Buffer.isBuffer(guid)).toBe(true);
    const c = client();
    const read = await c.search(john.dn.text, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
    expect(Buffer.from(read.searchEntries[0].objectGUID as Buffer).equals(guid)).toBe(true);

    // ldapts turns `\80` in a filter string into U+0080 (two bytes on the wire), so it is given
    // the filter as an object holding the bytes; ldapsearch sends the escaped text as written.
    const filter = new EqualityFilter({ attribute: 'objectGUID', value: guid });
    const { searchEntries } = await c.search(avvid.suffix, { scope: 'sub', filter, attributes: ['sAMAccountName'] });
    expect(searchEntries.map((e) => e.dn)).toEqual([john.dn.text]);
    const filterText = `(objectGUID=${escapeBytes(guid)})`;
    const r = await ldapsearch('-b', avvid.suffix, filterText, 'objectGUID');
    expect(r.status, r.stderr).toBe(0);
    expect(ldifDns(r.stdout)).toEqual([john.dn.text]);
    expect(r.stdout).toContain(`objectGUID:: ${guid.toString('base64')}`);
  });

  it('returns non-ASCII DNs as UTF-8, never escaped', async () => {
    expect(jose.dn.text).toMatch(/José Müller/);
    const { searchEntries } = await client().search(avvid.suffix, { scope: 'sub', filter: '(sAMAccountName=jmuller)', attributes: ['cn'] });
    expect(searchEntries.map((e) => e.dn)).toEqual([jose.dn.text]);
    expect(searchEntries[0].cn).toBe(strings(jose, 'cn')[0]);
    const r = await ldapsearch('-b', avvid.suffix, '(sAMAccountName=jmuller)', 'cn');
    expect(r.stdout).toContain(`dn:: ${Buffer.from(jose.dn.text, 'utf8').toString('base64')}`);
    // A base spelled in UTF-8 finds the entry too.
    const base = await client().search(jose.dn.text, { scope: 'base', attributes: ['1.1'] });
    expect(base.searchEntries.map((e) => e.dn)).toEqual([jose.dn.text]);
  });

  it.each(['jane.doe', 'absmith', 'bsuser'])('round-trips the escaped DN of %s', async (sam) => {
    const entry = bySam(avvid, sam);
    const c = client();
    const { searchEntries } = await c.search(avvid.suffix, { scope: 'sub', filter: `(sAMAccountName=${sam})`, attributes: ['cn'] });
    expect(searchEntries.map((e) => e.dn)).toEqual([entry.dn.text]);
    expect(searchEntries[0].cn).toBe(strings(entry, 'cn')[0]);
    const again = await c.search(searchEntries[0].dn, { scope: 'base', attributes: ['sAMAccountName'] });
    expect(again.searchEntries[0].sAMAccountName).toBe(sam);
    const r = await ldapsearch('-b', entry.dn.text, '-s', 'base', 'sAMAccountName');
    expect(r.status, r.stderr).toBe(0);
    expect(keysOf(ldifDns(r.stdout))).toEqual([entry.dn.key]);
  });

  it('stops at the size limit after exactly N entries with sizeLimitExceeded (4)', async () => {
    const { searchEntries } = await client().search(usersOu, { scope: 'one', sizeLimit: 5, attributes: ['1.1'] });
    expect(searchEntries).toHaveLength(5);
    const r = await ldapsearch('-z', '5', '-b', usersOu, '-s', 'one', '1.1');
    expect(r.status).toBe(4);
    expect(ldifDns(r.stdout)).toHaveLength(5);
  });

  it('honours typesOnly and attribute selection', async () => {
    const c = client();
    // ldapts spells typesOnly `returnAttributeValues: false`, and lists every requested name,
    // with [] when the entry had none: only names it was not asked for prove what came back.
    const search = async (attributes: string[], typesOnly = false): Promise<LdaptsEntry> =>
      (await c.search(john.dn.text, { scope: 'base', attributes, returnAttributeValues: !typesOnly })).searchEntries[0];

    const types = await search(['*'], true);
    expect(types).toMatchObject({ cn: [], mail: [], sAMAccountName: [] });
    expect(Object.entries(types).filter(([k, v]) => k !== 'dn' && !(Array.isArray(v) && v.length === 0))).toEqual([]);
    const typesTool = await ldapsearch('-A', '-b', john.dn.text, '-s', 'base', 'cn', 'mail');
    expect(typesTool.stdout).toBe(`dn: ${john.dn.text}\ncn:\nmail:\n\n`);

    const none = await search(['1.1']);
    expect(none).toEqual({ dn: john.dn.text, '1.1': [] });
    const noneTool = await ldapsearch('-b', john.dn.text, '-s', 'base', '1.1');
    expect(noneTool.stdout).toBe(`dn: ${john.dn.text}\n\n`);

    const all = await search(['*']);
    expect(all.sAMAccountName).toBe('jdoe');
    expect(all.mail).toBe(strings(john, 'mail')[0]);

    const named = await search(['SAMACCOUNTNAME', 'Mail']);
    expect(named).toMatchObject({ sAMAccountName: 'jdoe', mail: strings(john, 'mail')[0] });
    expect(Object.keys(named).filter((k) => !['SAMACCOUNTNAME', 'Mail'].includes(k)).sort()).toEqual(['dn', 'mail', 'sAMAccountName']);

    const operational = await search(['+']);
    expect(operational).not.toHaveProperty('sAMAccountName');
    const both = await search(['*', '+']);
    expect(both.sAMAccountName).toBe('jdoe');
    expect(Object.keys(both).length).toBeGreaterThan(Object.keys(all).length);
  });

  it('binds the service account and a user with their fixture passwords', async () => {
    await client().bind(service.dn.text, SERVICE_PASSWORD);
    await client().bind(john.dn.text, USER_PASSWORD);
    const r = await runLdapTool('ldapsearch', ['-x', '-LLL', '-H', url, '-D', service.dn.text, '-w', SERVICE_PASSWORD, '-b', john.dn.text, '-s', 'base', '1.1']);
    expect(r.status, r.stderr).toBe(0);
  });

  it('refuses bad credentials with invalidCredentials (49), alike for wrong password and unknown user', async () => {
    const wrong = await client().bind(john.dn.text, 'wrong').catch((e: unknown) => e);
    const unknown = await client().bind(`CN=Nobody,${usersOu}`, USER_PASSWORD).catch((e: unknown) => e);
    const outside = await client().bind('CN=Nobody,DC=nowhere,DC=example', USER_PASSWORD).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: 49 });
    expect(unknown).toMatchObject({ code: 49, message: (wrong as Error).message });
    expect(outside).toMatchObject({ code: 49, message: (wrong as Error).message });
    await expect(client().bind(disabled.dn.text, USER_PASSWORD)).rejects.toMatchObject({ code: 49, message: (wrong as Error).message });
    // A name with an empty password is refused by Canopy's front end, as slapd does (RFC 4513 §5.1.2).
    await expect(client().bind(john.dn.text, '')).rejects.toMatchObject({ code: 53 });
    const r = await runLdapTool('ldapsearch', ['-x', '-H', url, '-D', john.dn.text, '-w', 'wrong', '-b', '', '-s', 'base']);
    expect(r.status).toBe(49);
  });

  it('compares (ldapts and ldapcompare exit codes 6/5)', async () => {
    const c = client();
    await expect(c.compare(john.dn.text, 'sAMAccountName', 'JDOE')).resolves.toBe(true);
    await expect(c.compare(john.dn.text, 'sAMAccountName', 'someone')).resolves.toBe(false);
    await expect(c.compare(`CN=Nobody,${usersOu}`, 'cn', 'x')).rejects.toMatchObject({ code: 32 });
    const yes = await runLdapTool('ldapcompare', ['-x', '-H', url, john.dn.text, 'sAMAccountName:jdoe']);
    expect(yes.status, yes.stderr).toBe(6);
    const no = await runLdapTool('ldapcompare', ['-x', '-H', url, john.dn.text, 'sAMAccountName:someone']);
    expect(no.status, no.stderr).toBe(5);
  });
});

describe('OpenLDAP client tools', () => {
  it('fail with an install hint when missing', async () => {
    await expect(runLdapTool('ldapsearch-not-installed', [])).rejects.toThrow('install the Debian package ldap-utils (apt-get install -y ldap-utils)');
  });
});

describe('mock directory, writes (a fresh server per test)', () => {
  beforeEach(serve);
  afterEach(shutdown);

  const newDn = `CN=New Person,${usersOu}`;
  const newPerson = {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    cn: 'New Person',
    sn: 'Person',
    sAMAccountName: 'nperson',
  };

  it('adds through ldapts, and refuses duplicates (68), missing parents (32) and no objectClass (65)', async () => {
    const c = client();
    await c.add(newDn, newPerson);
    const { searchEntries } = await c.search(avvid.suffix, { scope: 'sub', filter: '(sAMAccountName=nperson)' });
    expect(searchEntries.map((e) => e.dn)).toEqual([newDn]);
    await expect(c.add(newDn, newPerson)).rejects.toMatchObject({ code: 68 });
    await expect(c.add(`CN=New Person,OU=Nowhere,${avvid.suffix}`, newPerson)).rejects.toMatchObject({ code: 32 });
    await expect(c.add(`CN=Classless,${usersOu}`, { cn: 'Classless', sn: 'x' })).rejects.toMatchObject({ code: 65 });
  });

  it('round-trips a cn holding "," "+" and "\\" through add, search and compare', async () => {
    const cn = 'Smith, A+B \\ C';
    const dn = `CN=Smith\\, A\\+B \\\\ C,${usersOu}`;
    const c = client();
    await c.add(dn, { ...newPerson, cn, sAMAccountName: 'asmithc' });
    const { searchEntries } = await c.search(usersOu, { scope: 'one', filter: '(sAMAccountName=asmithc)', attributes: ['cn'] });
    expect(searchEntries).toEqual([{ dn, cn }]);
    const found = await c.search(avvid.suffix, { scope: 'sub', filter: '(cn=Smith, A+B \\5c C)', attributes: ['1.1'] });
    expect(found.searchEntries.map((e) => e.dn)).toEqual([dn]);
    await expect(c.compare(dn, 'cn', cn)).resolves.toBe(true);
    const r = await ldapsearch('-b', dn, '-s', 'base', 'cn');
    expect(r.status, r.stderr).toBe(0);
    expect(ldifDns(r.stdout)).toEqual([dn]);
    expect(r.stdout).toContain(`cn: ${cn}\n`);
  });

  it('keeps writes to the server that took them', async () => {
    await client().add(newDn, newPerson);
    const other = await startTestServer();
    try {
      const c = new Client({ url: other.url });
      await expect(c.search(newDn, { scope: 'base' })).rejects.toMatchObject({ code: 32 });
      await c.unbind();
    } finally {
      await other.close();
    }
  });

  it('adds, modifies and deletes through ldapmodify', async () => {
    const ldapmodify = (ldif: string): Promise<LdapToolResult> => runLdapTool('ldapmodify', ['-x', '-H', url], ldif);
    const add = await ldapmodify(`dn: ${newDn}\nchangetype: add\nobjectClass: top\nobjectClass: person\nobjectClass: user\ncn: New Person\nsn: Person\nsAMAccountName: nperson\n`);
    expect(add.status, add.stderr).toBe(0);
    const again = await ldapmodify(`dn: ${newDn}\nchangetype: add\nobjectClass: person\ncn: New Person\nsn: Person\n`);
    expect(again.status).toBe(68);
    const mod = await ldapmodify(`dn: ${newDn}\nchangetype: modify\nreplace: ipPhone\nipPhone: 4242\n-\n`);
    expect(mod.status, mod.stderr).toBe(0);
    expect((await client().search(newDn, { scope: 'base', attributes: ['ipPhone'] })).searchEntries[0].ipPhone).toBe('4242');
    const del = await ldapmodify(`dn: ${newDn}\nchangetype: delete\n`);
    expect(del.status, del.stderr).toBe(0);
    const gone = await ldapsearch('-b', newDn, '-s', 'base');
    expect(gone.status).toBe(32);
  });

  it('replaces ipPhone and reads it back; reports noSuchAttribute (16) and attributeOrValueExists (20)', async () => {
    const c = client();
    const before = strings(john, 'ipPhone');
    expect(before).toHaveLength(1);
    await c.modify(john.dn.text, change('replace', 'ipPhone', '9999'));
    const { searchEntries } = await c.search(john.dn.text, { scope: 'base', attributes: ['ipPhone'] });
    expect(searchEntries[0].ipPhone).toBe('9999');
    await expect(
      c.modify(john.dn.text, change('delete', 'pager', '123')),
    ).rejects.toMatchObject({ code: 16 });
    await expect(
      c.modify(john.dn.text, change('delete', 'ipPhone', '0000')),
    ).rejects.toMatchObject({ code: 16 });
    await expect(
      c.modify(john.dn.text, change('add', 'ipPhone', '9999')),
    ).rejects.toMatchObject({ code: 20 });
    // A failed modify changes nothing.
    expect((await c.search(john.dn.text, { scope: 'base', attributes: ['ipPhone'] })).searchEntries[0].ipPhone).toBe('9999');
  });

  it('deletes leaves only (notAllowedOnNonLeaf 66)', async () => {
    const c = client();
    await expect(c.del(usersOu)).rejects.toMatchObject({ code: 66 });
    await c.del(jose.dn.text);
    await expect(c.search(jose.dn.text, { scope: 'base' })).rejects.toMatchObject({ code: 32 });
    const { searchEntries } = await c.search(avvid.suffix, { scope: 'sub', filter: '(sAMAccountName=jmuller)' });
    expect(searchEntries).toEqual([]);
    await expect(c.del(jose.dn.text)).rejects.toMatchObject({ code: 32 });
  });

  it('renames and moves with modifyDN', async () => {
    const c = client();
    const renamed = `CN=Johnny Doe,${usersOu}`;
    await c.modifyDN(john.dn.text, 'CN=Johnny Doe');
    await expect(c.search(john.dn.text, { scope: 'base' })).rejects.toMatchObject({ code: 32 });
    const r = await c.search(renamed, { scope: 'base', attributes: ['cn', 'sAMAccountName'] });
    expect(r.searchEntries[0]).toMatchObject({ dn: renamed, cn: 'Johnny Doe', sAMAccountName: 'jdoe' });

    const moved = `CN=Johnny Doe,OU=ServiceAccounts,${avvid.suffix}`;
    await c.modifyDN(renamed, `CN=Johnny Doe,OU=ServiceAccounts,${avvid.suffix}`);
    const m = await c.search(avvid.suffix, { scope: 'sub', filter: '(sAMAccountName=jdoe)', attributes: ['1.1'] });
    expect(m.searchEntries.map((e) => e.dn)).toEqual([moved]);
    const ou = await c.search(`OU=ServiceAccounts,${avvid.suffix}`, { scope: 'one', attributes: ['1.1'] });
    expect(keysOf(ou.searchEntries.map((e) => e.dn))).toEqual([...expectedKeys(avvid, `OU=ServiceAccounts,${avvid.suffix}`, 'one'), Dn.parse(moved).key].sort());

    await expect(c.modifyDN(moved, service.dn.rdns[0].text)).rejects.toMatchObject({ code: 68 });
    await expect(c.modifyDN(renamed, 'CN=John Doe')).rejects.toMatchObject({ code: 32 }); // moved away
    await expect(c.modifyDN(moved, `CN=Johnny Doe,OU=Nowhere,${avvid.suffix}`)).rejects.toMatchObject({ code: 32 });
  });

  it('renames and moves with ldapmodify modrdn, keeping the old RDN value when asked', async () => {
    const liz = bySam(avvid, 'egreen');
    const target = `CN=Liz Green,OU=ServiceAccounts,${avvid.suffix}`;
    const r = await runLdapTool(
      'ldapmodify',
      ['-x', '-H', url],
      `dn: ${liz.dn.text}\nchangetype: modrdn\nnewrdn: CN=Liz Green\ndeleteoldrdn: 0\nnewsuperior: OU=ServiceAccounts,${avvid.suffix}\n`,
    );
    expect(r.status, r.stderr).toBe(0);
    const { searchEntries } = await client().search(target, { scope: 'base', attributes: ['cn', 'sAMAccountName'] });
    expect(searchEntries).toEqual([{ dn: target, cn: [...strings(liz, 'cn'), 'Liz Green'], sAMAccountName: 'egreen' }]);
    expect((await ldapsearch('-b', liz.dn.text, '-s', 'base')).status).toBe(32);
  });
});
