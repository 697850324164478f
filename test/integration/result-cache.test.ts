import { PassThrough } from 'node:stream';
import { AndFilter, Attribute, Change, Client, EqualityFilter, type Entry as LdaptsEntry, type SearchOptions } from 'ldapts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { parseConfig } from '../../src/config/load.js';
import type { Directory } from '../../src/core/directory.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { failedSearch } from '../../src/core/search-stream.js';
import { createLogger } from '../../src/observability/logger.js';
import { metrics, metricValue } from '../../src/observability/metrics.js';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { repoRoot, startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn, serviceWriteAcl } from './ldap-helpers.js';

// The result cache through the whole stack: what reaches the forests, what clients get back, and
// when a kept result stops being served. The cache's clock is the test's: expiry without waiting.

const AVVID = 'DC=avvid,DC=info';
const VSE = 'DC=vse,DC=lab';
const JDOE = `CN=John Doe,OU=Users,${AVVID}`;
const ADMIN = 'cn=admin,ou=accounts,dc=test';
const READER = 'cn=reader,ou=accounts,dc=test';
const READER2 = 'cn=reader2,ou=accounts,dc=test';
const PASSWORD = 'Account-Passw0rd!';
const MEMORY_FORESTS = `forests:
  - { name: avvid, backend: memory, base: "${AVVID}", ldif: [fixtures/avvid.info.ldif] }
  - { name: vse, backend: memory, base: "${VSE}", ldif: [fixtures/vse.lab.ldif] }
`;
/** The administrator reads and writes everything; other accounts read three attributes, and no groups. */
const ACCESS = `access:
  - { who: "${ADMIN}", what: { dn: "" }, allow: write }
  - { who: authenticated, what: { dn: "OU=Groups,${AVVID}" }, allow: none }
  - { who: authenticated, what: { dn: "", attributes: [objectClass, cn, sAMAccountName] }, allow: read }
`;

let hash: string;
const accounts = (): string => `accounts:\n${[ADMIN, READER, READER2].map((dn) => `  - { dn: "${dn}", passwordHash: "${hash}" }`).join('\n')}\n`;

/** What reached each forest's backend, and a switch that makes a forest's searches fail as if it were down. */
class Forests {
  readonly searches = new Map<string, number>();
  readonly binds = new Map<string, number>();
  readonly compares = new Map<string, number>();
  readonly down = new Set<string>();
  /** While set, a modify is applied and then answered as a connection lost after sending it would be. */
  unknownOutcome = false;
  /** While set, a modify waits for it before it reaches the forest (and `reached` is resolved). */
  private hold?: { readonly gate: Promise<void>; readonly reached: () => void };

  /** Holds the next modifies before they reach their forest; resolves once one arrives, with the release. */
  holdWrites(): Promise<() => void> {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    return new Promise((reached) => (this.hold = { gate, reached: () => reached(release) }));
  }

  readonly wrap = (forest: string, directory: Directory): Directory => {
    const count = (m: Map<string, number>) => m.set(forest, (m.get(forest) ?? 0) + 1);
    return new Proxy(directory, {
      get: (target, prop) => {
        if (prop === 'search') {
          return (...args: Parameters<Directory['search']>) => {
            count(this.searches);
            if (this.down.has(forest)) return failedSearch(new LdapError(ResultCode.unavailable, `forest "${forest}" is unreachable`));
            return target.search(...args);
          };
        }
        if (prop === 'bind') count(this.binds);
        if (prop === 'compare') count(this.compares);
        const hold = this.hold;
        if (prop === 'modify' && hold) {
          return async (...args: Parameters<Directory['modify']>) => {
            hold.reached();
            await hold.gate;
            return target.modify(...args);
          };
        }
        if (prop === 'modify' && this.unknownOutcome) {
          return async (...args: Parameters<Directory['modify']>) => {
            await target.modify(...args);
            throw new LdapError(ResultCode.other, 'modify sent but the connection failed; result unknown');
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };

  calls(forest: string): number {
    return this.searches.get(forest) ?? 0;
  }
}

interface Stack {
  readonly url: string;
  readonly forests: Forests;
  readonly log: Record<string, unknown>[];
  /** Moves the cache's clock. */
  advance(seconds: number): void;
  /** Replaces the configuration, as SIGHUP does. */
  reload(yaml: string): Promise<unknown>;
  /** A client bound as `dn` (the administrator by default). */
  client(dn?: string): Promise<Client>;
  close(): Promise<void>;
}

const stacks: Stack[] = [];

async function start(yaml: string): Promise<Stack> {
  const forests = new Forests();
  const log: Record<string, unknown>[] = [];
  const capture = new PassThrough();
  capture.on('data', (chunk: Buffer) => log.push(...chunk.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
  let now = 1_000_000;
  const server = await startTestServer(yaml, { wrapBackend: forests.wrap, cacheClock: () => now, logger: createLogger('info', capture) });
  const clients: Client[] = [];
  const stack: Stack = {
    url: server.url,
    forests,
    log,
    advance: (seconds) => (now += seconds * 1000),
    reload: (next) => server.reload(configOf(next)),
    async client(dn = ADMIN) {
      const c = new Client({ url: server.url, timeout: 10_000 });
      clients.push(c);
      await c.bind(dn, PASSWORD);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
      await server.close();
    },
  };
  stacks.push(stack);
  return stack;
}

function configOf(yaml: string) {
  return parseConfig(`listen: { ldap: "ldap://127.0.0.1:0", ldaps: "ldaps://127.0.0.1:0" }\nhttp: { port: 0 }\n${yaml}`, { source: 'test', baseDir: repoRoot });
}

const search = async (c: Client, base: string, options: SearchOptions): Promise<LdaptsEntry[]> => (await c.search(base, options)).searchEntries;
const failure = (p: Promise<unknown>): Promise<{ code?: number; message: string }> =>
  p.then(
    () => ({ message: 'succeeded' }),
    (e: { code: number; message: string }) => e,
  );
const JDOE_SEARCH: SearchOptions = { filter: '(sAMAccountName=jdoe)', attributes: ['cn', 'mail', 'telephoneNumber', 'objectGUID'], explicitBufferAttributes: ['objectGUID'] };

beforeAll(async () => {
  hash = await hashPassword(PASSWORD);
});

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

describe('result cache (memory forests)', () => {
  const yaml = (cache = '') => `${MEMORY_FORESTS}${accounts()}${ACCESS}${cache}`;

  it('answers a repeated search from the cache, on any connection, without reaching the forest', async () => {
    const stack = await start(yaml());
    const hits = await metricValue(metrics.cacheHits);
    const first = await search(await stack.client(), AVVID, JDOE_SEARCH);
    expect(stack.forests.calls('avvid')).toBe(1);
    const again = await search(await stack.client(), AVVID, JDOE_SEARCH);
    const third = await search(await stack.client(), AVVID, { ...JDOE_SEARCH, attributes: ['objectGUID', 'telephoneNumber', 'mail', 'cn'] });
    expect(stack.forests.calls('avvid')).toBe(1);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ dn: JDOE, cn: 'John Doe', mail: 'john.doe@avvid.info' });
    expect((first[0].objectGUID as Buffer).toString('base64')).toBe('AMxgNMmBI0WAblwqKPMs/w==');
    expect(again).toEqual(first);
    expect(third).toEqual(first);
    expect((await metricValue(metrics.cacheHits)) - hits).toBe(2);
  });

  it('keeps results for cache.ttlSeconds, and empty results for cache.negativeTtlSeconds', async () => {
    const stack = await start(yaml());
    const c = await stack.client();
    const nobody = { filter: '(sAMAccountName=nobody)' };
    expect(await search(c, AVVID, JDOE_SEARCH)).toHaveLength(1);
    expect(await search(c, AVVID, nobody)).toHaveLength(0);
    expect(await search(c, AVVID, nobody)).toHaveLength(0);
    expect(stack.forests.calls('avvid')).toBe(2);
    stack.advance(11); // past negativeTtlSeconds (10), within ttlSeconds (60)
    expect(await search(c, AVVID, nobody)).toHaveLength(0);
    expect(await search(c, AVVID, JDOE_SEARCH)).toHaveLength(1);
    expect(stack.forests.calls('avvid')).toBe(3);
    stack.advance(50); // 61 s after the first search
    expect(await search(c, AVVID, JDOE_SEARCH)).toHaveLength(1);
    expect(stack.forests.calls('avvid')).toBe(4);
  });

  it('evicts the least recently used results past cache.maxBytes', async () => {
    // One identity here, allowed the whole cache (its share is a fifth by default).
    const stack = await start(yaml('cache: { maxBytes: 4096, maxBytesPerIdentity: 4096 }\n'));
    const c = await stack.client();
    const evictions = await metricValue(metrics.cacheEvictions, { reason: 'size' });
    const users = ['jdoe', 'egreen', 'hsanchez', 'kscott', 'jmartin', 'obrown'];
    const byName = (name: string) => search(c, AVVID, { filter: `(sAMAccountName=${name})` });
    for (const name of users) await byName(name);
    expect(stack.forests.calls('avvid')).toBe(users.length);
    expect((await metricValue(metrics.cacheEvictions, { reason: 'size' })) - evictions).toBeGreaterThanOrEqual(2);
    await byName(users.at(-1)!); // the newest is still kept
    expect(stack.forests.calls('avvid')).toBe(users.length);
    expect(await byName('jdoe')).toHaveLength(1); // the oldest was evicted
    expect(stack.forests.calls('avvid')).toBe(users.length + 1);
  });

  it('evicts what a modify through Canopy may have changed, and only that forest', async () => {
    const stack = await start(yaml());
    const c = await stack.client();
    const vseSearch = { filter: '(sAMAccountName=jdoe)', attributes: ['telephoneNumber'] };
    expect(await search(c, AVVID, JDOE_SEARCH)).toHaveLength(1);
    expect(await search(c, VSE, vseSearch)).toHaveLength(1);
    const evictions = await metricValue(metrics.cacheEvictions, { reason: 'write' });
    await c.modify(JDOE, new Change({ operation: 'replace', modification: new Attribute({ type: 'telephoneNumber', values: ['+1 555 0100'] }) }));
    const [after] = await search(c, AVVID, JDOE_SEARCH);
    expect(after.telephoneNumber).toBe('+1 555 0100');
    expect(await search(c, VSE, vseSearch)).toHaveLength(1);
    expect(stack.forests.calls('avvid')).toBe(2);
    expect(stack.forests.calls('vse')).toBe(1);
    expect((await metricValue(metrics.cacheEvictions, { reason: 'write' })) - evictions).toBe(1);
    // A write the forest refuses changed nothing: what is kept stays (anyone could otherwise empty the cache at will).
    expect(await failure(c.modify(JDOE, new Change({ operation: 'delete', modification: new Attribute({ type: 'pager', values: ['none'] }) })))).toMatchObject({ code: 16 });
    const beforeKept = stack.forests.calls('avvid'); // the refusal looked the entry up (it exists: its answer stands)
    await search(c, AVVID, JDOE_SEARCH);
    expect(stack.forests.calls('avvid')).toBe(beforeKept);
    // One whose outcome is unknown (the connection failed after sending) may have changed it: evicted.
    stack.forests.unknownOutcome = true;
    const unknown = await failure(c.modify(JDOE, new Change({ operation: 'replace', modification: new Attribute({ type: 'telephoneNumber', values: ['+1 555 0101'] }) })));
    expect(unknown).toMatchObject({ code: 80 });
    const [changed] = await search(c, AVVID, JDOE_SEARCH);
    expect(changed.telephoneNumber).toBe('+1 555 0101');
    expect(stack.forests.calls('avvid')).toBe(beforeKept + 1);
  });

  it('never gives a client the answer kept for an identity with other rights; identities with the same rights share', async () => {
    const stack = await start(yaml());
    const everything = { filter: '(objectClass=*)' };
    const admin = await search(await stack.client(ADMIN), AVVID, everything);
    const reader = await search(await stack.client(READER), AVVID, everything);
    expect(stack.forests.calls('avvid')).toBe(2);
    expect(admin.some((e) => /OU=Groups/i.test(e.dn))).toBe(true);
    expect(admin.find((e) => e.dn === JDOE)).toHaveProperty('mail');
    expect(reader.length).toBeLessThan(admin.length);
    expect(reader.some((e) => /OU=Groups/i.test(e.dn))).toBe(false);
    expect(reader.find((e) => e.dn === JDOE)).toEqual({ dn: JDOE, objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn: 'John Doe', sAMAccountName: 'jdoe' });
    // reader2 is covered by the same rules as reader: the kept answer is theirs too.
    expect(await search(await stack.client(READER2), AVVID, everything)).toEqual(reader);
    expect(stack.forests.calls('avvid')).toBe(2);
    // A filter on an attribute the reader may not read matches nothing for them, and stays so when kept.
    const byMail = { filter: '(mail=john.doe@avvid.info)' };
    expect(await search(await stack.client(ADMIN), AVVID, byMail)).toHaveLength(1);
    expect(await search(await stack.client(READER), AVVID, byMail)).toHaveLength(0);
  });

  it('a crafted request never plants its answer under the key of another request', async () => {
    const stack = await start(yaml());
    const victim = await stack.client(READER);
    const attacker = await stack.client(READER2); // the same rules: the same access view
    const login = { filter: '(&(sAMAccountName=jdoe)(objectClass=user))', attributes: ['cn', 'sAMAccountName'] };
    // One assertion on an attribute named `sAMAccountName=jdoe)(objectClass`, and one attribute named `cn,sAMAccountName`:
    // spelled as text they read like the login search, and they match nothing.
    const crafted = new AndFilter({ filters: [new EqualityFilter({ attribute: 'sAMAccountName=jdoe)(objectClass', value: 'user' })] });
    expect(await search(attacker, AVVID, { filter: crafted, attributes: login.attributes })).toEqual([]);
    const [unnamed] = await search(attacker, AVVID, { filter: login.filter, attributes: ['cn,sAMAccountName'] });
    expect(unnamed).toMatchObject({ dn: JDOE });
    expect(unnamed).not.toHaveProperty('cn');
    expect(await search(victim, AVVID, login)).toEqual([{ dn: JDOE, cn: 'John Doe', sAMAccountName: 'jdoe' }]);
  });

  it('a write running across a reload evicts what the new configuration kept meanwhile, and the old cache is let go at once', async () => {
    const stack = await start(yaml());
    const c = await stack.client();
    const [before] = await search(c, AVVID, JDOE_SEARCH);
    const held = stack.forests.holdWrites();
    const writing = c.modify(JDOE, new Change({ operation: 'replace', modification: new Attribute({ type: 'telephoneNumber', values: ['+1 555 0142'] }) }));
    const release = await held; // the modify runs on the old configuration, not yet at the forest
    await stack.reload(yaml());
    // The old configuration still runs the modify, but its kept results are gone.
    expect(await metricValue(metrics.cacheResults)).toBe(0);
    expect(await search(c, AVVID, JDOE_SEARCH)).toEqual([before]); // kept by the new configuration's cache
    release();
    await writing;
    const [after] = await search(c, AVVID, JDOE_SEARCH);
    expect(after).toEqual({ ...before, telephoneNumber: '+1 555 0142' });
  });

  it('goes around the cache for large results, paged searches past their first page and forests with cache: false', async () => {
    const stack = await start(`${MEMORY_FORESTS.replace('fixtures/vse.lab.ldif] }', 'fixtures/vse.lab.ldif], cache: false }')}${accounts()}${ACCESS}cache: { maxEntriesPerResult: 10 }\n`);
    const c = await stack.client();
    const users = { filter: '(objectClass=user)', attributes: ['cn'] };
    expect((await search(c, AVVID, users)).length).toBeGreaterThan(10);
    await search(c, AVVID, users);
    expect(stack.forests.calls('avvid')).toBe(2);
    // A first page holding the whole result is kept; a paged search of several pages never is.
    const onePage = { ...JDOE_SEARCH, paged: { pageSize: 5 } };
    expect(await search(c, AVVID, onePage)).toHaveLength(1);
    expect(await search(c, AVVID, onePage)).toHaveLength(1);
    expect(stack.forests.calls('avvid')).toBe(3);
    const pages = { filter: '(objectClass=organizationalUnit)', attributes: ['ou'], paged: { pageSize: 2 } };
    const ous = await search(c, AVVID, pages);
    expect(ous.length).toBeGreaterThan(2);
    expect(await search(c, AVVID, pages)).toEqual(ous);
    expect(stack.forests.calls('avvid')).toBe(5);
    await search(c, VSE, JDOE_SEARCH);
    await search(c, VSE, JDOE_SEARCH);
    expect(stack.forests.calls('vse')).toBe(2);
  });

  it('never keeps errors, and never answers a bind from the cache', async () => {
    const stack = await start(yaml());
    const c = await stack.client();
    const missing = `OU=Nowhere,${AVVID}`;
    expect(await failure(search(c, missing, {}))).toMatchObject({ code: ResultCode.noSuchObject });
    expect(await failure(search(c, missing, {}))).toMatchObject({ code: ResultCode.noSuchObject });
    expect(stack.forests.calls('avvid')).toBe(2);
    // The application's login: find the user (kept), then bind as it — every bind reaches the forest.
    await search(c, AVVID, JDOE_SEARCH);
    await search(c, AVVID, JDOE_SEARCH);
    const user = new Client({ url: stack.url });
    await user.bind(JDOE, USER_PASSWORD);
    await user.unbind();
    const wrong = new Client({ url: stack.url });
    expect(await failure(wrong.bind(JDOE, 'Wrong-Passw0rd!'))).toMatchObject({ code: 49 });
    await wrong.unbind();
    expect(stack.forests.binds.get('avvid')).toBe(2);
  });

  it('serves a result up to cache.staleIfErrorSeconds old while its forest is unavailable, never older', async () => {
    const stack = await start(yaml('cache: { staleIfErrorSeconds: 300 }\n'));
    const c = await stack.client();
    const stale = await metricValue(metrics.cacheStaleServed);
    const fresh = await search(c, AVVID, JDOE_SEARCH);
    stack.advance(61);
    // Past its TTL with the forest up: asked again, and the new answer replaces the kept one.
    expect(await search(c, AVVID, JDOE_SEARCH)).toEqual(fresh);
    expect(await search(c, AVVID, JDOE_SEARCH)).toEqual(fresh);
    expect(stack.forests.calls('avvid')).toBe(2);
    stack.advance(61);
    stack.forests.down.add('avvid');
    expect(await search(c, AVVID, JDOE_SEARCH)).toEqual(fresh);
    expect(stack.forests.calls('avvid')).toBe(3);
    expect((await metricValue(metrics.cacheStaleServed)) - stale).toBe(1);
    expect(stack.log.find((l) => l.msg === 'stale cached result served: a forest is unavailable')).toMatchObject({ level: 40, forests: ['avvid'], ageSeconds: 61 });
    // A search that was never kept still fails.
    expect(await failure(search(c, AVVID, { filter: '(sAMAccountName=egreen)' }))).toMatchObject({ code: ResultCode.unavailable });
    stack.advance(300); // 361 s old: past ttlSeconds + staleIfErrorSeconds
    expect(await failure(search(c, AVVID, JDOE_SEARCH))).toMatchObject({ code: ResultCode.unavailable });
  });

  it("one identity's many searches do not push out another's kept results: its share of cache.maxBytes (a fifth) bears them", async () => {
    const stack = await start(yaml('cache: { staleIfErrorSeconds: 300, maxBytes: 65536 }\n'));
    const victim = await stack.client(READER);
    const kept = await search(victim, AVVID, JDOE_SEARCH);
    expect(kept).toHaveLength(1);
    // Another identity with the same rights (the same access view) churns through 400 unique searches.
    const churner = await stack.client(READER2);
    for (let i = 0; i < 400; i++) await search(churner, AVVID, { filter: `(|(sAMAccountName=jdoe)(cn=churn${i}))`, attributes: ['cn', 'sAMAccountName'] });
    stack.advance(61);
    stack.forests.down.add('avvid');
    // The victim's result outlived the churn: it stands in while the forest is unavailable.
    expect(await search(victim, AVVID, JDOE_SEARCH)).toEqual(kept);
    // The churner's oldest went to make room for its newest.
    expect(await failure(search(churner, AVVID, { filter: '(|(sAMAccountName=jdoe)(cn=churn0))', attributes: ['cn', 'sAMAccountName'] }))).toMatchObject({ code: ResultCode.unavailable });
    expect(await search(churner, AVVID, { filter: '(|(sAMAccountName=jdoe)(cn=churn399))', attributes: ['cn', 'sAMAccountName'] })).toHaveLength(1);
  });

  it("asks the forest about an entry the rules hide as it would about a missing one, so that neither answer comes sooner", async () => {
    const stack = await start(yaml());
    const reader = await stack.client(READER);
    const hidden = `CN=Finance,OU=Groups,${AVVID}`; // OU=Groups is hidden from authenticated clients
    const missingDn = `CN=Nobody Here,OU=Users,${AVVID}`;
    // Requests that reached the forest: searches (lookups included) and compares.
    const reached = () => stack.forests.calls('avvid') + (stack.forests.compares.get('avvid') ?? 0);
    const asked = async (work: () => Promise<unknown>) => {
      const before = reached();
      const answer = await failure(work());
      return { code: answer.code, calls: reached() - before };
    };
    for (const dn of [hidden, missingDn]) {
      expect(await asked(() => search(reader, dn, { scope: 'base' })), dn).toEqual({ code: 32, calls: 1 });
      expect(await asked(() => reader.compare(dn, 'cn', 'x')), dn).toEqual({ code: 32, calls: 1 });
      expect(await asked(() => reader.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'cn', values: ['x'] }) }))), dn).toEqual({ code: 32, calls: 1 });
    }
  });

  it('logs a summary of the cache when the server closes', async () => {
    const stack = await start(yaml());
    const c = await stack.client();
    await search(c, AVVID, JDOE_SEARCH);
    await search(c, AVVID, JDOE_SEARCH);
    await stack.close();
    expect(stack.log.find((l) => l.msg === 'result cache')).toMatchObject({ level: 30, hits: 1, misses: 1, results: 1 });
  });
});

describe('result cache (slapd forest)', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd({ suffix: AVVID, ldif: ['fixtures/avvid.info.ldif'], extraConfig: serviceWriteAcl(AVVID) });
  });
  afterAll(async () => {
    await slapd?.stop();
  });
  const yaml = (cache = '') => `forests:
  - name: avvid
    backend: ldap
    base: "${AVVID}"
    servers: ["${slapd.url}"]
    bind: { dn: "${serviceDn(AVVID)}", password: "${SERVICE_PASSWORD}" }
    timeouts: { connectMs: 1000, operationMs: 3000 }
${accounts()}${ACCESS}${cache}`;

  it('evicts after a modify through Canopy, and serves a stale result while slapd is down', async () => {
    const stack = await start(yaml('cache: { staleIfErrorSeconds: 300 }\n'));
    const c = await stack.client();
    const [before] = await search(c, AVVID, JDOE_SEARCH);
    await search(c, AVVID, JDOE_SEARCH);
    expect(stack.forests.calls('avvid')).toBe(1);
    await c.modify(JDOE, new Change({ operation: 'replace', modification: new Attribute({ type: 'telephoneNumber', values: ['+1 555 0199'] }) }));
    const [after] = await search(c, AVVID, JDOE_SEARCH);
    expect(after).toEqual({ ...before, telephoneNumber: '+1 555 0199' });
    expect(stack.forests.calls('avvid')).toBe(2);
    stack.advance(61);
    await slapd.kill();
    try {
      expect(await search(c, AVVID, JDOE_SEARCH)).toEqual([after]);
      stack.advance(300);
      expect(await failure(search(c, AVVID, JDOE_SEARCH))).toMatchObject({ code: ResultCode.unavailable });
    } finally {
      await slapd.restart();
    }
  });
});
