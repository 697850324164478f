/**
 * The HTTP listener operators scrape and probe: /metrics counts what clients did, /healthz says the
 * process runs, /readyz follows the upstream forests.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigErrors } from '../../src/config/config-error.js';
import { parseConfig } from '../../src/config/load.js';
import { registry } from '../../src/observability/metrics.js';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { pagedControl, RawLdapClient } from '../support/raw-ldap.js';
import { fixtureForests, openAccess, repoRoot, startTestServer } from '../support/server.js';
import { makeTestCertificates } from '../support/tls.js';
import { version } from '../../src/version.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';

type TestServer = Awaited<ReturnType<typeof startTestServer>>;

const JOHN = 'CN=John Doe,OU=Users,DC=avvid,DC=info';

async function get(server: TestServer, path: string, method = 'GET') {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Every series of a metric in a Prometheus text exposition, keyed by its label set. */
function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

function deltas(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [labels, value] of after) {
    const d = value - (before.get(labels) ?? 0);
    if (d !== 0) out[labels] = d;
  }
  return out;
}

async function eventually<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('HTTP endpoints', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('counts a known sequence of operations exactly, by operation and result code', async () => {
    const before = await get(server, '/metrics');
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toBe(registry.contentType);

    const client = new Client({ url: server.url });
    await client.bind('', '');
    await client.search('DC=avvid,DC=info', { filter: '(sAMAccountName=jdoe)' });
    await client.search('DC=vse,DC=lab', { filter: '(sAMAccountName=jdoe)' });
    await expect(client.bind(JOHN, 'Wrong-Guess-123')).rejects.toMatchObject({ code: 49 });
    expect(await client.compare(JOHN, 'sn', 'Doe')).toBe(true);
    const after = await get(server, '/metrics');
    await client.unbind();

    expect(deltas(series(before.body, 'canopy_operations_total'), series(after.body, 'canopy_operations_total'))).toEqual({
      '{op="bind",code="0"}': 1,
      '{op="search",code="0"}': 2,
      '{op="bind",code="49"}': 1,
      '{op="compare",code="6"}': 1,
    });
    const latency = deltas(
      series(before.body, 'canopy_operation_duration_seconds_count'),
      series(after.body, 'canopy_operation_duration_seconds_count'),
    );
    expect(latency).toEqual({ '{op="bind"}': 2, '{op="search"}': 2, '{op="compare"}': 1 });
    expect(deltas(series(before.body, 'canopy_binds_failed_total'), series(after.body, 'canopy_binds_failed_total'))).toEqual({
      '{forest="avvid",reason="wrong_password"}': 1,
    });
    expect(after.body).toContain('# TYPE canopy_operation_duration_seconds histogram');
  });

  it('shows open client connections and paged searches kept between pages', async () => {
    const value = async (name: string) => series((await get(server, '/metrics')).body, name).get('') ?? 0;
    // The previous test's client may still be closing.
    const connections = await eventually(() => value('canopy_open_connections'), (v) => v === 0);
    expect(connections).toBe(0);
    const cursors = await value('canopy_open_paged_searches');
    const raw = await RawLdapClient.connect(server.url);
    await raw.bind(serviceDn('DC=avvid,DC=info'), SERVICE_PASSWORD);
    const page = await raw.search('OU=Users,DC=avvid,DC=info', [pagedControl(2)]);
    expect(page.dns).toHaveLength(2);
    expect(await value('canopy_open_connections')).toBe(connections + 1);
    expect(await value('canopy_open_paged_searches')).toBe(cursors + 1);
    raw.close();
    expect(await eventually(() => value('canopy_open_connections'), (v) => v === connections)).toBe(connections);
    expect(await value('canopy_open_paged_searches')).toBe(cursors);
  });

  it('answers /healthz while the process runs', async () => {
    expect(await get(server, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(server, '/healthz', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it('holds at most 256 connections, and closes one that sends no request within 10 s (slowloris)', async () => {
    let closed = 0;
    const sockets = await Promise.all(
      Array.from(
        { length: 300 },
        () =>
          new Promise<Socket>((resolve) => {
            const socket = connect(server.httpPort!, '127.0.0.1', () => resolve(socket));
            socket.on('error', () => undefined);
            socket.on('close', () => closed++);
          }),
      ),
    );
    // Past the cap (a scrape's kept-alive connection may hold a place too), connections are closed as
    // they come; the rest wait for their request.
    await new Promise((r) => setTimeout(r, 1000));
    expect(closed).toBeGreaterThanOrEqual(300 - 256);
    expect(closed).toBeLessThan(300);
    // None sends one: all are closed once the request time is up, and the listener serves again.
    expect(await eventually(() => Promise.resolve(closed), (n) => n === 300, 15_000)).toBe(300);
    expect(await get(server, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    for (const s of sockets) s.destroy();
  }, 30_000);

  it('answers /readyz with every forest ready when memory forests serve, each named with ?verbose', async () => {
    const res = await get(server, '/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toBe('ready\nldap listener: listening\nforests ready: 2 of 2\n');
    expect((await get(server, '/readyz?verbose')).body).toBe('ready\nldap listener: listening\nforests ready: 2 of 2\nforest avvid: ready\nforest vse: ready\n');
  });

  it('refuses unknown paths with 404 and other methods with 405', async () => {
    expect((await get(server, '/nothing-here')).status).toBe(404);
    expect((await get(server, '/')).status).toBe(404);
    const post = await get(server, '/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('/readyz with an upstream forest', () => {
  const SUFFIX = 'DC=avvid,DC=info';
  let slapd: Slapd;
  let server: TestServer;

  beforeAll(async () => {
    slapd = await startSlapd({ suffix: SUFFIX, ldif: [fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url))] });
    const avvid = {
      name: 'avvid',
      backend: 'ldap',
      base: SUFFIX,
      servers: [slapd.url],
      bind: { dn: serviceDn(SUFFIX), password: SERVICE_PASSWORD },
      timeouts: { connectMs: 1000, operationMs: 2000 },
    };
    server = await startTestServer(`forests:
  - ${JSON.stringify(avvid)}
  - { name: vse, backend: memory, base: "DC=vse,DC=lab", ldif: [fixtures/vse.lab.ldif] }
${openAccess}`);
  });

  afterAll(async () => {
    await server?.close();
    await slapd?.stop();
  });

  it('stays ready while one forest is down, naming it with ?verbose and in canopy_forest_ready, while searches of it fail with 52', async () => {
    const ready = await get(server, '/readyz?verbose');
    expect(ready.status).toBe(200);
    expect(ready.body).toContain('forest avvid: ready');
    // /readyz refreshed the gauge: a scrape does not probe the forests.
    expect(series((await get(server, '/metrics')).body, 'canopy_forest_ready')).toEqual(
      new Map([
        ['{forest="avvid"}', 1],
        ['{forest="vse"}', 1],
      ]),
    );

    await slapd.kill();
    const down = await eventually(() => get(server, '/readyz?verbose'), (r) => r.body.includes('forest avvid: not ready'));
    expect(down.status).toBe(200);
    expect(down.body).toMatch(/^ready\nldap listener: listening\nforests ready: 1 of 2 \(not ready: avvid\)\n/);
    expect(down.body).toMatch(/forest avvid: not ready: .*no server reachable.*127\.0\.0\.1/);
    expect(down.body).toContain('forest vse: ready');
    expect((await get(server, '/readyz')).body).toBe('ready\nldap listener: listening\nforests ready: 1 of 2 (not ready: avvid)\n');
    const metrics = (await get(server, '/metrics')).body;
    expect(series(metrics, 'canopy_upstream_server_up').get(`{forest="avvid",server="${slapd.url}"}`)).toBe(0);
    expect(series(metrics, 'canopy_forest_ready').get('{forest="avvid"}')).toBe(0);
    expect(series(metrics, 'canopy_forest_ready').get('{forest="vse"}')).toBe(1);
    const client = new Client({ url: server.url });
    await expect(client.search(SUFFIX, { filter: '(sAMAccountName=jdoe)' })).rejects.toMatchObject({ code: 52 });
    expect((await client.search('DC=vse,DC=lab', { filter: '(sAMAccountName=jdoe)' })).searchEntries).toHaveLength(1);
    await client.unbind();

    await slapd.restart();
    const back = await eventually(() => get(server, '/readyz?verbose'), (r) => r.body.includes('forest avvid: ready'));
    expect(back.status).toBe(200);
    expect(back.body).toContain('forests ready: 2 of 2\n');
    const up = (await get(server, '/metrics')).body;
    expect(series(up, 'canopy_upstream_server_up').get(`{forest="avvid",server="${slapd.url}"}`)).toBe(1);
    expect(series(up, 'canopy_forest_ready').get('{forest="avvid"}')).toBe(1);
  });

  it('counts requests to the upstream server and the pool in use', async () => {
    const before = (await get(server, '/metrics')).body;
    const client = new Client({ url: server.url });
    await client.bind(JOHN, USER_PASSWORD);
    await client.search(SUFFIX, { filter: '(sAMAccountName=jdoe)' });
    await client.unbind();
    const after = (await get(server, '/metrics')).body;
    const label = `{forest="avvid",server="${slapd.url}"}`;
    // The bind: a lookup by the service account and the user's own bind; then the search.
    const sent = (series(after, 'canopy_upstream_requests_total').get(label) ?? 0) - (series(before, 'canopy_upstream_requests_total').get(label) ?? 0);
    expect(sent).toBe(3);
    expect(series(after, 'canopy_upstream_pool_in_use').get('{forest="avvid"}')).toBe(0);
  });
});

describe("Canopy's own certificate", () => {
  it('publishes when it expires, for an alert before it does', async () => {
    const certs = await makeTestCertificates();
    const server = await startTestServer(`tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}" }\n${fixtureForests}${openAccess}`);
    try {
      const metrics = (await get(server, '/metrics')).body;
      const expiry = Date.parse(new X509Certificate(readFileSync(certs.certFile)).validTo) / 1000;
      expect(series(metrics, 'canopy_tls_certificate_expiry_timestamp_seconds').get(`{file="${certs.certFile}"}`)).toBe(expiry);
      expect(series(metrics, 'canopy_build_info').get(`{version="${version}",node="${process.version}"}`)).toBe(1);
    } finally {
      await server.close();
      await certs.remove();
    }
  });
});

describe('the Grafana dashboard', () => {
  it('queries only metrics Canopy exports', async () => {
    const dashboard = readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8');
    const used = new Set(dashboard.match(/canopy_[a-z_]+/g));
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    const missing = [...used].filter((name) => !exported.has(name) && !exported.has(name.replace(/_bucket$/, '')));
    expect(used.size).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });
});

describe('http configuration', () => {
  const parse = (yaml: string) => parseConfig(`${yaml}\nforests: [{ name: a, backend: memory, base: "dc=a", ldif: [a.ldif] }]\n`, { source: 'test', baseDir: repoRoot });

  it('defaults to loopback port 9389, enabled', () => {
    expect(parse('').http).toEqual({ enabled: true, host: '127.0.0.1', port: 9389 });
  });

  it('takes the port as digits from an environment variable, and refuses one out of range', () => {
    expect(parseConfig('http: { port: "${P}" }\nforests: [{ name: a, backend: memory, base: "dc=a", ldif: [a.ldif] }]\n', {
      source: 'test',
      baseDir: repoRoot,
      env: { P: '9500' },
    }).http.port).toBe(9500);
    expect(() => parse('http: { port: 70000 }')).toThrow(ConfigErrors);
    expect(() => parse('http: { port: 70000 }')).toThrow(/http\.port: 70000/);
    expect(() => parse('http: { prot: 1 }')).toThrow(/http\.prot: is not a known key/);
  });

  it('refuses an access log sample rate outside 0..1', () => {
    expect(() => parse('logging: { accessLogSampleRate: 1.5 }')).toThrow(/logging\.accessLogSampleRate: 1\.5/);
  });
});
