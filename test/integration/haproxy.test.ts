/**
 * Two `canopy serve` processes behind Debian's HAProxy in TCP mode with `send-proxy-v2` (issue 21):
 * clients spread over both, each replica logs the client's address (not HAProxy's), over LDAP and
 * LDAPS (the header before the TLS handshake, TLS passed through), a replica
 * killed under load costs only the connections it held, and a paged search stays on its replica.
 * Clients connect from 127.0.0.2; HAProxy reaches Canopy from 127.0.0.1, the one address Canopy
 * takes PROXY headers from.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { spawnCanopy, type CanopyProcess } from '../support/canopy-process.js';
import { RawLdapClient } from '../support/raw-ldap.js';
import { openAccess, repoRoot } from '../support/server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';

const HAPROXY = '/usr/sbin/haproxy';
const CLIENT = '127.0.0.2';
const AVVID = 'DC=avvid,DC=info';
const JOHN = 'CN=John Doe,OU=Users,DC=avvid,DC=info';
const cli = join(repoRoot, 'dist/cli.js');

/** A port free right now on loopback (HAProxy cannot report an ephemeral one). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function canAccept(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** The port of a replica's LDAPS listener, from its `canopy listening` line. */
function ldapsPort(replica: CanopyProcess): number {
  const line = replica.logLines.find((l) => l.includes('canopy listening'));
  const { urls } = JSON.parse(line ?? '{}') as { urls?: string[] };
  const ldaps = urls?.find((u) => u.startsWith('ldaps:'));
  if (!ldaps) throw new Error(`no LDAPS listener in ${line}`);
  return Number(new URL(ldaps).port);
}

/** The `operation` lines a replica logged for a client, found by its address and port. */
function operationsOf(replica: CanopyProcess, port: number | undefined): Record<string, unknown>[] {
  return replica.logLines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === 'operation' && l.peer === `${CLIENT}:${port}`);
}

/** Which replica serves a client: the one whose log shows its operations (log lines arrive a moment after the responses). */
async function replicaOf(replicas: readonly CanopyProcess[], port: number | undefined): Promise<number> {
  let found = -1;
  await expect.poll(() => (found = replicas.findIndex((r) => operationsOf(r, port).length > 0)), { timeout: 5000 }).toBeGreaterThanOrEqual(0);
  return found;
}

describe('two Canopy replicas behind HAProxy with PROXY protocol v2', () => {
  let dir: string;
  let certs: TestCertificates;
  let ldapsUrlPort: number;
  const replicas: CanopyProcess[] = [];
  let haproxy: ChildProcess | undefined;
  let haproxyOutput = '';
  let url: string;

  beforeAll(async () => {
    if (!existsSync(HAPROXY)) throw new Error(`${HAPROXY} is missing: install the Debian package \`haproxy\` (apt-get install -y haproxy)`);
    if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run build` first');
    dir = mkdtempSync(join(tmpdir(), 'canopy-haproxy-'));
    certs = await makeTestCertificates();
    const config = join(dir, 'canopy.yaml');
    writeFileSync(
      config,
      `listen: { ldap: "ldap://127.0.0.1:0", ldaps: "ldaps://127.0.0.1:0", proxyProtocol: { from: ["127.0.0.1/32"] } }
tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}" }
http: { port: 0 }
forests:
  - { name: avvid, backend: memory, base: "${AVVID}", ldif: ["${join(repoRoot, 'fixtures/avvid.info.ldif')}"] }
${openAccess}`,
    );
    replicas.push(...(await Promise.all([0, 1].map(() => spawnCanopy(process.execPath, [cli, 'serve', '--config', config])))));
    const port = await freePort();
    ldapsUrlPort = await freePort();
    const haproxyConfig = join(dir, 'haproxy.cfg');
    writeFileSync(
      haproxyConfig,
      `global
    maxconn 500
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
frontend ldap
    bind 127.0.0.1:${port}
    default_backend canopy
frontend ldaps
    bind 127.0.0.1:${ldapsUrlPort}
    default_backend canopy_ldaps
backend canopy
    balance roundrobin
    # One missed check (a replica slow on a loaded machine) does not take it out of the rotation.
    default-server send-proxy-v2 check check-send-proxy inter 200ms fall 3 rise 2
${replicas.map((r, i) => `    server canopy${i} 127.0.0.1:${new URL(r.url).port}`).join('\n')}
backend canopy_ldaps
    balance roundrobin
    default-server send-proxy-v2
${replicas.map((r, i) => `    server canopy${i} 127.0.0.1:${ldapsPort(r)}`).join('\n')}
`,
    );
    haproxy = spawn(HAPROXY, ['-f', haproxyConfig, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout?.on('data', (d: Buffer) => (haproxyOutput += d.toString()));
    haproxy.stderr?.on('data', (d: Buffer) => (haproxyOutput += d.toString()));
    for (let i = 0; i < 100 && !(await canAccept(port)); i++) {
      if (haproxy.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!(await canAccept(port))) throw new Error(`haproxy did not start:\n${haproxyOutput}`);
    url = `ldap://127.0.0.1:${port}`;
  }, 60_000);

  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
    await certs?.remove();
  });

  it('spreads clients over both replicas, each logging the client’s address and port, not HAProxy’s', async () => {
    const ports: (number | undefined)[] = [];
    for (let i = 0; i < 8; i++) {
      const c = await RawLdapClient.connect(url, CLIENT);
      expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
      expect((await c.search(AVVID)).code).toBe(0);
      ports.push(c.localPort);
      c.close();
    }
    const homes = await Promise.all(ports.map((p) => replicaOf(replicas, p)));
    expect([homes.filter((h) => h === 0).length, homes.filter((h) => h === 1).length]).toEqual([4, 4]); // round robin
    for (const p of ports) {
      await expect.poll(() => replicas.flatMap((r) => operationsOf(r, p)).length).toBe(2);
      const [a, b] = replicas.map((r) => operationsOf(r, p).map((l) => l.op));
      expect([...a, ...b]).toEqual(['bind', 'search']);
    }
    // HAProxy's own connections (its health checks, a LOCAL header) run no operation.
    for (const r of replicas) expect(r.logLines.filter((l) => l.includes('"msg":"operation"') && l.includes('"peer":"127.0.0.1:'))).toEqual([]);
  });

  it('passes LDAPS through: the header comes before the TLS handshake, and the client’s address reaches the log', async () => {
    const ports: (number | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = connect({ host: '127.0.0.1', port: ldapsUrlPort, localAddress: CLIENT });
      const tls = tlsConnect({ socket, ca: readFileSync(certs.caFile), servername: 'localhost' });
      await new Promise((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
      const c = RawLdapClient.over(tls);
      expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
      ports.push(c.localPort);
      c.close();
    }
    const homes = await Promise.all(ports.map((p) => replicaOf(replicas, p)));
    expect(homes.sort()).toEqual([0, 1]);
  });

  it('keeps a paged search on its replica: every page through the balancer on one connection', async () => {
    const client = new Client({ url, timeout: 10_000 });
    try {
      await client.bind(JOHN, USER_PASSWORD);
      const filter = '(&(objectClass=user)(cn=*))';
      const { searchEntries } = await client.search(AVVID, { filter, attributes: ['cn'], paged: { pageSize: 5 } });
      const whole = await client.search(AVVID, { filter, attributes: ['cn'] });
      expect(searchEntries.length).toBeGreaterThan(20);
      expect(searchEntries.map((e) => e.dn).sort()).toEqual(whole.searchEntries.map((e) => e.dn).sort());
      const searches = () => replicas.map((r) => r.logLines.filter((l) => l.includes('"op":"search"') && l.includes(`"filter":"${filter}"`)).length).sort();
      // One replica answered every page and the unpaged search; the other none.
      await expect.poll(searches).toEqual([0, Math.ceil(searchEntries.length / 5) + 1]);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  });

  it('a replica killed under load costs only the connections it held; their clients reconnect to the other', async () => {
    const clients = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const c = await RawLdapClient.connect(url, CLIENT);
        expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
        return c;
      }),
    );
    const home = await Promise.all(clients.map((c) => replicaOf(replicas, c.localPort)));
    expect(home.filter((h) => h === 0)).toHaveLength(3);
    expect(home.filter((h) => h === 1)).toHaveLength(3);

    // Every client searches in a loop; replica 0 is killed in the middle.
    let stop = false;
    const after = clients.map(() => 0);
    let killed = false;
    const loops = clients.map(async (c, i) => {
      while (!stop) {
        const done = await c.search(AVVID).catch(() => undefined);
        if (!done) return 'lost';
        expect(done.code).toBe(0);
        if (killed) after[i]++;
      }
      return 'served';
    });
    await new Promise((r) => setTimeout(r, 300));
    replicas[0].child.kill('SIGKILL');
    await new Promise((resolve) => replicas[0].child.once('exit', resolve));
    killed = true;
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    const outcome = await Promise.all(loops);
    for (const c of clients) c.close();
    expect(outcome).toEqual(home.map((h) => (h === 0 ? 'lost' : 'served')));
    for (const [i, h] of home.entries()) if (h === 1) expect(after[i]).toBeGreaterThan(0);

    // The clients that lost their connection reconnect through the balancer: the surviving replica serves them.
    for (let i = 0; i < 3; i++) {
      const c = await RawLdapClient.connect(url, CLIENT);
      expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
      expect((await c.search(AVVID)).code).toBe(0);
      await expect.poll(() => operationsOf(replicas[1], c.localPort).map((l) => l.op)).toEqual(['bind', 'search']);
      c.close();
    }
  });
});
