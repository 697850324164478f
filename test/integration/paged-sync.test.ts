/**
 * Large searches across forests (issue 6): a DirSync-style full sync through Canopy over two slapd
 * forests of 5,000 generated users each, with paging, sorting, abandon, limits and outages.
 */
import { Client, ServerSideSortingRequestControl, type Entry as LdaptsEntry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapDirectory } from '../../src/backends/ldap/ldap-directory.js';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { Dn } from '../../src/core/dn.js';
import type { Entry } from '../../src/core/entry.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { generateForest, SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { RawLdapClient, pagedControl, pagedCookie } from '../support/raw-ldap.js';
import { startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';

const USERS = 5000;
const SUFFIX = 'dc=corp,dc=example';
const SYNC_DN = `cn=dirsync,${SUFFIX}`;
const SYNC_PASSWORD = 'Dirsync-Passw0rd!';
const CISCO_FILTER = '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';
/** slapd behaves like AD's MaxPageSize: unpaged searches stop at 1,000. */
const AD_LIKE_LIMITS = 'sizelimit size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited';

interface GeneratedForest {
  readonly name: string;
  readonly base: string;
  readonly mount: string;
  readonly upn: string;
  readonly entries: readonly Entry[];
  slapd?: Slapd;
}

const forests: GeneratedForest[] = [
  { name: 'avvid', base: 'DC=avvid,DC=info', mount: `ou=avvid,${SUFFIX}`, upn: 'avvid.info', entries: [] },
  { name: 'vse', base: 'DC=vse,DC=lab', mount: `ou=vse,${SUFFIX}`, upn: 'vse.local', entries: [] },
];
const ldifs = forests.map((f, i) => generateForest({ suffix: f.base, users: USERS, seed: 60 + i, upnSuffix: f.upn }));
forests.forEach((f, i) => Object.assign(f, { entries: parseLdif(ldifs[i], f.name).map((r) => r.entry) }));

const values = (e: Entry, name: string): string[] => (e.get(name)?.values ?? []).map(String);
const isEnabledUser = (e: Entry): boolean => {
  const classes = values(e, 'objectClass').map((c) => c.toLowerCase());
  return classes.includes('user') && !classes.includes('computer') && (Number(values(e, 'userAccountControl')[0]) & 2) === 0;
};
const virtualKey = (f: GeneratedForest, e: Entry): string => e.dn.rebase(Dn.parse(f.base), Dn.parse(f.mount)).key;
const expectedSync = forests.flatMap((f) => f.entries.filter(isEnabledUser).map((e) => virtualKey(f, e))).sort();
const keyOf = (dn: string): string => Dn.parse(dn).key;

async function configYaml(
  extra: { onForestError?: string; limits?: Record<string, number>; pool?: number; reclaimMs?: number; pageSize?: number; anonymousRead?: boolean } = {},
): Promise<string> {
  const forestYaml = forests
    .map(
      (f) => `  - name: ${f.name}
    backend: ldap
    base: "${f.base}"
    mount: "${f.mount}"
    upnSuffixes: { ${f.upn.replace('local', 'lab')}: ${f.upn} }
    servers: ["${f.slapd!.url}"]
    bind: { dn: "${serviceDn(f.base)}", password: "${SERVICE_PASSWORD}" }
    timeouts: { connectMs: 2000, operationMs: 1500 }${extra.pageSize ? `
    pageSize: ${extra.pageSize}` : ''}
    pool: { size: ${extra.pool ?? 4}${extra.reclaimMs ? `, reclaimPagedSearchAfterMs: ${extra.reclaimMs}` : ''} }`,
    )
    .join('\n');
  return `namespace: { suffix: "${SUFFIX}", onForestError: ${extra.onForestError ?? 'fail'} }
limits: ${JSON.stringify({ maxSortEntries: 20000, ...extra.limits })}
accounts:
  - { dn: "${SYNC_DN}", passwordHash: "${await hashPassword(SYNC_PASSWORD)}" }
access:
  - { who: "${SYNC_DN}", what: { dn: "" }, allow: read }
${extra.anonymousRead ? '  - { who: anonymous, what: { dn: "" }, allow: read }\n' : ''}forests:
${forestYaml}
`;
}

describe('paged sync across two slapd forests of 5,000 users', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const backends = new Map<string, LdapDirectory>();
  const idle = (): boolean => [...backends.values()].every((b) => b.poolStats().busy === 0);

  /** Canopy over the two forests; every ldap backend it opens is recorded for poolStats(). */
  async function startCanopy(extra: Parameters<typeof configYaml>[0]) {
    return startTestServer(await configYaml(extra), {
      wrapBackend: (name, directory) => {
        backends.set(`${name}#${backends.size}`, directory as LdapDirectory);
        return directory;
      },
    });
  }

  async function client(): Promise<Client> {
    const c = new Client({ url: server.url, timeout: 20_000 });
    await c.bind(SYNC_DN, SYNC_PASSWORD);
    return c;
  }

  async function rawClient(): Promise<RawLdapClient> {
    const raw = await RawLdapClient.connect(server.url);
    expect((await raw.bind(SYNC_DN, SYNC_PASSWORD)).code).toBe(0);
    return raw;
  }

  beforeAll(async () => {
    await Promise.all(
      forests.map(async (f, i) => {
        f.slapd = await startSlapd({ suffix: f.base, ldif: [ldifs[i]], extraConfig: AD_LIKE_LIMITS });
      }),
    );
    server = await startCanopy({ pool: 2 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await Promise.all(forests.map((f) => f.slapd?.stop()));
  });

  it('DirSync: pages of 250 with the AD filter deliver every enabled user of both forests exactly once', async () => {
    const c = await client();
    const sizes: number[] = [];
    const dns: string[] = [];
    for await (const page of c.searchPaginated(SUFFIX, {
      filter: CISCO_FILTER,
      attributes: ['sAMAccountName', 'userPrincipalName', 'mail', 'objectGUID'],
      paged: { pageSize: 250 },
    })) {
      sizes.push(page.searchEntries.length);
      dns.push(...page.searchEntries.map((e) => keyOf(e.dn)));
    }
    await c.unbind();
    expect(expectedSync.length).toBeGreaterThan(2 * 0.9 * USERS);
    expect(dns.length).toBe(expectedSync.length);
    expect(new Set(dns).size).toBe(dns.length);
    expect(dns.sort()).toEqual(expectedSync);
    // Every page is full except the last, which is not empty.
    expect(sizes.slice(0, -1).every((n) => n === 250)).toBe(true);
    expect(sizes.at(-1)).toBe(expectedSync.length % 250 || 250);
    expect(idle()).toBe(true);
  });

  it('DirSync through ldapsearch -E pr=250/noprompt', async () => {
    const result = await runLdapTool('ldapsearch', [
      '-x', '-H', server.url, '-D', SYNC_DN, '-w', SYNC_PASSWORD, '-b', SUFFIX, '-E', 'pr=250/noprompt', '-o', 'ldif-wrap=no', CISCO_FILTER, '1.1',
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const dns = [...result.stdout.matchAll(/^dn: (.+)$/gm)].map((m) => keyOf(m[1]));
    expect(dns.sort()).toEqual(expectedSync);
  });

  it('sorts by sn then givenName across both forests, with and without paging', async () => {
    const c = await client();
    const sort = () =>
      new ServerSideSortingRequestControl({ value: [{ attributeType: 'sn' }, { attributeType: 'givenName' }], critical: true });
    const options = { filter: '(&(objectClass=user)(!(objectClass=computer)))', attributes: ['sn', 'givenName'] };
    const unpaged = sort();
    const { searchEntries } = await c.search(SUFFIX, options, unpaged);
    expect(unpaged.result?.sortResult).toBe(0);
    const paged: LdaptsEntry[] = [];
    for await (const page of c.searchPaginated(SUFFIX, { ...options, paged: { pageSize: 500 } }, sort())) paged.push(...page.searchEntries);
    await c.unbind();

    const users = forests.reduce((n, f) => n + f.entries.filter((e) => values(e, 'objectClass').includes('user') && !values(e, 'objectClass').includes('computer')).length, 0);
    expect(searchEntries.length).toBe(users);
    const key = (e: LdaptsEntry) => [String(e.sn ?? '\uffff').toLowerCase(), String(e.givenName ?? '').toLowerCase()] as const;
    for (let i = 1; i < searchEntries.length; i++) {
      const [a, b] = [key(searchEntries[i - 1]), key(searchEntries[i])];
      expect(a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]), `${a} before ${b}`).toBe(true);
    }
    // Both forests are interleaved, not concatenated.
    expect(new Set(searchEntries.slice(0, 200).map((e) => e.dn.split(',').at(-3)))).toEqual(new Set(['ou=avvid', 'ou=vse']));
    expect(paged.map((e) => e.dn)).toEqual(searchEntries.map((e) => e.dn));
  });

  it('a sort over limits.maxSortEntries: critical → 12 without entries, non-critical → unsorted entries and sortResult 11', async () => {
    const small = await startCanopy({ limits: { maxSortEntries: 100 } });
    try {
      const c = new Client({ url: small.url });
      await c.bind(SYNC_DN, SYNC_PASSWORD);
      const control = (critical: boolean) => new ServerSideSortingRequestControl({ value: { attributeType: 'sn' }, critical });
      await expect(c.search(SUFFIX, { filter: '(objectClass=user)', attributes: ['sn'] }, control(true))).rejects.toMatchObject({ code: 12 });
      const lenient = control(false);
      const { searchEntries } = await c.search(SUFFIX, { filter: '(objectClass=user)', attributes: ['sn'] }, lenient);
      expect(lenient.result?.sortResult).toBe(11);
      expect(searchEntries.length).toBeGreaterThan(2 * USERS);
      await c.unbind();
    } finally {
      await small.close();
    }
  });

  it('cookies: foreign or mismatched ones are refused; size 0 and Abandon release the upstream searches', async () => {
    const a = await rawClient();
    const b = await rawClient();
    const first = await a.search(SUFFIX, [pagedControl(100)]);
    expect(first.code).toBe(0);
    expect(first.dns).toHaveLength(100);
    const cookie = pagedCookie(first);
    expect(cookie.length).toBeGreaterThanOrEqual(16);
    expect(idle()).toBe(false); // both forests' paged searches are held between pages

    expect((await b.search(SUFFIX, [pagedControl(100, cookie)])).code).toBe(53); // another connection's cookie
    expect((await a.search(`ou=vse,${SUFFIX}`, [pagedControl(100, cookie)])).code).toBe(53); // another request
    expect((await a.search(SUFFIX, [pagedControl(100, Buffer.alloc(16, 7))])).code).toBe(53); // guessed

    const second = await a.search(SUFFIX, [pagedControl(100, cookie)]);
    expect(second.dns).toHaveLength(100);
    expect(second.dns.some((dn) => first.dns.includes(dn))).toBe(false);
    const released = await a.search(SUFFIX, [pagedControl(0, pagedCookie(second))]);
    expect(released.code).toBe(0);
    expect(pagedCookie(released)).toHaveLength(0);
    await expect.poll(idle).toBe(true);

    // Abandon naming the last page's message ID ends the paged search between pages.
    const page = await a.search(SUFFIX, [pagedControl(100)], 77);
    expect(idle()).toBe(false);
    a.abandon(77);
    await expect.poll(idle).toBe(true);
    expect((await a.search(SUFFIX, [pagedControl(100, pagedCookie(page))])).code).toBe(53);

    // A disconnect releases every paged search of the connection.
    await a.search(SUFFIX, [pagedControl(100)]);
    await a.search(SUFFIX, [pagedControl(100)]);
    expect(idle()).toBe(false);
    a.close();
    b.close();
    await expect.poll(idle).toBe(true);
  });

  it('parked paged searches hold no one up: past its share an identity gets busy at once, while lookups and logins go on', async () => {
    const c = await rawClient();
    // pool.size is 2 and an identity may hold 2 upstream paged searches per forest: two parked
    // searches of the sync account take every cursor slot of both forests.
    const one = await c.search(SUFFIX, [pagedControl(10)]);
    const two = await c.search(SUFFIX, [pagedControl(10)]);
    const started = Date.now();
    const three = await c.search(SUFFIX, [pagedControl(10)]);
    expect([one.code, two.code, three.code]).toEqual([0, 0, 51]);
    expect(three.message).toMatch(/forest "(avvid|vse)".*already holds 2 open paged searches/);
    expect(Date.now() - started).toBeLessThan(1000); // at once: waiting would not free its own
    // Lookups and logins share the connections the parked searches hold.
    // Each forest's first enabled user, by the UPN clients see (vse.local is published as vse.lab).
    const upns = forests.map((f) => values(f.entries.find(isEnabledUser)!, 'userPrincipalName')[0].replace(/local$/, 'lab'));
    const others = await client();
    const lookups = await Promise.all(
      upns.flatMap((upn) => Array.from({ length: 10 }, () => others.search(SUFFIX, { scope: 'sub', filter: `(userPrincipalName=${upn})` }))),
    );
    expect(lookups.map((r) => r.searchEntries.length)).toEqual(lookups.map(() => 1));
    for (const upn of upns) {
      const login = new Client({ url: server.url });
      await login.bind(upn, USER_PASSWORD); // a forest user: its forest checks the password
      await login.unbind();
    }
    await others.unbind();
    // The open ones go on.
    expect((await c.search(SUFFIX, [pagedControl(10, pagedCookie(one))])).dns).toHaveLength(10);
    expect((await c.search(SUFFIX, [pagedControl(10, pagedCookie(two))])).dns).toHaveLength(10);
    c.close();
    await expect.poll(idle).toBe(true);
  });

  it('anonymous clients have a share each, by address: one parking its share leaves the others theirs', async () => {
    const open = await startCanopy({ anonymousRead: true });
    try {
      // Two addresses of the loopback network, two anonymous clients (never bound).
      const first = await RawLdapClient.connect(open.url, '127.0.0.2');
      const one = await first.search(SUFFIX, [pagedControl(10)]);
      const two = await first.search(SUFFIX, [pagedControl(10)]);
      const three = await first.search(SUFFIX, [pagedControl(10)]);
      expect([one.code, two.code, three.code]).toEqual([0, 0, 51]);
      expect(three.message).toMatch(/anonymous from 127\.0\.0\.2 already holds 2 open paged searches/);
      const second = await RawLdapClient.connect(open.url, '127.0.0.3');
      const theirs = await second.search(SUFFIX, [pagedControl(10)]);
      expect(theirs.code).toBe(0);
      expect(theirs.dns).toHaveLength(10);
      first.close();
      second.close();
    } finally {
      await open.close();
    }
  });

  it('two identities parking paged searches never take every upstream one: the last is kept for an identity holding none', async () => {
    // pool.size 4, 2 per identity: the first parks two, the second one (its second would take the
    // last connection for paged searches while the first holds some), a third identity gets the last.
    const open = await startCanopy({ anonymousRead: true });
    try {
      const [first, second, third] = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((address) => RawLdapClient.connect(open.url, address)));
      const parked = [await first.search(SUFFIX, [pagedControl(10)]), await first.search(SUFFIX, [pagedControl(10)]), await second.search(SUFFIX, [pagedControl(10)])];
      expect(parked.map((p) => p.code)).toEqual([0, 0, 0]);
      const started = Date.now();
      const refused = await second.search(SUFFIX, [pagedControl(10)]);
      expect(refused.code).toBe(51);
      expect(refused.message).toMatch(/forest "(avvid|vse)".*kept for identities holding none, and anonymous from 127\.0\.0\.3 holds 1/);
      expect(Date.now() - started).toBeLessThan(1000);
      const kept = await third.search(SUFFIX, [pagedControl(10)]);
      expect(kept.code).toBe(0);
      expect(kept.dns).toHaveLength(10);
      // The parked ones go on.
      expect((await second.search(SUFFIX, [pagedControl(10, pagedCookie(parked[2]))])).dns).toHaveLength(10);
      for (const c of [first, second, third]) c.close();
    } finally {
      await open.close();
    }
  });

  it("four identities parking a paged search each never keep a fifth out: it takes the connection of the one parked longest, whose next page is busy", async () => {
    // pool.size 4: four identities (four anonymous addresses) hold every connection for paged
    // searches. Upstream pages of 10: what a search already read from its forest (a page and a half
    // at most) is still delivered after its connection is taken.
    const open = await startCanopy({ anonymousRead: true, reclaimMs: 400, pageSize: 10 });
    try {
      const addresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
      const clients = await Promise.all(addresses.map((address) => RawLdapClient.connect(open.url, address)));
      const parked = [];
      for (const c of clients.slice(0, 4)) parked.push(await c.search(SUFFIX, [pagedControl(10)]));
      expect(parked.map((p) => p.code)).toEqual([0, 0, 0, 0]);
      // The first three read on; the fourth stays parked.
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 3; i++) {
        const next = await clients[i].search(SUFFIX, [pagedControl(10, pagedCookie(parked[i]))]);
        expect(next.dns).toHaveLength(10);
        parked[i] = next;
      }
      const fifth = await clients[4].search(SUFFIX, [pagedControl(10)]);
      expect(fifth.code).toBe(0);
      expect(fifth.dns).toHaveLength(10);
      // The one parked longest lost its connection in both forests: once what they had sent it is read
      // (a page and a half of upstream entries at most each), its next page says so.
      let lost = parked[3];
      for (let page = 0; page < 6 && lost.code === 0; page++) lost = await clients[3].search(SUFFIX, [pagedControl(10, pagedCookie(lost))]);
      expect(lost.code).toBe(51);
      expect(lost.message).toMatch(/forest "(avvid|vse)": this paged search asked for no page for 400 ms or more .* its connection went to another identity's; start it again/);
      // The others go on, the fifth too; and a server that lost nothing is still up (no failure counted).
      for (const [i, c] of [0, 1, 2, 4].entries()) {
        const previous = i < 3 ? parked[c] : fifth;
        expect((await clients[c].search(SUFFIX, [pagedControl(10, pagedCookie(previous))])).dns).toHaveLength(10);
      }
      expect(await metricValue(metrics.upstreamServerUp, { forest: 'avvid' })).toBe(1);
      for (const c of clients) c.close();
    } finally {
      await open.close();
    }
  });

  it('caps open paged searches per connection (adminLimitExceeded) and expires idle ones', async () => {
    const capped = await startCanopy({ limits: { maxPagedSearches: 2, pagedSearchIdleSeconds: 1 } });
    try {
      const c = await RawLdapClient.connect(capped.url);
      await c.bind(SYNC_DN, SYNC_PASSWORD);
      const first = await c.search(SUFFIX, [pagedControl(5)]);
      await c.search(SUFFIX, [pagedControl(5)]);
      const third = await c.search(SUFFIX, [pagedControl(5)]);
      expect(third.code).toBe(11);
      expect(idle()).toBe(false);
      await new Promise((r) => setTimeout(r, 1300));
      await expect.poll(idle).toBe(true);
      expect((await c.search(SUFFIX, [pagedControl(5, pagedCookie(first))])).code).toBe(53);
      expect((await c.search(SUFFIX, [pagedControl(5)])).code).toBe(0); // room again
      c.close();
    } finally {
      await capped.close();
    }
  });

  it('one forest stopped halfway: fail ends with unavailable naming it; partial returns the rest with a diagnostic', async () => {
    const c = await client();
    const vse = forests[1].slapd!;
    const failedBefore = await metricValue(metrics.pagedSearchesFailed, { code: 52 });
    let pages = 0;
    const sync = (async () => {
      for await (const page of c.searchPaginated(SUFFIX, { filter: CISCO_FILTER, attributes: ['sAMAccountName'], paged: { pageSize: 250 } })) {
        pages++;
        if (pages === 4) await vse.kill();
        expect(page.searchEntries.length).toBe(250);
      }
    })();
    const failed = await sync.then(
      () => undefined,
      (e: { code: number; message: string }) => e,
    );
    expect(failed).toMatchObject({ code: 52, message: expect.stringContaining('forest "vse"') });
    // The client learns which forest failed, not the upstream server's address (the log has it).
    expect(failed!.message).not.toMatch(new RegExp(`ldap://|127\\.0\\.0\\.1|${vse.port}`));
    await c.unbind();
    expect(pages).toBeGreaterThanOrEqual(4);
    expect(await metricValue(metrics.pagedSearchesFailed, { code: 52 })).toBe(failedBefore + 1);

    const partial = await startCanopy({ onForestError: 'partial' });
    try {
      const raw = await RawLdapClient.connect(partial.url);
      await raw.bind(SYNC_DN, SYNC_PASSWORD);
      const before = await metricValue(metrics.partialSearches, { forest: 'vse' });
      const done = await raw.search(SUFFIX, [pagedControl(1000)]);
      expect(done.code).toBe(0);
      expect(done.message).toMatch(/partial result: forest "vse"/);
      expect(done.message).not.toMatch(new RegExp(`ldap://|127\\.0\\.0\\.1|${vse.port}`));
      expect(done.dns.length).toBe(1000);
      expect(await metricValue(metrics.partialSearches, { forest: 'vse' })).toBe(before + 1);
      raw.close();
    } finally {
      await partial.close();
      await vse.restart();
    }
  });
});
