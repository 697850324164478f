/**
 * The ldap backend against a real slapd holding the avvid.info fixture, with a size limit (20)
 * below the forest's size so that only upstream paging returns everything.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { AbandonRequest, Client, PagedResultsControl, SearchRequest as LdaptsSearchRequest } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openLdapForest, type LdapDirectory } from '../../src/backends/ldap/ldap-directory.js';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { parseConfig } from '../../src/config/load.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { createLogger } from '../../src/observability/logger.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { startCountingProxy } from '../support/counting-proxy.js';
import { searchCtx } from '../support/search-context.js';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runCheck } from '../../src/tools/check.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { collect, context, ldapForestConfig, searchRequest, serviceDn, serviceWriteAcl } from './ldap-helpers.js';

const SUFFIX = 'DC=avvid,DC=info';
const FIXTURE = fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url));
const CISCO_SYNC_FILTER =
  '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';
const REFERRAL_LDIF = `dn: CN=Elsewhere,${SUFFIX}
objectClass: referral
objectClass: extensibleObject
cn: Elsewhere
ref: ldap://elsewhere.example/CN=Elsewhere,${SUFFIX}
`;

const fixture = parseLdif(readFileSync(FIXTURE, 'utf8'), FIXTURE).map((r) => r.entry);
const values = (e: Entry, name: string): string[] => (e.get(name)?.values ?? []).map(String);
const isUser = (e: Entry): boolean => {
  const classes = values(e, 'objectClass').map((c) => c.toLowerCase());
  return classes.includes('user') && !classes.includes('computer');
};
const logger = createLogger('silent');

/** Thrown error of a promise, for code/message assertions. */
async function failure(p: Promise<unknown>): Promise<LdapError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LdapError);
  return err as LdapError;
}

describe('ldap forest against slapd', () => {
  let slapd: Slapd;
  let forest: LdapDirectory;

  beforeAll(async () => {
    slapd = await startSlapd({
      suffix: SUFFIX,
      ldif: [FIXTURE, REFERRAL_LDIF],
      extraConfig: [serviceWriteAcl(SUFFIX), 'sizelimit size.soft=20 size.hard=20 size.pr=20 size.prtotal=unlimited'].join('\n'),
    });
    forest = openLdapForest(ldapForestConfig(SUFFIX, [slapd.url], { pageSize: 10 }), logger);
  });

  afterAll(async () => {
    await forest?.close();
    await slapd?.stop();
  });

  it('pages past the upstream size limit: a subtree search returns every entry, with upstream spelling', async () => {
    const direct = new Client({ url: slapd.url });
    await direct.bind(serviceDn(SUFFIX), SERVICE_PASSWORD);
    await expect(direct.search(SUFFIX, { attributes: ['1.1'] })).rejects.toMatchObject({ code: 4 });
    await direct.unbind();

    const found = await collect(forest.search(searchRequest(SUFFIX), context()));
    expect(found).toHaveLength(fixture.length);
    expect(fixture.length).toBeGreaterThan(20);
    expect(new Set(found.map((e) => e.dn.key))).toEqual(new Set(fixture.map((e) => e.dn.key)));
    // slapd spells DNs its own way (schema names for types); that spelling is kept.
    expect(found.find((e) => e.dn.key === 'dc=avvid,dc=info')?.dn.text).toBe('dc=avvid,dc=info');
  });

  it('honours base and one-level scopes', async () => {
    const base = await collect(forest.search(searchRequest(SUFFIX, '(objectClass=*)', 'base'), context()));
    expect(base.map((e) => e.dn.key)).toEqual([Dn.parse(SUFFIX).key]);
    const children = await collect(forest.search(searchRequest(SUFFIX, '(objectClass=*)', 'one'), context()));
    const expected = fixture.filter((e) => e.dn.parent()?.equals(Dn.parse(SUFFIX))).map((e) => e.dn.key);
    expect(children.map((e) => e.dn.key).sort()).toEqual(expected.sort());
  });

  it('answers the Cisco sync filter (bitwise AND extensible match) with exactly the enabled users', async () => {
    const found = await collect(forest.search(searchRequest(SUFFIX, CISCO_SYNC_FILTER, 'sub', ['sAMAccountName']), context()));
    const enabled = fixture.filter((e) => isUser(e) && (Number(values(e, 'userAccountControl')[0]) & 2) === 0);
    expect(found.map((e) => values(e, 'sAMAccountName')[0]).sort()).toEqual(enabled.map((e) => values(e, 'sAMAccountName')[0]).sort());
    expect(found.every((e) => !e.has('cn'))).toBe(true);
  });

  it('returns objectGUID as bytes and finds an entry by GUID bytes 00 80 ff', async () => {
    const jdoe = fixture.find((e) => values(e, 'sAMAccountName')[0] === 'jdoe')!;
    const guid = jdoe.get('objectGUID')!.values[0] as Buffer;
    expect([0x00, 0x80, 0xff].every((b) => guid.includes(b))).toBe(true);
    const [byName] = await collect(forest.search(searchRequest(SUFFIX, '(sAMAccountName=jdoe)', 'sub', ['objectguid', 'cn']), context()));
    expect(Buffer.isBuffer(byName.get('objectGUID')!.values[0])).toBe(true);
    expect(byName.get('objectGUID')!.values[0]).toEqual(guid);
    const byGuid = await collect(
      forest.search(searchRequest(SUFFIX, { type: 'equality', attribute: 'objectGUID', value: guid }, 'sub', ['sAMAccountName']), context()),
    );
    expect(byGuid.map((e) => e.dn.key)).toEqual([jdoe.dn.key]);
    const nonAscii = await collect(forest.search(searchRequest(SUFFIX, '(cn=José Müller)'), context()));
    expect(nonAscii.map((e) => e.dn.text)).toEqual(['cn=José Müller,ou=Users,dc=avvid,dc=info']);
  });

  it('a search that fits in a page is one request without paging; a larger one is then paged on a connection of its own, streaming', async () => {
    // Every request is encoded by its class's writeMessage just before it is written to the socket.
    const send = vi.spyOn(LdaptsSearchRequest.prototype, 'writeMessage');
    try {
      const searches = () => send.mock.contexts as LdaptsSearchRequest[];
      const [jdoe] = await collect(forest.search(searchRequest(SUFFIX, '(sAMAccountName=jdoe)'), context()));
      expect(jdoe.dn.text).toMatch(/^CN=John Doe/i);
      expect(searches()).toHaveLength(1);
      expect(searches()[0].sizeLimit).toBe(10); // at most a page…
      expect(searches()[0].controls ?? []).toEqual([]); // …and no paging cookie tied to the connection

      send.mockClear();
      const iterator = forest.search(searchRequest(SUFFIX), context())[Symbol.asyncIterator]();
      expect((await iterator.next()).done).toBe(false);
      // The whole search was asked first (sizeLimitExceeded: more than a page), then its first page.
      expect(searches()).toHaveLength(2);
      expect(searches()[1].controls?.some((c) => c instanceof PagedResultsControl)).toBe(true);
      expect(forest.poolStats()).toMatchObject({ busy: 1, cursors: 1 });
      let count = 1;
      while (!(await iterator.next()).done) count++;
      expect(count).toBe(fixture.length);
      expect(searches().length).toBeGreaterThanOrEqual(1 + Math.ceil(fixture.length / 10));
      expect(forest.poolStats()).toMatchObject({ busy: 0, cursors: 0 });
    } finally {
      send.mockRestore();
    }
  });

  it('shares connections: many lookups at once use at most pool.size connections, each answer matched to its request', async () => {
    const shared = openLdapForest(ldapForestConfig(SUFFIX, [slapd.url], { pageSize: 10, pool: { size: 2 } }), logger);
    try {
      const names = fixture.flatMap((e) => values(e, 'sAMAccountName')).slice(0, 20);
      const found = await Promise.all(
        names.flatMap((name) => Array.from({ length: 5 }, () => collect(shared.search(searchRequest(SUFFIX, `(sAMAccountName=${name})`, 'sub', ['sAMAccountName']), context())))),
      );
      expect(found.map((entries) => entries.map((e) => values(e, 'sAMAccountName')[0]))).toEqual(names.flatMap((n) => Array.from({ length: 5 }, () => [n])));
      expect(shared.poolStats()).toMatchObject({ open: 2, busy: 0 });
    } finally {
      await shared.close();
    }
  });

  it('releases the connection on abort and on an early stop, and searches on afterwards', async () => {
    const controller = new AbortController();
    const iterator = forest.search(searchRequest(SUFFIX), context(controller.signal))[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort(new Error('abandoned'));
    for (;;) {
      const next = await iterator.next().catch((e: unknown) => e);
      if (next instanceof Error) {
        expect(next.message).toBe('abandoned');
        break;
      }
      expect((next as IteratorResult<Entry>).done).toBe(false); // the current page may drain first
    }
    expect(forest.poolStats()).toMatchObject({ busy: 0, open: 0 }); // its paged search was left open upstream: closed

    // Aborted while the request is on the wire (encoded, and written once this turn of the event loop ends).
    const inFlight = new AbortController();
    const write = LdaptsSearchRequest.prototype.writeMessage;
    const search = vi.spyOn(LdaptsSearchRequest.prototype, 'writeMessage').mockImplementation(function (this: LdaptsSearchRequest, writer) {
      write.call(this, writer);
      queueMicrotask(() => inFlight.abort(new Error('gone')));
    });
    const abandon = vi.spyOn(AbandonRequest.prototype, 'writeMessage');
    try {
      await expect(forest.search(searchRequest(SUFFIX), context(inFlight.signal))[Symbol.asyncIterator]().next()).rejects.toThrow('gone');
      // Abandoned upstream; the connection carries on for others.
      expect(abandon).toHaveBeenCalled();
      expect(forest.poolStats()).toMatchObject({ busy: 0, open: 1 });
    } finally {
      search.mockRestore();
      abandon.mockRestore();
    }

    const early = forest.search(searchRequest(SUFFIX), context())[Symbol.asyncIterator]();
    await early.next();
    await early.return!(undefined);
    expect(forest.poolStats().busy).toBe(0);
    expect(await collect(forest.search(searchRequest(SUFFIX), context()))).toHaveLength(fixture.length);
  });

  it('drops search references without failing the search', async () => {
    const children = await collect(forest.search(searchRequest(SUFFIX, '(objectClass=*)', 'one'), context()));
    expect(children.some((e) => e.dn.text.startsWith('CN=Elsewhere'))).toBe(false);
    expect(await collect(forest.search(searchRequest(`CN=Below,CN=Elsewhere,${SUFFIX}`), context()))).toEqual([]);
  });

  it('passes upstream search errors on with their matchedDN', async () => {
    const err = await failure(collect(forest.search(searchRequest(`OU=Nowhere,${SUFFIX}`), context())));
    expect(err.code).toBe(32);
    expect(Dn.parse(err.matchedDn).equals(Dn.parse(SUFFIX))).toBe(true);
  });

  it('binds users on a connection of their own', async () => {
    const jdoe = Dn.parse(`CN=John Doe,OU=Users,${SUFFIX}`);
    await forest.bind(jdoe, Buffer.from(USER_PASSWORD), context());
    expect((await failure(forest.bind(jdoe, Buffer.from('wrong'), context()))).code).toBe(49);
    expect((await failure(forest.bind(jdoe, Buffer.alloc(0), context()))).code).toBe(49);
    // An empty password never reaches a server: none is reachable here, and the answer is still 49.
    const nowhere = openLdapForest(ldapForestConfig(SUFFIX, ['ldap://127.0.0.1:1']), logger);
    expect((await failure(nowhere.bind(jdoe, Buffer.alloc(0), context()))).code).toBe(49);
    await nowhere.close();
  });

  it('forwards writes with binary values and passes result codes on (68, 32 with matchedDN, 66)', async () => {
    const dn = Dn.parse(`CN=Canopy Write Test,OU=Users,${SUFFIX}`);
    const guid = Buffer.from([0x00, 0x80, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const entry = new Entry(dn, [
      { name: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] },
      { name: 'cn', values: ['Canopy Write Test'] },
      { name: 'sAMAccountName', values: ['cwtest'] },
      { name: 'objectGUID', values: [guid] },
    ]);
    await forest.add(entry, context());
    expect((await failure(forest.add(entry, context()))).code).toBe(68);

    await forest.modify(dn, [{ operation: 'replace', attribute: { name: 'telephoneNumber', values: ['+1 408 555 0199'] } }], context());
    const [read] = await collect(forest.search(searchRequest(dn.text, '(objectClass=*)', 'base'), context()));
    expect(values(read, 'telephoneNumber')).toEqual(['+1 408 555 0199']);
    expect(read.get('objectGUID')!.values[0]).toEqual(guid);
    expect(await forest.compare(dn, 'objectGUID', guid, context())).toBe(true);
    expect(await forest.compare(dn, 'sAMAccountName', 'nobody', context())).toBe(false);

    await forest.modifyDn({ dn, newRdn: 'CN=Canopy Renamed', deleteOldRdn: false }, context());
    const renamed = Dn.parse(`CN=Canopy Renamed,OU=Users,${SUFFIX}`);
    const [moved] = await collect(forest.search(searchRequest(renamed.text, '(objectClass=*)', 'base'), context()));
    expect(values(moved, 'cn').sort()).toEqual(['Canopy Renamed', 'Canopy Write Test']);
    await forest.delete(renamed, context());

    const missing = await failure(forest.delete(Dn.parse(`CN=Nobody,OU=Users,${SUFFIX}`), context()));
    expect(missing.code).toBe(32);
    expect(Dn.parse(missing.matchedDn).equals(Dn.parse(`OU=Users,${SUFFIX}`))).toBe(true); // slapd's spelling
    expect((await failure(forest.delete(Dn.parse(`OU=Users,${SUFFIX}`), context()))).code).toBe(66);
  });

  it('closes idle connections after pool.idleMs', async () => {
    const quick = openLdapForest(ldapForestConfig(SUFFIX, [slapd.url], { pageSize: 10, pool: { idleMs: 100 } }), logger);
    await collect(quick.search(searchRequest(SUFFIX, '(objectClass=*)', 'base'), context()));
    expect(quick.poolStats().open).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    expect(quick.poolStats().open).toBe(0);
    await quick.close();
  });

  it('one identity holds at most pool.searchesPerIdentity answers unread; more wait their turn, other identities go on', async () => {
    const held = openLdapForest(ldapForestConfig(SUFFIX, [slapd.url], { pageSize: 10, pool: { searchesPerIdentity: 2 } }), logger);
    const as = (dn: string) => searchCtx({ identity: { kind: 'account', dn: Dn.parse(dn) } });
    const users = searchRequest(SUFFIX, '(objectClass=organizationalUnit)', 'sub', ['ou']);
    try {
      // Two searches read one entry each, then stop reading: each holds its answer.
      const open = [held.search(users, as('cn=a')), held.search(users, as('cn=a'))];
      for (const s of open) expect((await s.next()).done).toBe(false);
      const requests = async () => (await metricValue(metrics.upstreamRequests, { forest: 'avvid', server: slapd.url })) ?? 0;
      const before = await requests();
      // A third of the same identity is not even sent while they hold theirs.
      const third = held.search(users, as('CN=A'));
      let thirdDone = false;
      const thirdFirst = third.next().then((r) => ((thirdDone = true), r));
      await new Promise((r) => setTimeout(r, 200));
      expect([thirdDone, await requests()]).toEqual([false, before]);
      // Another identity is served meanwhile.
      expect((await collect(held.search(users, as('cn=b')))).length).toBeGreaterThan(2);
      // Reading an answer to its end (or leaving it) frees a turn.
      for (let r = await open[0].next(); !r.done; r = await open[0].next());
      expect((await thirdFirst).done).toBe(false);
      await open[1].return(undefined);
      await third.return(undefined);
      // A waiting search that is abandoned leaves the queue.
      const waiters = [held.search(users, as('cn=a')), held.search(users, as('cn=a'))];
      for (const s of waiters) expect((await s.next()).done).toBe(false);
      const abandon = new AbortController();
      const abandoned = held.search(users, searchCtx({ identity: { kind: 'account', dn: Dn.parse('cn=a') }, signal: abandon.signal }));
      const failed = abandoned.next().then(() => 'served', () => 'aborted');
      abandon.abort(new Error('abandoned'));
      expect(await failed).toBe('aborted');
      for (const s of waiters) await s.return(undefined);
      expect((await collect(held.search(users, as('cn=a')))).length).toBeGreaterThan(2);
      // Anonymous clients take turns as one, whatever address each comes from.
      const anonymous = (address: string) => searchCtx({ identity: { kind: 'anonymous' }, clientAddress: address });
      const parked = [held.search(users, anonymous('127.0.1.1')), held.search(users, anonymous('127.0.1.2'))];
      for (const s of parked) expect((await s.next()).done).toBe(false);
      let anotherServed = false;
      const another = held.search(users, anonymous('127.0.1.3'));
      const anotherFirst = another.next().then((r) => ((anotherServed = true), r));
      await new Promise((r) => setTimeout(r, 200));
      expect(anotherServed).toBe(false);
      await parked[0].return(undefined);
      expect((await anotherFirst).done).toBe(false);
      for (const s of [parked[1], another]) await s.return(undefined);
    } finally {
      await held.close();
    }
  });

  it('asks the forest to give up when Canopy would (timeouts.operationMs), or sooner when the client asks', async () => {
    const proxy = await startCountingProxy(slapd);
    const timed = openLdapForest(ldapForestConfig(SUFFIX, [proxy.url], { pageSize: 10, timeouts: { connectMs: 2000, operationMs: 4500 } }), logger);
    try {
      for (const timeLimit of [0, 2, 100]) {
        await collect(timed.search({ ...searchRequest(SUFFIX, '(objectClass=organizationalUnit)', 'sub', ['ou']), timeLimit }, context()));
      }
      // Paged upstream (more than a page): each page's request too.
      await collect(timed.search(searchRequest(SUFFIX, '(objectClass=user)', 'sub', ['cn']), context()));
      expect(proxy.searchTimeLimits.slice(0, 3)).toEqual([5, 2, 5]);
      expect(new Set(proxy.searchTimeLimits.slice(3))).toEqual(new Set([5]));
    } finally {
      await timed.close();
      await proxy.close();
    }
  });

  it('canopy check: a table per server, true only when every forest has a working server', async () => {
    const yaml = (broken: boolean) => `
forests:
  - name: avvid
    backend: ldap
    base: "${SUFFIX}"
    servers: ["${slapd.url}"]
    bind: { dn: "${serviceDn(SUFFIX)}", password: "${SERVICE_PASSWORD}" }
  - name: vse
    backend: memory
    base: "DC=vse,DC=lab"
    ldif: ["${fileURLToPath(new URL('../../fixtures/vse.lab.ldif', import.meta.url))}"]
${broken ? `  - name: broken\n    backend: ldap\n    base: "DC=broken,DC=test"\n    servers: ["ldap://127.0.0.1:1"]\n` : ''}`;
    const run = async (broken: boolean) => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      const ok = await runCheck(parseConfig(yaml(broken), { source: 'test.yaml', baseDir: '/' }), out);
      return { ok, text };
    };
    const healthy = await run(false);
    expect(healthy.ok).toBe(true);
    expect(healthy.text).toMatch(/^FOREST\s+SERVER\s+TLS\s+BIND\s+BASE\s+MS$/m);
    expect(healthy.text).toMatch(new RegExp(`^avvid\\s+${slapd.url}\\s+none\\s+ok\\s+ok\\s+\\d+$`, 'm'));
    expect(healthy.text).toMatch(/^vse\s+memory, \d+ entries/m);
    const broken = await run(true);
    expect(broken.ok).toBe(false);
    expect(broken.text).toMatch(/^broken\s+ldap:\/\/127\.0\.0\.1:1\s+none\s+-\s+-\s+-$/m);
    expect(broken.text).toMatch(/^broken: ldap:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/m);
    expect(broken.text).toContain('no working server: broken');
  });
});
