/**
 * The mock directory's "drop the connection after N pages" fault: the client's connection is
 * destroyed once N pages of a paged search were answered, as a crashed domain controller's would
 * be, so a sync client sees a broken connection, never a short success. Through the API, the
 * admin HTTP endpoint and `canopy mock --fault`.
 */
import { Client, type SearchResult } from 'ldapts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { runMockInProcess } from '../support/mock-command.js';
import { repoRoot } from '../support/server.js';

const AVVID = 'DC=avvid,DC=info';
const PAGE = 10;

async function connect(dir: { url: string; bindDn: string; password: string }): Promise<Client> {
  const client = new Client({ url: dir.url });
  await client.bind(dir.bindDn, dir.password);
  return client;
}

/** A paged sync as a sync client runs it: the pages it got, and how it ended. */
async function sync(client: Client, base: string): Promise<{ pages: SearchResult[]; error?: Error }> {
  const pages: SearchResult[] = [];
  try {
    for await (const page of client.searchPaginated(base, { attributes: ['1.1'], paged: { pageSize: PAGE } })) pages.push(page);
    return { pages };
  } catch (err) {
    return { pages, error: err as Error };
  }
}

/** ldapsearch paging through `base` with pages of PAGE entries. */
const pagedLdapsearch = (url: string, bindDn: string, password: string, base = AVVID) =>
  runLdapTool('ldapsearch', ['-x', '-LLL', '-H', url, '-D', bindDn, '-w', password, '-E', `pr=${PAGE}/noprompt`, '-b', base, '(objectClass=*)', '1.1']);

/** Entries ldapsearch printed (`dn::` when base64). */
const dnLines = (stdout: string): number => stdout.match(/^dn::? /gm)?.length ?? 0;

describe('drop after N pages, through the API', () => {
  let dir: MockDirectory;
  beforeAll(async () => (dir = await startMockDirectory()));
  afterEach(() => dir.faults.clear());
  afterAll(() => dir.close());

  it('drops the connection after the Nth page: the sync ends in a connection error, not a success', async () => {
    const triggered = await metricValue(metrics.mockFaultsTriggered, { forest: 'avvid.info' });
    dir.faults.inject({ kind: 'drop', afterPages: 2 });
    const client = await connect(dir);
    const { pages, error } = await sync(client, AVVID);
    expect(pages).toHaveLength(2);
    expect(pages.flatMap((p) => p.searchEntries)).toHaveLength(2 * PAGE);
    expect(error?.message).toMatch(/connection closed/i);
    expect(client.isConnected).toBe(false);
    expect(dir.faults.counts.triggered.drop).toBe(1);
    expect(await metricValue(metrics.mockFaultsTriggered, { forest: 'avvid.info' })).toBe(triggered + 1);
    await client.unbind();

    // Until cleared, every paged search is dropped; afterwards a new connection syncs everything.
    const again = await connect(dir);
    expect((await sync(again, AVVID)).error).toBeDefined();
    dir.faults.clear();
    const fresh = await connect(dir);
    const whole = await sync(fresh, AVVID);
    expect(whole.error).toBeUndefined();
    expect(whole.pages.length).toBeGreaterThan(2);
    await fresh.unbind();
  });

  it('leaves unpaged searches and paged searches that end before page N alone', async () => {
    const before = dir.faults.counts.triggered.drop ?? 0;
    dir.faults.inject({ kind: 'drop', afterPages: 1 });
    const client = await connect(dir);
    expect((await client.search(AVVID, { attributes: ['1.1'] })).searchEntries.length).toBeGreaterThan(2 * PAGE);
    const { pages, error } = await sync(client, `OU=Computers,${AVVID}`); // fewer entries than one page
    expect(error).toBeUndefined();
    expect(pages).toHaveLength(1);
    expect(client.isConnected).toBe(true);
    expect(dir.faults.counts.triggered.drop ?? 0).toBe(before);
    await client.unbind();
  });

  it('refuses a drop fault without exactly one of afterEntries and afterPages', () => {
    expect(() => dir.faults.inject({ kind: 'drop' })).toThrow(/afterPages/);
    expect(() => dir.faults.inject({ kind: 'drop', afterEntries: 1, afterPages: 1 })).toThrow(/exactly one/);
    expect(() => dir.faults.inject({ kind: 'drop', afterPages: 0 })).toThrow();
  });
});

describe('drop after N pages, over HTTP', () => {
  it('is injected with POST /faults and used up after `count` searches', async () => {
    await using dir = await startMockDirectory({ faultPort: 0 });
    const post = (body: unknown) => fetch(`${dir.faultUrl}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ kind: 'drop', afterPages: 1, count: 1 })).status).toBe(201);
    const dropped = await pagedLdapsearch(dir.url, dir.bindDn, dir.password);
    expect(dropped.status).not.toBe(0);
    expect(dropped.stderr).toMatch(/can't contact LDAP server/i);
    expect(dnLines(dropped.stdout)).toBe(PAGE);
    const listed = (await (await fetch(`${dir.faultUrl}/faults`)).json()) as { faults: unknown[]; counts: { triggered: Record<string, number> } };
    expect(listed.faults).toEqual([]);
    expect(listed.counts.triggered.drop).toBe(1);
    const whole = await pagedLdapsearch(dir.url, dir.bindDn, dir.password);
    expect(whole.status).toBe(0);
    expect(dnLines(whole.stdout)).toBeGreaterThan(2 * PAGE);
    const bad = await post({ kind: 'drop', afterEntries: 1, afterPages: 1 });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('afterPages');
  });
});

describe('drop after N pages, per forest behind the namespace', () => {
  it('drops only paged searches that reach the faulty forest', async () => {
    await using dir = await startMockDirectory({
      baseDir: repoRoot,
      config: `namespace: { suffix: "dc=corp,dc=example" }
forests:
  - { name: avvid, backend: memory, profile: ad, base: "${AVVID}", mount: "ou=avvid,dc=corp,dc=example", ldif: [fixtures/avvid.info.ldif] }
  - { name: vse, backend: memory, profile: ad, base: "DC=vse,DC=lab", mount: "ou=vse,dc=corp,dc=example", ldif: [fixtures/vse.lab.ldif] }
`,
    });
    dir.faults.inject({ kind: 'drop', forest: 'vse', afterPages: 3 });
    const client = await connect(dir);
    const avvid = await sync(client, 'ou=avvid,dc=corp,dc=example');
    expect(avvid.error).toBeUndefined();
    expect(avvid.pages.length).toBeGreaterThan(3);
    const all = await sync(client, 'dc=corp,dc=example');
    expect(all.error).toBeDefined();
    expect(all.pages).toHaveLength(3);
    await client.unbind();
  });
});

describe('canopy mock --fault drop:afterPages=N', () => {
  it('drops paged searches after N pages from the start', async () => {
    const mock = await runMockInProcess(['--port', '0', '--admin-password', 'Adm1n!pw', '--fault', 'drop:afterPages=2']);
    const r = await pagedLdapsearch(mock.url, 'cn=admin', 'Adm1n!pw');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/can't contact LDAP server/i);
    expect(dnLines(r.stdout)).toBe(2 * PAGE);
    expect(await mock.stop()).toBe(0);
  });
});
