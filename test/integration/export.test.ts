/**
 * `canopy export`: the fixture forests read through Canopy (namespace, UPN suffix mapping, AD range
 * retrieval), written with --anonymize, loaded again by the mock directory, keep their structure
 * and lose their personal data.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, InvalidCredentialsError, type Entry as LdapEntry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { Dn } from '../../src/core/dn.js';
import type { Directory, SearchRequest } from '../../src/core/directory.js';
import { Entry } from '../../src/core/entry.js';
import { startMockDirectory, type MockDirectory } from '../../src/mock/mock-directory.js';
import { Anonymizer } from '../../src/tools/anonymize.js';
import { exportToFile, runExport } from '../../src/tools/export.js';
import { repoRoot } from '../support/server.js';

const SUFFIX = 'dc=corp,dc=example';
const SEED = 'export-test-seed';
const cli = join(repoRoot, 'dist/cli.js');
const fixtureFiles = ['avvid.info.ldif', 'vse.lab.ldif'].map((f) => join(repoRoot, 'fixtures', f));
const fixtures = fixtureFiles.flatMap((f) => parseLdif(readFileSync(f, 'utf8'), f).map((r) => r.entry));

/**
 * The fixtures behind a namespace, as in config/default.yaml, but with passwords readable (the
 * export must leave them out by itself) and AD's MaxValRange at its minimum, 10, so the larger groups (VPN Users: 13 and 15) come in
 * ranges that the export must follow.
 */
const config = `
logging: { level: silent }
namespace: { suffix: "${SUFFIX}" }
forests:
  - { name: avvid, backend: memory, profile: ad, maxValRange: 10, base: "DC=avvid,DC=info", mount: "ou=avvid,${SUFFIX}",
      upnSuffixes: { avvid.info: avvid.info }, netbiosName: AVVID, ldif: ["${fixtureFiles[0]}"] }
  - { name: vse, backend: memory, profile: ad, maxValRange: 10, base: "DC=vse,DC=lab", mount: "ou=vse,${SUFFIX}",
      upnSuffixes: { vse.lab: vse.local }, netbiosName: VSE, ldif: ["${fixtureFiles[1]}"] }
`;

/** A fixture DN as Canopy shows it: below the forest's mount. */
function virtual(dn: Dn): Dn {
  const forest = dn.isWithin(Dn.parse('DC=avvid,DC=info')) ? 'avvid' : 'vse';
  const base = Dn.parse(forest === 'avvid' ? 'DC=avvid,DC=info' : 'DC=vse,DC=lab');
  return dn.rebase(base, Dn.parse(`ou=${forest},${SUFFIX}`));
}

const classes = (e: Entry) => (e.get('objectClass')?.values ?? []).map((c) => String(c).toLowerCase());
const isUser = (e: Entry) => classes(e).includes('user') && !classes(e).includes('computer');

async function exportTo(dir: string, name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; file: string }> {
  const file = join(dir, name);
  let stdout = '';
  let stderr = '';
  const io = {
    out: { write: (s: string) => ((stdout += s), true) } as unknown as NodeJS.WritableStream,
    err: { write: (s: string) => ((stderr += s), true) } as unknown as NodeJS.WritableStream,
  };
  const code = await runExport(['--config', join(dir, 'canopy.yaml'), '--base', SUFFIX, '--out', file, ...args], io);
  return { code, stdout, stderr, file };
}

async function searchAll(client: Client, filter: string, attributes: string[] = []): Promise<LdapEntry[]> {
  const { searchEntries } = await client.search(SUFFIX, { scope: 'sub', filter, attributes, explicitBufferAttributes: ['objectGUID'] });
  return searchEntries;
}

const key = (dn: string) => Dn.parse(dn).key;
const list = (v: LdapEntry[string] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

describe('canopy export', () => {
  let dir: string;
  let anonymized: string;
  let plainFile: string;
  let plain: MockDirectory;
  let mock: MockDirectory;
  let before: Client;
  let after: Client;
  const a = new Anonymizer(SEED);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-export-'));
    writeFileSync(join(dir, 'canopy.yaml'), config);
    const anon = await exportTo(dir, 'anonymized.ldif', ['--anonymize', '--seed', SEED]);
    expect(anon.stderr).toBe('');
    expect(anon.code).toBe(0);
    expect(anon.stdout).toContain(`exported ${fixtures.length + 1} entries`);
    anonymized = anon.file;
    const asIs = await exportTo(dir, 'plain.ldif', []);
    expect(asIs.code).toBe(0);
    expect(asIs.stderr).toContain('not anonymized');
    plainFile = asIs.file;
    [plain, mock] = await Promise.all([startMockDirectory({ files: [plainFile] }), startMockDirectory({ files: [anonymized] })]);
    before = new Client({ url: plain.url });
    after = new Client({ url: mock.url });
    await before.bind(plain.bindDn, plain.password);
    await after.bind(mock.bindDn, mock.password);
  });

  afterAll(async () => {
    await Promise.all([before?.unbind(), after?.unbind()]);
    await Promise.all([plain?.close(), mock?.close()]);
  });

  it('loads into the mock directory with the same numbers of entries, users, groups and OUs as the fixtures', async () => {
    const count = async (client: Client, filter: string) => (await searchAll(client, filter, ['1.1'])).length;
    const expected = {
      '(objectClass=*)': fixtures.length + 1, // and the namespace's suffix entry
      '(&(objectClass=user)(!(objectClass=computer)))': fixtures.filter(isUser).length,
      '(objectClass=group)': fixtures.filter((e) => classes(e).includes('group')).length,
      '(objectClass=organizationalUnit)': fixtures.filter((e) => classes(e).includes('organizationalunit')).length,
    };
    expect(mock.loaded).toBe(fixtures.length + 1);
    for (const [filter, n] of Object.entries(expected)) {
      expect(await count(before, filter), filter).toBe(n);
      expect(await count(after, filter), filter).toBe(n);
    }
  });

  it('keeps every group\'s size and members, read past AD\'s range limit, under the new names', async () => {
    const groups = fixtures.filter((e) => classes(e).includes('group'));
    expect(groups.some((g) => (g.get('member')?.values.length ?? 0) > 4)).toBe(true);
    const exported = new Map((await searchAll(after, '(objectClass=group)', ['member'])).map((g) => [key(g.dn), list(g.member).map(key).sort()]));
    for (const g of groups) {
      const members = (g.get('member')?.values ?? []).map((m) => a.dn(virtual(Dn.parse(String(m)))).key).sort();
      expect(exported.get(a.dn(virtual(g.dn)).key), g.dn.text).toEqual(members);
    }
  });

  it('keeps manager chains and memberOf back links', async () => {
    const users = new Map((await searchAll(after, '(objectClass=user)', ['manager', 'memberOf'])).map((u) => [key(u.dn), u]));
    let chains = 0;
    for (const e of fixtures.filter(isUser)) {
      const exported = users.get(a.dn(virtual(e.dn)).key);
      expect(exported, e.dn.text).toBeDefined();
      const manager = e.get('manager')?.values[0];
      expect(list(exported!.manager).map(key)).toEqual(manager === undefined ? [] : [a.dn(virtual(Dn.parse(String(manager)))).key]);
      if (manager !== undefined) chains++;
      const memberOf = (e.get('memberOf')?.values ?? []).map((g) => a.dn(virtual(Dn.parse(String(g)))).key);
      expect(list(exported!.memberOf).map(key).sort()).toEqual(memberOf.sort());
    }
    expect(chains).toBeGreaterThan(50);
  });

  it('keeps the login shared by both forests shared, under one pseudonym, and the UPN suffixes', async () => {
    const sams = (await searchAll(after, '(&(objectClass=user)(!(objectClass=computer)))', ['sAMAccountName', 'userPrincipalName'])).map((u) => ({
      sam: String(u.sAMAccountName).toLowerCase(),
      upn: String(u.userPrincipalName),
      dn: key(u.dn),
    }));
    const counts = (values: string[]) => [...values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<string, number>()).values()].sort();
    const originals = fixtures.filter(isUser).map((e) => String(e.get('sAMAccountName')!.values[0]).toLowerCase());
    expect(counts(sams.map((s) => s.sam))).toEqual(counts(originals));

    const jdoes = fixtures.filter((e) => e.get('sAMAccountName')?.values[0] === 'jdoe').map((e) => a.dn(virtual(e.dn)).key);
    expect(jdoes).toHaveLength(2);
    const alias = sams.find((s) => s.dn === jdoes[0])!.sam;
    expect(alias).not.toBe('jdoe');
    expect(sams.filter((s) => s.sam === alias).map((s) => s.dn).sort()).toEqual([...jdoes].sort());
    // Every UPN suffix is kept as Canopy shows it (vse.local users are @vse.lab there); the local part is the alias.
    const suffix = (upn: string) => upn.slice(upn.lastIndexOf('@') + 1);
    const shown = await searchAll(before, '(&(objectClass=user)(!(objectClass=computer)))', ['userPrincipalName']);
    expect(shown.map((u) => suffix(String(u.userPrincipalName)))).toContain('vse.lab');
    for (const u of shown) {
      const exported = sams.find((s) => s.dn === a.dn(Dn.parse(u.dn)).key)!;
      expect(suffix(exported.upn), u.dn).toBe(suffix(String(u.userPrincipalName)));
    }
    expect(sams.filter((s) => s.sam === alias).map((s) => s.upn).sort()).toEqual([`${alias}@avvid.info`, `${alias}@vse.lab`]);
  });

  it('keeps disabled users disabled: same accounts, and they cannot bind while the others can with the documented password', async () => {
    const filter = '(userAccountControl:1.2.840.113556.1.4.803:=2)';
    const disabled = (await searchAll(after, filter, ['userPrincipalName'])).map((u) => ({ dn: key(u.dn), upn: String(u.userPrincipalName) }));
    const expected = fixtures.filter((e) => (Number(e.get('userAccountControl')?.values[0] ?? 0) & 2) !== 0).map((e) => a.dn(virtual(e.dn)).key);
    expect(expected.length).toBeGreaterThan(0);
    expect(disabled.map((d) => d.dn).sort()).toEqual(expected.sort());

    const [enabled] = await searchAll(after, '(&(objectClass=user)(!(objectClass=computer))(userAccountControl=512))', ['userPrincipalName']);
    const user = new Client({ url: mock.url });
    try {
      await user.bind(String(enabled.userPrincipalName), 'Passw0rd!');
      await expect(user.bind(disabled[0].upn, 'Passw0rd!')).rejects.toBeInstanceOf(InvalidCredentialsError);
    } finally {
      await user.unbind();
    }
  });

  it('replaces GUIDs by other 16-byte values', async () => {
    const original = new Set(fixtures.flatMap((e) => e.get('objectGUID')?.values ?? []).map((g) => (g as Buffer).toString('hex')));
    const guids = (await searchAll(after, '(objectGUID=*)', ['objectGUID'])).map((e) => e.objectGUID as Buffer);
    expect(guids).toHaveLength(original.size);
    for (const g of guids) {
      expect(g).toHaveLength(16);
      expect(original.has(g.toString('hex'))).toBe(false);
    }
  });

  it('leaves no original name, mail address or phone number anywhere in the output', () => {
    const checked = ['cn', 'name', 'sn', 'givenName', 'middleName', 'displayName', 'mail', 'msRTCSIP-PrimaryUserAddress', 'telephoneNumber', 'mobile', 'homePhone', 'pager'];
    const originals = [...new Set(fixtures.flatMap((e) => checked.flatMap((n) => e.get(n)?.values ?? []).map(String)))];
    expect(originals.length).toBeGreaterThan(500);
    /** The originals found in a file: in any value as text (base64 decoded) or DN, except object class names (schema, not data). */
    const originalsIn = (file: string) => {
      const haystack = parseLdif(readFileSync(file, 'utf8'), file)
        .flatMap(({ entry }) => [
          entry.dn.text,
          ...[...entry.attributes()].filter((x) => x.name.toLowerCase() !== 'objectclass').flatMap((x) => x.values.filter((v) => typeof v === 'string')),
        ])
        .join('\n');
      return originals.filter((v) => {
        const escaped = v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        return new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'iu').test(haystack);
      });
    };
    expect(originalsIn(plainFile).length).toBeGreaterThan(500);
    expect(originalsIn(anonymized)).toEqual([]);
    // Four-digit extensions are too dense a space for "appears nowhere": a pseudonymous one may equal
    // somebody else's. What matters is that nobody keeps theirs.
    const exported = new Map(parseLdif(readFileSync(anonymized, 'utf8'), anonymized).map(({ entry }) => [entry.dn.key, entry]));
    for (const e of fixtures.filter((x) => x.has('ipPhone'))) {
      expect(exported.get(a.dn(virtual(e.dn)).key)!.get('ipPhone')!.values).not.toEqual(e.get('ipPhone')!.values);
    }
  });

  it('never exports a password: secrets are left out and every person gets the documented one', () => {
    for (const file of [anonymized, plainFile]) {
      const text = readFileSync(file, 'utf8');
      expect(text).not.toContain('Svc-Canopy-Passw0rd!');
      expect(text).not.toMatch(/^unicodePwd/im);
      const entries = parseLdif(text, file).map((r) => r.entry);
      const people = entries.filter((e) => classes(e).includes('person'));
      expect(people.length).toBeGreaterThan(100);
      for (const e of people) expect(e.get('userPassword')?.values).toEqual(['Passw0rd!']);
      expect(entries.filter((e) => !classes(e).includes('person')).some((e) => e.has('userPassword'))).toBe(false);
    }
  });

  it('gives byte-identical output for the same seed and other pseudonyms for another', async () => {
    const again = await exportTo(dir, 'again.ldif', ['--anonymize', '--seed', SEED]);
    expect(again.code).toBe(0);
    expect(readFileSync(again.file).equals(readFileSync(anonymized))).toBe(true);
    const other = await exportTo(dir, 'other.ldif', ['--anonymize', '--seed', 'another-seed']);
    expect(other.code).toBe(0);
    const sam = (file: string) => /^sAMAccountName: (.*)$/m.exec(readFileSync(file, 'utf8').split('\ndn: CN=')[1])![1];
    expect(sam(other.file)).not.toBe(sam(anonymized));
    expect(readFileSync(other.file).length).toBe(readFileSync(anonymized).length);
  });

  it('writes nothing when a forest cannot be read, so a partial export never passes for the directory', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'canopy-export-'));
    writeFileSync(
      join(broken, 'canopy.yaml'),
      `${config}  - { name: down, backend: ldap, servers: ["ldap://127.0.0.1:1"], base: "dc=down", mount: "ou=down,${SUFFIX}", timeouts: { connectMs: 500, operationMs: 1000 } }\n`,
    );
    const r = await exportTo(broken, 'out.ldif', ['--anonymize']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/down/);
    expect(readdirSync(broken)).toEqual(['canopy.yaml']);
  });

  it('fails rather than write a group cut short when the next range of its members cannot be read', async () => {
    const group = new Entry(Dn.parse('CN=Big,DC=x'), [{ name: 'member;range=0-1', values: ['CN=a,DC=x', 'CN=b,DC=x'] }]);
    const directory = {
      async *search(request: SearchRequest) {
        if (request.scope === 'sub') yield group;
      },
    } as unknown as Directory;
    const out = join(dir, 'cut.ldif');
    const filter = { type: 'present', attribute: 'objectClass' } as const;
    await expect(exportToFile(directory, { base: Dn.parse('DC=x'), filter, out })).rejects.toThrow(/CN=Big,DC=x: member values past 2/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });

  it('refuses incomplete or contradictory command lines with usage errors', async () => {
    expect((await exportTo(dir, 'x.ldif', ['--seed', 's'])).code).toBe(2);
    const r = await exportTo(dir, 'x.ldif', ['--filter', 'objectClass=*']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid filter');
    expect(existsSync(join(dir, 'x.ldif'))).toBe(false);
  });

  it('runs from the real command line, and canopy mock serves what it wrote', async () => {
    const out = join(dir, 'cli.ldif');
    const r = spawnSync(process.execPath, [cli, 'export', '--config', join(dir, 'canopy.yaml'), '--base', SUFFIX, '--anonymize', '--seed', SEED, '--out', out], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(out).equals(readFileSync(anonymized))).toBe(true);

    const child = spawn(process.execPath, [cli, 'mock', out, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        let text = '';
        createInterface({ input: child.stdout }).on('line', (line) => {
          text += line + '\n';
          if (line.includes('password:')) resolve(text);
        });
        child.once('exit', (code) => reject(new Error(`canopy mock exited with ${code}: ${text}`)));
      });
      expect(banner).toMatch(new RegExp(`entries:\\s+${fixtures.length + 1}\\n`));
      expect(banner).toMatch(/profile:\s+ad/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

// Issue 15, class 7: one list of credential types (core/schema.ts), by any name or OID, anonymized or not.
describe('canopy export never writes credentials', () => {
  const secrets = {
    'ms-Mcs-AdmPwd': 'Laps-Legacy-Secret-1',
    'msLAPS-Password': 'Laps-Secret-2',
    '1.2.840.113556.1.6.44.1.3': 'Laps-Encrypted-Secret-3',
    'msLAPS-EncryptedPasswordHistory': 'Laps-History-Secret-4',
    'msLAPS-EncryptedDSRMPassword': 'Laps-Dsrm-Secret-5',
    userPKCS12: 'Pkcs12-Secret-6',
    'KRBPRINCIPALKEY': 'Krb-Secret-7',
    ntPwdHistory: 'Nt-History-Secret-8',
    lmPwdHistory: 'Lm-History-Secret-9',
    supplementalCredentials: 'Supplemental-Secret-10',
    pwdHistory: 'Pwd-History-Secret-11',
    dBCSPwd: 'Dbcs-Secret-12',
    '2.5.4.35': 'User-Password-Secret-13',
    '1.2.840.113556.1.4.90': 'Unicode-Secret-14',
    'sambaNTPassword': 'Samba-Secret-15',
    '1.2.840.113556.1.8000.2554.99': 'Unknown-Oid-Secret-16',
  };
  const ldif = [
    'dn: dc=example',
    'objectClass: domain',
    'dc: example',
    '',
    'dn: cn=Host One,dc=example',
    'objectClass: top',
    'objectClass: person',
    'objectClass: computer',
    'cn: Host One',
    'sn: One',
    ...Object.entries(secrets).map(([name, value]) => `${name}: ${value}`),
    '',
  ].join('\n');

  it.each([[[]], [['--anonymize']]])('leaves every credential type out (%j)', async (args: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-export-credentials-'));
    writeFileSync(join(dir, 'creds.ldif'), ldif);
    writeFileSync(join(dir, 'canopy.yaml'), `logging: { level: silent }\nforests:\n  - { name: x, backend: memory, base: "dc=example", ldif: ["${join(dir, 'creds.ldif')}"] }\n`);
    const file = join(dir, 'out.ldif');
    const io = { out: { write: () => true }, err: { write: () => true } } as unknown as { out: NodeJS.WritableStream; err: NodeJS.WritableStream };
    expect(await runExport(['--config', join(dir, 'canopy.yaml'), '--base', 'dc=example', '--out', file, ...args], io)).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^dn: cn=/im);
    for (const value of Object.values(secrets)) expect(text).not.toContain(value);
    const host = parseLdif(text, file).map((r) => r.entry).find((e) => e.has('sn'))!;
    // The documented password for the mock, nothing else of the credentials.
    expect(host.get('userPassword')?.values).toEqual(['Passw0rd!']);
    for (const name of Object.keys(secrets)) if (name !== '2.5.4.35') expect(host.has(name)).toBe(false);
  });

  it('says so in its help', async () => {
    let out = '';
    await runExport(['--help'], { out: { write: (s: string) => ((out += s), true) }, err: { write: () => true } } as unknown as { out: NodeJS.WritableStream; err: NodeJS.WritableStream });
    expect(out).toMatch(/Credentials are never written, with or without --anonymize/);
  });
});
