// Exact-match lookups (an authenticating application's `(sAMAccountName=…)`) per second and their
// latency, in one run: sent to slapd directly, through Canopy without its result cache, and
// through Canopy answering from its cache. Both Canopy servers front the same slapd forest.
// Run: npm run build && node bench/cache-throughput.ts [--users 20000] [--hot 1000] [--seconds 5]
// Needs slapd and ldap-utils (apt-get install -y slapd ldap-utils).
// The servers (slapd, Canopy) are pinned to core 0 when taskset exists, the load generator here
// runs beside them: pipelined pre-encoded requests on a few connections, so it is not the
// bottleneck. Uncached, Canopy and slapd share that core, as each lookup costs both of them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import ldapMessages from '@ldapjs/messages';
import { Client } from 'ldapts';

const { SearchRequest } = ldapMessages;

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '20000' },
    // Distinct accounts looked up, over and over: the working set the cache holds.
    hot: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '4' },
    depth: { type: 'string', default: '16' },
  },
});
const users = Number(values.users);
const hot = Number(values.hot);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const depth = Number(values.depth);
const root = resolve(import.meta.dirname, '..');
const SUFFIX = 'DC=bench,DC=example';
const SERVICE = { dn: `CN=svc-canopy,OU=ServiceAccounts,${SUFFIX}`, password: 'Svc-Canopy-Passw0rd!' };
const ATTRIBUTES = ['cn', 'mail', 'userPrincipalName'];

interface Slapd {
  readonly url: string;
  readonly port: number;
  readonly configFile: string;
  stop(): Promise<void>;
}
// The test suite's slapd harness, loaded at run time (Node strips its types): one way to start slapd.
const { startSlapd } = (await import(new URL('../test/support/slapd.ts', import.meta.url).href)) as {
  startSlapd(options: { suffix: string; ldif: string[] }): Promise<Slapd>;
};

/** Pins a process (all its threads) to core 0, when taskset exists, so figures compare across machines. */
function pin(pid: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-pc', '0', String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The slapd process serving `configFile` (the harness does not expose its pid). */
function slapdPid(configFile: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes('slapd') && cmdline.includes(configFile)) return Number(name);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

async function startCanopy(dir: string, name: string, slapdUrl: string, cache: boolean): Promise<{ port: number; process: ChildProcess }> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `listen: { ldap: "ldap://127.0.0.1:0" }
logging: { level: info }
http: { enabled: false }
cache: { enabled: ${cache} }
forests:
  - name: bench
    backend: ldap
    base: "${SUFFIX}"
    servers: ["${slapdUrl}"]
    bind: { dn: "${SERVICE.dn}", password: "${SERVICE.password}" }
access:
  - { who: "*", what: { dn: "", scope: subtree }, allow: read }
`,
  );
  const child = spawn(process.execPath, [join(root, 'dist/cli.js'), 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((done, fail) => {
    child.once('exit', (code) => fail(new Error(`${name} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('canopy listening')) done(Number(new URL((JSON.parse(line) as { urls: string[] }).urls[0]).port));
    });
  });
  child.stdout!.resume(); // one log line per operation: read and dropped
  return { port, process: child };
}

interface Figures {
  readonly name: string;
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
}

/** Sends requests built by `make(i)` pipelined `depth` deep on each connection for the duration. */
async function measure(name: string, port: number, make: (i: number) => string): Promise<Figures> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let seq = 0;
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((done, fail) => {
          const socket = net.connect(port, '127.0.0.1');
          const sent = new Map<number, number>();
          let id = 0;
          let buffered: Buffer = Buffer.alloc(0);
          const send = () => {
            id = (id % 0x7fffffff) + 1;
            const req = new SearchRequest({ messageId: id, baseObject: SUFFIX, scope: 'subtree', filter: make(seq++), attributes: ATTRIBUTES });
            sent.set(id, performance.now());
            socket.write(req.toBer().buffer);
          };
          socket.on('connect', () => {
            for (let k = 0; k < depth; k++) send();
          });
          socket.on('error', fail);
          socket.on('data', (chunk: Buffer) => {
            buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
            let off = 0;
            for (;;) {
              if (buffered.length - off < 2) break;
              let len = buffered[off + 1];
              let hdr = 2;
              if (len & 0x80) {
                const n = len & 0x7f;
                if (buffered.length - off < 2 + n) break;
                len = 0;
                for (let b = 0; b < n; b++) len = len * 256 + buffered[off + 2 + b];
                hdr += n;
              }
              if (buffered.length - off < hdr + len) break;
              // messageID: INTEGER right after the header; the protocolOp tag follows it.
              const idLen = buffered[off + hdr + 1];
              let msgId = 0;
              for (let b = 0; b < idLen; b++) msgId = msgId * 256 + buffered[off + hdr + 2 + b];
              const op = off + hdr + 2 + idLen;
              if (buffered[op] === 0x65) {
                // SearchResultDone: its resultCode (ENUMERATED, after the op's length) must be success.
                const opLen = buffered[op + 1];
                const code = buffered[op + 2 + (opLen & 0x80 ? opLen & 0x7f : 0) + 2];
                if (code !== 0) fail(new Error(`${name}: a search ended with result code ${code}`));
                latencies.push(performance.now() - sent.get(msgId)!);
                sent.delete(msgId);
                if (performance.now() < deadline) send();
                else if (sent.size === 0) socket.end(done);
              }
              off += hdr + len;
            }
            buffered = buffered.subarray(off);
          });
        }),
    ),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { name, rate: latencies.length / seconds, p50: at(0.5), p99: at(0.99) };
}

/** Checks that a path answers a lookup with the one entry slapd has. */
async function lookup(url: string, account: string): Promise<string[]> {
  const client = new Client({ url });
  try {
    await client.bind(SERVICE.dn, SERVICE.password);
    const { searchEntries } = await client.search(SUFFIX, { filter: `(sAMAccountName=${account})`, attributes: ATTRIBUTES });
    return searchEntries.map((e) => `${e.dn} ${String(e.mail)}`);
  } finally {
    await client.unbind();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-cache-'));
let slapd: Slapd | undefined;
const servers: ChildProcess[] = [];
try {
  const ldif = join(dir, 'forest.ldif');
  execFileSync(process.execPath, [join(root, 'dist/tools/generate-fixtures.js'), '--users', String(users), '--suffix', SUFFIX, '--seed', '7', '--out', ldif]);
  slapd = await startSlapd({ suffix: SUFFIX, ldif: [ldif] });
  const uncached = await startCanopy(dir, 'uncached', slapd.url, false);
  const cached = await startCanopy(dir, 'cached', slapd.url, true);
  servers.push(uncached.process, cached.process);
  const slapdProcess = slapdPid(slapd.configFile);
  const pinned = [slapdProcess, uncached.process.pid, cached.process.pid].every((pid) => pid !== undefined && pin(pid));

  const accounts = [...readFileSync(ldif, 'utf8').matchAll(/^sAMAccountName: (.+)$/gm)].map((m) => m[1]).filter((a) => a !== 'svc-canopy');
  const working = accounts.slice(0, Math.min(hot, accounts.length));
  // Scattered over the working set: consecutive requests name different accounts.
  const byAccount = (i: number) => `(sAMAccountName=${working[(i * 7919) % working.length]})`;
  const expected = await lookup(slapd.url, working[0]);
  for (const port of [uncached.port, cached.port]) {
    const got = await lookup(`ldap://127.0.0.1:${port}`, working[0]);
    if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`Canopy answered ${JSON.stringify(got)}, slapd ${JSON.stringify(expected)}`);
  }

  // Warm up each path's JIT and caches (slapd's entry cache, Canopy's result cache) before measuring.
  for (const port of [slapd.port, uncached.port, cached.port]) await measure('warm-up', port, byAccount);
  const results = [
    await measure('slapd, direct', slapd.port, byAccount),
    await measure('Canopy, cache off', uncached.port, byAccount),
    await measure('Canopy, cached', cached.port, byAccount),
  ];
  const direct = results[0].rate;
  console.log(
    `\n${users} users in slapd, ${working.length} distinct accounts looked up, ${connections} connections × ${depth} pipelined, ${seconds} s each` +
      `${pinned ? ', servers pinned to core 0' : ' (not pinned)'}\n`,
  );
  console.log('path'.padEnd(20), 'req/s'.padStart(10), 'p50 ms'.padStart(9), 'p99 ms'.padStart(9), 'vs slapd'.padStart(10));
  for (const r of results) {
    console.log(r.name.padEnd(20), r.rate.toFixed(0).padStart(10), r.p50.toFixed(2).padStart(9), r.p99.toFixed(2).padStart(9), `${(r.rate / direct).toFixed(2)}×`.padStart(10));
  }
  console.log(`\ncached vs uncached through Canopy: ${(results[2].rate / results[1].rate).toFixed(1)}× the lookups per second`);
} finally {
  for (const s of servers) s.kill('SIGTERM');
  await slapd?.stop();
  rmSync(dir, { recursive: true, force: true });
}
