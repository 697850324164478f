/**
 * Search continuation references (RFC 4511 §4.5.3) and referral results through Canopy, with
 * ldapts and ldapsearch: Active Directory's references from a memory forest with
 * `referrals: true`, and an upstream slapd's passed on (`referrals: pass`) or dropped (`drop`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type SearchResult } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { SERVICE_ACCOUNT, SERVICE_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { openAccess, repoRoot, startTestServer } from '../support/server.js';

const AVVID = 'DC=avvid,DC=info';
const AD_REFERENCES = [
  `ldap://ForestDnsZones.avvid.info/DC=ForestDnsZones,${AVVID}`,
  `ldap://DomainDnsZones.avvid.info/DC=DomainDnsZones,${AVVID}`,
  `ldap://avvid.info/CN=Configuration,${AVVID}`,
];

async function bound(url: string, dn: string, password: string): Promise<Client> {
  const client = new Client({ url });
  await client.bind(dn, password);
  return client;
}

const AVVID_ENTRIES = parseLdif(readFileSync(join(repoRoot, 'fixtures/avvid.info.ldif'), 'utf8'), 'avvid').length;

/** Every page of a paged search, with ldapts. */
async function pagedSearch(client: Client, base: string, pageSize: number): Promise<SearchResult[]> {
  const pages: SearchResult[] = [];
  for await (const page of client.searchPaginated(base, { attributes: ['1.1'], paged: { pageSize } })) pages.push(page);
  return pages;
}

/** ldapsearch's `# search reference` blocks: the `ref:` URLs it printed. */
const refsOf = (stdout: string): string[] => [...stdout.matchAll(/^ref: (\S+)$/gm)].map((m) => m[1]);

describe('memory forest, profile ad, referrals: true', () => {
  let dir: MockDirectory;
  let client: Client;
  beforeAll(async () => {
    dir = await startMockDirectory({ referrals: true }); // the bundled fixtures
    client = await bound(dir.url, dir.bindDn, dir.password);
  });
  afterAll(async () => {
    await client.unbind();
    await dir.close();
  });

  it("ends a subtree search at the domain root with AD's references, after the entries (ldapts)", async () => {
    const result = await client.search(AVVID, { filter: '(objectClass=user)', attributes: ['1.1'] });
    expect(result.searchEntries.length).toBeGreaterThan(0);
    expect(result.searchReferences).toEqual(AD_REFERENCES);
  });

  it('sends none below the domain root or for a base search', async () => {
    expect((await client.search(`OU=Users,${AVVID}`, { attributes: ['1.1'] })).searchReferences).toEqual([]);
    expect((await client.search(AVVID, { scope: 'base', attributes: ['1.1'] })).searchReferences).toEqual([]);
    expect((await client.search(AVVID, { scope: 'one', attributes: ['1.1'] })).searchReferences).toEqual([]);
  });

  it('sends them once in a paged search, on the page that collected them', async () => {
    const pages = await pagedSearch(client, AVVID, 25);
    expect(pages.length).toBeGreaterThan(2);
    expect(pages.flatMap((p) => p.searchReferences)).toEqual(AD_REFERENCES);
    expect(pages.at(-1)!.searchReferences).toEqual(AD_REFERENCES);
  });

  it('shows them to ldapsearch as search references', async () => {
    const r = await runLdapTool('ldapsearch', ['-x', '-o', 'ldif-wrap=no', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, '-b', AVVID, '(sAMAccountName=jdoe)', '1.1']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('# search reference');
    expect(refsOf(r.stdout)).toEqual(AD_REFERENCES);
    expect(r.stdout).toMatch(/^# numReferences: 3$/m);
    expect(r.stdout).toMatch(/^# numEntries: 1$/m);
  });

  it('are not sent when the forest does not ask for them', async () => {
    await using plain = await startMockDirectory();
    const other = await bound(plain.url, plain.bindDn, plain.password);
    expect((await other.search(AVVID, { attributes: ['1.1'] })).searchReferences).toEqual([]);
    await other.unbind();
  });
});

describe('memory forests behind a namespace', () => {
  it("pass AD's references on untouched: they name the upstream domain, not the virtual tree", async () => {
    await using dir = await startMockDirectory({
      baseDir: repoRoot,
      config: `namespace: { suffix: "dc=corp,dc=example" }
forests:
  - { name: avvid, backend: memory, profile: ad, referrals: true, base: "${AVVID}", mount: "ou=avvid,dc=corp,dc=example", ldif: [fixtures/avvid.info.ldif] }
  - { name: vse, backend: memory, profile: ad, base: "DC=vse,DC=lab", mount: "ou=vse,dc=corp,dc=example", ldif: [fixtures/vse.lab.ldif] }
`,
    });
    const client = await bound(dir.url, dir.bindDn, dir.password);
    // From the virtual root the search reaches avvid's domain root: its references come along.
    expect((await client.search('dc=corp,dc=example', { attributes: ['1.1'] })).searchReferences).toEqual(AD_REFERENCES);
    expect((await client.search('ou=avvid,dc=corp,dc=example', { attributes: ['1.1'] })).searchReferences).toEqual(AD_REFERENCES);
    expect((await client.search('ou=vse,dc=corp,dc=example', { attributes: ['1.1'] })).searchReferences).toEqual([]);
    await client.unbind();
  });
});

describe('references and what the client may see', () => {
  const SUFFIX = 'dc=corp,dc=example';
  const PASSWORD = 'Reader-Passw0rd!';
  const [ALL, PART, VSE_ONLY] = ['all', 'part', 'vse-only'].map((n) => `cn=${n},${SUFFIX}`);
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    const hash = await hashPassword(PASSWORD);
    server = await startTestServer(`namespace: { suffix: "${SUFFIX}" }
accounts:
${[ALL, PART, VSE_ONLY].map((dn) => `  - { dn: "${dn}", passwordHash: "${hash}" }`).join('\n')}
access:
  - { who: "${PART}", what: { dn: "OU=Users,ou=avvid,${SUFFIX}" }, allow: none }
  - { who: "${VSE_ONLY}", what: { dn: "ou=avvid,${SUFFIX}" }, allow: none }
  - { who: authenticated, what: { dn: "${SUFFIX}" }, allow: read }
forests:
  - { name: avvid, backend: memory, profile: ad, referrals: true, base: "${AVVID}", mount: "ou=avvid,${SUFFIX}", ldif: [fixtures/avvid.info.ldif] }
  - { name: vse, backend: memory, profile: ad, base: "DC=vse,DC=lab", mount: "ou=vse,${SUFFIX}", ldif: [fixtures/vse.lab.ldif] }
`);
  });
  afterAll(() => server?.close());

  it('reach only a client that sees every entry of the search region: a reference names a place in it', async () => {
    const search = async (who: string, base: string) => {
      const client = await bound(server.url, who, PASSWORD);
      try {
        return await client.search(base, { filter: '(objectClass=organizationalUnit)', attributes: ['1.1'] });
      } finally {
        await client.unbind();
      }
    };
    expect((await search(ALL, SUFFIX)).searchReferences).toEqual(AD_REFERENCES);
    // Part of avvid hidden: its entries elsewhere still come, its references do not.
    for (const base of [SUFFIX, `ou=avvid,${SUFFIX}`]) {
      const result = await search(PART, base);
      expect(result.searchEntries.length, base).toBeGreaterThan(0);
      expect(result.searchReferences, base).toEqual([]);
    }
    // A forest it may read nothing of is not searched at all: nothing of it shows.
    const vse = await search(VSE_ONLY, SUFFIX);
    expect(vse.searchReferences).toEqual([]);
    expect(vse.searchEntries.every((e) => !e.dn.toLowerCase().includes('ou=avvid'))).toBe(true);
  });
});

describe('ldap forest over slapd', () => {
  const ELSEWHERE = `OU=Elsewhere,${AVVID}`;
  const TARGET = 'ldap://dc9.example.net/OU=Elsewhere,DC=avvid,DC=info';
  // slapd sends the URL with the DN normalised and the scope to continue with.
  const CONTINUATION = /^ldap:\/\/dc9\.example\.net\/ou=Elsewhere,dc=avvid,dc=info\?\?sub$/i;
  let slapd: Slapd;
  beforeAll(async () => {
    // A referral object: slapd answers searches that reach it with references or referrals
    // (the client sends no ManageDsaIT control).
    const referral = `dn: ${ELSEWHERE}\nobjectClass: referral\nobjectClass: extensibleObject\nou: Elsewhere\nref: ${TARGET}\n`;
    slapd = await startSlapd({ suffix: AVVID, ldif: [`${repoRoot}/fixtures/avvid.info.ldif`, referral] });
  });
  afterAll(() => slapd?.stop());

  const forest = (referrals: 'pass' | 'drop' | undefined) => `forests:
  - name: avvid
    backend: ldap
    base: "${AVVID}"
    servers: ["${slapd.url}"]
    bind: { dn: "CN=${SERVICE_ACCOUNT},OU=ServiceAccounts,${AVVID}", password: "${SERVICE_PASSWORD}" }
    pageSize: 20
${referrals ? `    referrals: ${referrals}\n` : ''}${openAccess}`;

  describe('referrals: pass', () => {
    let server: Awaited<ReturnType<typeof startTestServer>>;
    let client: Client;
    beforeAll(async () => {
      server = await startTestServer(forest('pass'));
      client = new Client({ url: server.url });
    });
    afterAll(async () => {
      await client.unbind();
      await server.close();
    });

    it("passes the upstream's continuation references on, with the entries", async () => {
      const result = await client.search(AVVID, { attributes: ['1.1'] });
      expect(result.searchEntries).toHaveLength(AVVID_ENTRIES);
      expect(result.searchEntries.map((e) => e.dn)).not.toContain(ELSEWHERE);
      expect(result.searchReferences).toEqual([expect.stringMatching(CONTINUATION)]);
    });

    it('sends them once in a paged search', async () => {
      const pages = await pagedSearch(client, AVVID, 15);
      expect(pages.length).toBeGreaterThan(3);
      expect(pages.flatMap((p) => p.searchEntries)).toHaveLength(AVVID_ENTRIES);
      expect(pages.flatMap((p) => p.searchReferences)).toEqual([expect.stringMatching(CONTINUATION)]);
    });

    it('shows them to ldapsearch', async () => {
      const r = await runLdapTool('ldapsearch', ['-x', '-H', server.url, '-b', AVVID, '(ou=*)', '1.1']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('# search reference');
      expect(refsOf(r.stdout)).toEqual([expect.stringMatching(CONTINUATION)]);
    });

    it('answers a search based below a referral object with referral (10) and its URLs', async () => {
      const base = `OU=Deeper,${ELSEWHERE}`;
      await expect(client.search(base, { attributes: ['1.1'] })).rejects.toMatchObject({ code: 10 });
      const r = await runLdapTool('ldapsearch', ['-x', '-H', server.url, '-b', base, '(objectClass=*)', '1.1']);
      expect(r.status).toBe(10);
      expect(r.stdout).toMatch(/^result: 10 Referral$/m);
      expect(r.stdout).toMatch(/^matchedDN: ou=Elsewhere,DC=avvid,DC=info$/im);
      expect(refsOf(r.stdout)).toEqual([expect.stringMatching(/^ldap:\/\/dc9\.example\.net\/ou=Deeper,ou=Elsewhere,dc=avvid,dc=info/i)]);
    });
  });

  describe('referrals: drop (the default)', () => {
    let server: Awaited<ReturnType<typeof startTestServer>>;
    let client: Client;
    beforeAll(async () => {
      server = await startTestServer(forest(undefined));
      client = new Client({ url: server.url });
    });
    afterAll(async () => {
      await client.unbind();
      await server.close();
    });

    it('drops continuation references and returns the same entries', async () => {
      const result = await client.search(AVVID, { attributes: ['1.1'] });
      expect(result.searchEntries).toHaveLength(AVVID_ENTRIES);
      expect(result.searchReferences).toEqual([]);
      const pages = await pagedSearch(client, AVVID, 15);
      expect(pages.flatMap((p) => p.searchReferences)).toEqual([]);
      expect(pages.flatMap((p) => p.searchEntries)).toHaveLength(result.searchEntries.length);
      const r = await runLdapTool('ldapsearch', ['-x', '-H', server.url, '-b', AVVID, '(ou=*)', '1.1']);
      expect(r.status).toBe(0);
      expect(r.stdout).not.toContain('# search reference');
    });

    it('ends a search under a referral object as a success that says the referral was not followed', async () => {
      const r = await runLdapTool('ldapsearch', ['-x', '-H', server.url, '-b', `OU=Deeper,${ELSEWHERE}`, '(objectClass=*)', '1.1']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^result: 0 Success$/m);
      expect(r.stdout).not.toMatch(/^# numEntries/m);
      expect(r.stdout).toContain('forest "avvid" answered with a referral; not followed');
    });
  });
});
