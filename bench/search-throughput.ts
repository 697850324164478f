// Exact-match searches per second and latency through the server, over a generated forest.
// Run: ./dev bench   (or: npm run bench -- --users 20000 --seconds 5)
// The server runs in its own process (one core), the load generator here (the other core):
// pipelined pre-encoded requests on a few connections, so the client is not the bottleneck.
// The server logs at its default level (info: one line per operation), as in production.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import ldapMessages from '@ldapjs/messages';

const { SearchRequest } = ldapMessages;

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '4' },
    depth: { type: 'string', default: '16' },
  },
});
const users = Number(values.users);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const depth = Number(values.depth);
const root = resolve(import.meta.dirname, '..');
const suffix = 'DC=bench,DC=example';

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-'));
const ldif = join(dir, 'forest.ldif');
execFileSync(process.execPath, [join(root, 'dist/tools/generate-fixtures.js'), '--users', String(users), '--suffix', suffix, '--seed', '7', '--out', ldif]);
writeFileSync(
  join(dir, 'canopy.yaml'),
  `listen: { ldap: "ldap://127.0.0.1:0" }\nlogging: { level: info }\nforests:\n  - { name: bench, backend: memory, base: "${suffix}", ldif: ["${ldif}"] }\naccess:\n  - { who: "*", what: { dn: "", scope: subtree }, allow: read }\n`,
);

const server = spawn(process.execPath, [join(root, 'dist/cli.js'), 'serve', '--config', join(dir, 'canopy.yaml')], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((done, fail) => {
  server.once('exit', (code) => fail(new Error(`server exited with ${code}`)));
  createInterface({ input: server.stdout! }).on('line', (line) => {
    if (line.includes('canopy listening')) done(Number(new URL((JSON.parse(line) as { urls: string[] }).urls[0]).port));
  });
});
// Pin the server to one core when taskset exists, so figures compare across machines.
try {
  execFileSync('taskset', ['-pc', '0', String(server.pid)], { stdio: 'ignore' });
} catch {
  /* not pinned */
}

/** Sends requests built by `make(i)` pipelined `depth` deep on each connection for the duration. */
async function measure(name: string, make: (i: number) => string): Promise<{ name: string; rate: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let seq = 0;
  await Promise.all(
    Array.from({ length: connections }, () =>
      new Promise<void>((done, fail) => {
        const socket = net.connect(port, '127.0.0.1');
        const sent = new Map<number, number>();
        let id = 0;
        let buffered: Buffer = Buffer.alloc(0);
        const send = () => {
          id = (id % 0x7fffffff) + 1;
          const filter = make(seq++);
          const req = new SearchRequest({ messageId: id, baseObject: suffix, scope: 'subtree', filter, attributes: ['cn', 'mail'] });
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
            const opTag = buffered[off + hdr + 2 + idLen];
            if (opTag === 0x65) {
              const t0 = sent.get(msgId)!;
              sent.delete(msgId);
              latencies.push(performance.now() - t0);
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

// Look up real accounts of the generated forest, in a scattered order.
const ldifText = readFileSync(ldif, 'utf8');
const accounts = [...ldifText.matchAll(/^sAMAccountName: (.+)$/gm)].map((m) => m[1]);
const names = [...ldifText.matchAll(/^cn: (.{6,})$/gm)].map((m) => m[1].slice(0, -2));
const pick = <T>(list: T[], i: number) => list[(i * 7919) % list.length];
try {
  // Warm up the server's JIT before measuring.
  await measure('warm-up', () => '(objectClass=organizationalUnit)');
  const results = [
    // Baseline: an attribute with no index, so every search scans the whole forest.
    await measure('unindexed scan (baseline)', (i) => `(description=no such value ${i})`),
    await measure('indexed exact match', (i) => `(sAMAccountName=${pick(accounts, i)})`),
    await measure('exact match, AND of two', (i) => `(&(objectClass=user)(sAMAccountName=${pick(accounts, i)}))`),
    await measure('indexed prefix (cn=Name Surna*)', (i) => `(&(objectClass=user)(cn=${pick(names, i)}*))`),
  ];
  const baseline = results[0].rate;
  console.log(`\n${users} users, ${connections} connections × ${depth} pipelined, ${seconds} s each, server on one core\n`);
  console.log('search'.padEnd(28), 'req/s'.padStart(10), 'p50 ms'.padStart(9), 'p99 ms'.padStart(9), 'vs baseline'.padStart(12));
  for (const r of results) {
    console.log(
      r.name.padEnd(28),
      r.rate.toFixed(0).padStart(10),
      r.p50.toFixed(2).padStart(9),
      r.p99.toFixed(2).padStart(9),
      `${(r.rate / baseline).toFixed(1)}×`.padStart(12),
    );
  }
} finally {
  server.kill('SIGTERM');
}
