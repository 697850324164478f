/**
 * The mock directory's test-suite API as a test suite uses it: start, bind, search, the AD sync
 * filter, reset between tests, snapshots, two directories at once, and the fault switches (API
 * and HTTP), including one forest failing halfway through a paged sync behind the namespace.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { repoRoot } from '../support/server.js';

const CISCO_FILTER = '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';
const AVVID = 'DC=avvid,DC=info';
const avvidEntries = parseLdif(readFileSync(join(repoRoot, 'fixtures/avvid.info.ldif'), 'utf8'), 'avvid').map((r) => r.entry);
const enabledUsers = avvidEntries.filter((e) => {
  const classes = (e.get('objectClass')?.values ?? []).map((c) => String(c).toLowerCase());
  return classes.includes('user') && !classes.includes('computer') && (Number(e.get('userAccountControl')?.values[0] ?? 0) & 2) === 0;
});
const JDOE = `CN=John Doe,OU=Users,${AVVID}`;
const JSON_TYPE = { 'content-type': 'application/json' };

/** An HTTP request with the headers given verbatim (fetch will not send another Host). */
function rawHttp(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function connect(dir: MockDirectory): Promise<Client> {
  const client = new Client({ url: dir.url });
  await client.bind(dir.bindDn, dir.password);
  return client;
}

const phone = (client: Client) => client.search(JDOE, { scope: 'base', attributes: ['telephoneNumber'] }).then((r) => r.searchEntries[0].telephoneNumber);

describe('startMockDirectory', () => {
  let dir: MockDirectory;
  let client: Client;
  beforeAll(async () => {
    dir = await startMockDirectory(); // the bundled fixtures
    client = await connect(dir);
  });
  afterEach(() => dir.reset());
  afterAll(async () => {
    await client.unbind();
    await dir.close();
  });

  it('serves the fixtures with an administrator account', () => {
    expect(dir.url).toBe(`ldap://127.0.0.1:${dir.port}`);
    expect(dir.suffixes).toEqual([AVVID, 'DC=vse,DC=lab']);
    expect(dir.loaded).toBe(164);
    expect(dir.profile).toBe('ad');
  });

  it("evaluates Cisco's sync filter and lets users log in by DN and UPN", async () => {
    const { searchEntries } = await client.search(AVVID, { filter: CISCO_FILTER, attributes: ['sAMAccountName'] });
    expect(searchEntries.map((e) => e.dn).sort()).toEqual(enabledUsers.map((e) => e.dn.text).sort());
    const user = new Client({ url: dir.url });
    await user.bind(JDOE, 'Passw0rd!');
    await user.bind('jdoe@avvid.info', 'Passw0rd!');
    await user.bind('AVVID\\jdoe', 'Passw0rd!');
    await expect(user.bind(JDOE, 'wrong')).rejects.toThrow(/credentials/i);
    await user.unbind();
  });

  it('pages through a search', async () => {
    const { searchEntries } = await client.search(AVVID, { filter: '(objectClass=*)', paged: { pageSize: 7 }, attributes: ['1.1'] });
    expect(searchEntries).toHaveLength(avvidEntries.length);
  });

  it('changes data in one test…', async () => {
    await client.modify(JDOE, [new Change({ operation: 'replace', modification: new Attribute({ type: 'telephoneNumber', values: ['+1 555 0000'] }) })]);
    await client.add(`CN=New Person,OU=Users,${AVVID}`, { objectClass: 'user', cn: 'New Person' });
    expect(await phone(client)).toBe('+1 555 0000');
  });

  it('…and the next one starts from the loaded data (reset)', async () => {
    expect(await phone(client)).toBe(String(avvidEntries.find((e) => e.dn.text === JDOE)!.get('telephoneNumber')!.values[0]));
    await expect(client.search(`CN=New Person,OU=Users,${AVVID}`, { scope: 'base' })).rejects.toThrow();
  });

  it('returns to a snapshot', async () => {
    const set = (v: string) => client.modify(JDOE, [new Change({ operation: 'replace', modification: new Attribute({ type: 'telephoneNumber', values: [v] }) })]);
    await set('1');
    const snap = dir.snapshot();
    await set('2');
    dir.restore(snap);
    expect(await phone(client)).toBe('1');
  });

  it('runs several directories at once, each with its own data', async () => {
    const ldif = `dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\ndn: cn=x,dc=example,dc=com\nobjectClass: person\ncn: x\nsn: x\n`;
    await using one = await startMockDirectory({ ldif, adminPassword: 'secret-1' });
    await using two = await startMockDirectory({ ldif });
    expect(one.port).not.toBe(two.port);
    expect(one.profile).toBe('plain');
    expect(one.password).toBe('secret-1');
    const c1 = await connect(one);
    const c2 = await connect(two);
    await c1.del('cn=x,dc=example,dc=com');
    expect((await c2.search('dc=example,dc=com', { filter: '(cn=x)' })).searchEntries).toHaveLength(1);
    expect((await c1.search('dc=example,dc=com', { filter: '(cn=x)' })).searchEntries).toHaveLength(0);
    await c1.unbind();
    await c2.unbind();
  });

  it('is closed by await using', async () => {
    let url: string;
    {
      await using scoped = await startMockDirectory({ ldif: 'dn: dc=a\nobjectClass: domain\ndc: a\n' });
      url = scoped.url;
    }
    await expect(new Client({ url, connectTimeout: 1000 }).bind('', '')).rejects.toThrow();
  });
});

describe('fault switches', () => {
  let dir: MockDirectory;
  let client: Client;
  beforeAll(async () => {
    dir = await startMockDirectory({ faultPort: 0 });
    client = await connect(dir);
  });
  afterEach(() => dir.faults.clear());
  afterAll(async () => {
    await client.unbind();
    await dir.close();
  });
  const search = (base = AVVID, extra: string[] = []) =>
    runLdapTool('ldapsearch', ['-x', '-LLL', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password, ...extra, '-b', base, '(objectClass=*)', '1.1']);

  it('answers unavailable or busy for the next N operations, then recovers', async () => {
    dir.faults.inject({ kind: 'unavailable', count: 2 });
    expect((await search()).status).toBe(52);
    expect((await search()).status).toBe(52);
    expect((await search()).status).toBe(0);
    dir.faults.inject({ kind: 'busy', forest: 'vse.lab' });
    expect((await search('DC=vse,DC=lab')).status).toBe(51);
    expect((await search()).status).toBe(0); // only the forest named
    expect(dir.faults.counts.triggered).toMatchObject({ unavailable: 2, busy: 1 });
    expect(await metricValue(metrics.mockFaultsTriggered, { forest: 'vse.lab' })).toBeGreaterThanOrEqual(1);
    expect(await metricValue(metrics.mockFaultsInjected, { kind: 'unavailable' })).toBeGreaterThanOrEqual(1);
  });

  it('adds latency per operation and per entry', async () => {
    dir.faults.inject({ kind: 'latency', ms: 150 });
    let started = performance.now();
    await client.search(JDOE, { scope: 'base' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    dir.faults.clear();
    dir.faults.inject({ kind: 'latency', ms: 20, per: 'entry' });
    started = performance.now();
    await client.search(`OU=Groups,${AVVID}`, { scope: 'one' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(5 * 20);
  });

  it('drops a search after N entries: the client gets an error, not a short success', async () => {
    dir.faults.inject({ kind: 'drop', afterEntries: 10, count: 1 });
    const dropped = await search();
    expect(dropped.status).toBe(52);
    expect(dropped.stdout.match(/^dn: /gm)).toHaveLength(10);
    expect((await search()).status).toBe(0);
  });

  it('hangs until the client time limit', async () => {
    dir.faults.inject({ kind: 'hang' });
    expect((await search(AVVID, ['-l', '1'])).status).toBe(3); // timeLimitExceeded
  });

  it('is served over HTTP on loopback', async () => {
    expect(dir.faultUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const post = await fetch(`${dir.faultUrl}/faults`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ kind: 'unavailable' }) });
    expect(post.status).toBe(201);
    const { id } = (await post.json()) as { id: number };
    expect((await search()).status).toBe(52);
    const listed = (await (await fetch(`${dir.faultUrl}/faults`)).json()) as { faults: { id: number }[] };
    expect(listed.faults.map((f) => f.id)).toEqual([id]);
    expect((await fetch(`${dir.faultUrl}/faults/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await search()).status).toBe(0);
    const bad = await fetch(`${dir.faultUrl}/faults`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ kind: 'latency' }) });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('ms');
    await client.del(`CN=svc-canopy,OU=ServiceAccounts,${AVVID}`);
    expect((await fetch(`${dir.faultUrl}/reset`, { method: 'POST', headers: JSON_TYPE })).status).toBe(204);
    expect((await client.search(`CN=svc-canopy,OU=ServiceAccounts,${AVVID}`, { scope: 'base' })).searchEntries).toHaveLength(1);
  });

  // What a web page on the developer's machine can send: a cross-origin "simple" POST (text/plain,
  // form-encoded, or no type: no CORS preflight), or anything under its own DNS name rebound to
  // 127.0.0.1. None of it may inject a fault, clear one, reset the data or read the state.
  it('over HTTP, refuses what a web page can send: POSTs that are not JSON, and Hosts that are not loopback', async () => {
    const port = Number(new URL(dir.faultUrl!).port);
    await client.del(JDOE);
    const kept = dir.faults.inject({ kind: 'busy', count: 1000 });
    const spec = JSON.stringify({ kind: 'unavailable' });
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const headers = type === undefined ? undefined : { 'content-type': type };
      const inject = await fetch(`${dir.faultUrl}/faults`, { method: 'POST', headers, body: spec });
      expect(inject.status).toBe(415);
      expect(await inject.text()).toContain('application/json');
      expect((await fetch(`${dir.faultUrl}/reset`, { method: 'POST', headers })).status).toBe(415);
    }
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `localhost.:${port}`, `127.1:${port}`, `127.0.0.1:${port + 1}`, '127.0.0.1', `user@127.0.0.1:${port}`, '']) {
      for (const [method, path] of [['POST', '/faults'], ['POST', '/reset'], ['DELETE', '/faults'], ['DELETE', `/faults/${kept}`], ['GET', '/faults']] as const) {
        const r = await rawHttp(port, method, path, { host, 'content-type': 'application/json' }, method === 'POST' ? spec : undefined);
        expect(r.status, `${method} ${path} Host: ${host}`).toBe(421);
      }
    }
    expect(dir.faults.list().map((f) => f.id)).toEqual([kept]);
    dir.faults.clear();
    await expect(client.search(JDOE, { scope: 'base' })).rejects.toThrow(); // not reset: still deleted
    // A test suite's requests, by any loopback name, are served.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      const r = await rawHttp(port, 'POST', '/faults', { host, 'content-type': 'application/json; charset=utf-8' }, spec);
      expect(r.status, host).toBe(201);
      expect((await rawHttp(port, 'DELETE', '/faults', { host })).status).toBe(204);
    }
    expect((await rawHttp(port, 'POST', '/reset', { host: `localhost:${port}`, 'content-type': 'application/json' })).status).toBe(204);
    expect((await client.search(JDOE, { scope: 'base' })).searchEntries).toHaveLength(1);
  });
});

describe('fault switches per forest behind the namespace', () => {
  const config = `namespace: { suffix: "dc=corp,dc=example" }
forests:
  - { name: avvid, backend: memory, profile: ad, base: "${AVVID}", mount: "ou=avvid,dc=corp,dc=example", ldif: [fixtures/avvid.info.ldif] }
  - { name: vse, backend: memory, profile: ad, base: "DC=vse,DC=lab", mount: "ou=vse,dc=corp,dc=example", ldif: [fixtures/vse.lab.ldif] }
`;

  it('a paged sync with one forest switched to unavailable mid-sync ends in an error', async () => {
    await using dir = await startMockDirectory({ config, baseDir: repoRoot });
    const client = await connect(dir);
    const pages = client.searchPaginated('dc=corp,dc=example', { filter: CISCO_FILTER, attributes: ['sAMAccountName'], paged: { pageSize: 10 } });
    let seen = 0;
    const sync = (async () => {
      for await (const page of pages) {
        seen += page.searchEntries.length;
        if (seen === 10) dir.faults.inject({ kind: 'unavailable', forest: 'vse' });
      }
    })();
    await expect(sync).rejects.toThrow(/vse|unavailable/i);
    expect(seen).toBeGreaterThanOrEqual(10);
    expect(seen).toBeLessThan(2 * enabledUsers.length);
    await client.unbind();
  });
});
