// The mock directory against slapd on the same data: `canopy mock FILE` and slapd (back-mdb)
// loaded with the same generated AD-like LDIF, each pinned to core 0 (the load generator to core 1),
// measured one after the other in one run: uncached lookups (sAMAccountName=X) for random X and
// simple binds of random enabled users, with each server's RSS after loading and its peak.
// Run after a build: node bench/mock-throughput.ts [--users 20000] [--seconds 5] [--connections 4] [--depth 8]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { USER_PASSWORD } from '../dist/tools/fixture-generator.js';
import { startSlapd } from '../test/support/slapd.ts';
import { bindOp, numberFlag, pin, pipelined, printTable, readForest, searchOp, startMock, statusKiB, watch, writeForest, type Figures, type Person } from './load.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: process.env.BENCH_USERS ?? '20000' },
    seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '5' },
    connections: { type: 'string', default: '4' },
    depth: { type: 'string', default: '8' },
  },
});
const users = numberFlag('users', values.users);
const seconds = numberFlag('seconds', values.seconds, true);
const connections = numberFlag('connections', values.connections);
const depth = numberFlag('depth', values.depth);
const binders = connections * depth;

const SUFFIX = 'DC=bench,DC=test';
// Both servers' administrator (slapd's root DN, the mock's --admin-dn): searches run as it on both.
const ADMIN_DN = `CN=admin,${SUFFIX}`;
const ADMIN_PASSWORD = 'bench-secret';
const LOOKUP_ATTRIBUTES = ['cn', 'mail', 'userPrincipalName', 'telephoneNumber'];

interface Server {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** Seconds from start to serving, RSS once serving and the peak while loading, in KiB. */
  readonly loadSeconds: number;
  readonly rssKiB: number;
  readonly peakKiB: number;
}

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-mock-'));
const stops: (() => Promise<void>)[] = [];
try {
  const file = join(dir, 'forest.ldif');
  writeForest(file, { users, suffix: SUFFIX, seed: 1 });
  const { people } = readForest(file);
  const enabled = people.filter((p) => p.enabled);

  let started = performance.now();
  const slapd = await startSlapd({ suffix: SUFFIX, ldif: [file], rootDn: ADMIN_DN, rootPassword: ADMIN_PASSWORD });
  stops.push(() => slapd.stop());
  // slapd's load is slapadd before the server starts: its time, not the server's RSS, is the load.
  const slapdServer: Server = {
    name: 'slapd (mdb)',
    port: slapd.port,
    pid: slapd.pid!,
    loadSeconds: (performance.now() - started) / 1000,
    rssKiB: statusKiB(slapd.pid!, 'VmRSS'),
    peakKiB: statusKiB(slapd.pid!, 'VmHWM'),
  };
  started = performance.now();
  const mock = await startMock(file, ADMIN_DN, ADMIN_PASSWORD);
  stops.push(() => mock.stop());
  const mockServer: Server = {
    name: 'canopy mock',
    port: mock.port,
    pid: mock.pid,
    loadSeconds: mock.startMs / 1000,
    rssKiB: statusKiB(mock.pid, 'VmRSS'),
    peakKiB: statusKiB(mock.pid, 'VmHWM'),
  };
  if (mock.entries < people.length) throw new Error(`canopy mock loaded ${mock.entries} entries, fewer than the ${people.length} people`);
  const servers = [slapdServer, mockServer];
  const pinned = servers.every((s) => pin(s.pid, 0)) && pin(process.pid, 1);

  const random = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)];
  // Each distinct request is encoded once, so the load generator's core stays idle enough.
  const lookups = new Map<string, Buffer>();
  const lookup = (p: Person) => {
    let op = lookups.get(p.sam);
    if (!op) lookups.set(p.sam, (op = searchOp(SUFFIX, `(sAMAccountName=${p.sam})`, LOOKUP_ATTRIBUTES)));
    return op;
  };
  const admin = bindOp(ADMIN_DN, ADMIN_PASSWORD);
  const workloads = {
    lookups: {
      title: `lookups (sAMAccountName=X), X random of ${people.length}, ${connections} connections × ${depth} in flight, as the administrator`,
      unit: 'ops/s',
      run: (s: Server) => pipelined(s.name, { seconds, connections, depth }, () => ({ port: s.port, setup: [admin], next: () => lookup(random(people)) })),
    },
    binds: {
      title: `simple binds of random enabled users, ${binders} kept connections, one bind in flight each`,
      unit: 'binds/s',
      run: (s: Server) => pipelined(s.name, { seconds, connections: binders, depth: 1 }, () => ({ port: s.port, next: () => bindOp(random(enabled).dn, USER_PASSWORD) })),
    },
  };

  // A warm-up each: JIT, slapd's entry cache.
  for (const s of servers) await workloads.lookups.run({ ...s, name: 'warm-up' });

  const rows: string[][] = [];
  const peaks = new Map<string, number>();
  for (const [name, w] of Object.entries(workloads)) {
    const figures: Figures[] = [];
    for (const s of servers) {
      const watcher = watch([s.pid]);
      figures.push(await w.run(s));
      const footprint = watcher.stop();
      peaks.set(s.name, Math.max(peaks.get(s.name) ?? 0, footprint.peakRssKiB));
      process.stderr.write(`${name}: ${s.name} ${figures.at(-1)!.rate.toFixed(0)} ${w.unit}\n`);
    }
    const [base, mine] = figures;
    rows.push([name, w.unit, ...figures.map((f) => Math.round(f.rate).toLocaleString('en-US')), `${(mine.rate / base.rate).toFixed(2)}×`, ...figures.map((f) => `${f.p50.toFixed(2)} / ${f.p99.toFixed(2)}`)]);
  }

  const mib = (kib: number) => (kib / 1024).toFixed(0);
  console.log(
    `\n${users} people (${mock.entries} entries, ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB of LDIF); ${seconds} s per run;` +
      ` ${pinned ? 'servers pinned to core 0, load generator to core 1' : 'NOT pinned (no taskset)'}\n`,
  );
  for (const w of Object.values(workloads)) console.log(`  ${w.title}`);
  console.log('');
  printTable(['workload', 'unit', ...servers.map((s) => s.name), 'mock ÷ slapd', ...servers.map((s) => `${s.name} p50 / p99 ms`)], rows);
  console.log('\nfootprint: RSS once serving, peak RSS while loading (VmHWM), peak RSS during the workloads\n');
  printTable(
    ['server', 'load s', 'RSS MiB', 'load peak MiB', 'workload peak MiB'],
    servers.map((s) => [s.name, s.loadSeconds.toFixed(1), mib(s.rssKiB), mib(s.peakKiB), mib(peaks.get(s.name) ?? 0)]),
  );
} finally {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
}
