// Canopy against baselines in one run, over the same two slapd forests: slapd itself (direct),
// and OpenLDAP's own proxies back-meta and back-asyncmeta (bench/baselines.ts). Workloads: binds
// on kept connections, binds on fresh connections, uncached and cached lookups, a DirSync-style
// paged sync, and RSS/descriptors over many logins. See bench/README.md.
// Run: npm run bench [-- --only rebind,paged-sync] [-- --users 2000]   (or ./dev bench …)
// Each option also reads an environment variable: BENCH_USERS, BENCH_SECONDS, BENCH_ONLY, BENCH_LOGINS.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SERVICE_ACCOUNT, SERVICE_PASSWORD, USER_PASSWORD } from '../dist/tools/fixture-generator.js';
import { startSlapd, type SlapdServer } from '../test/support/slapd.ts';
import { startProxy } from './baselines.ts';
import {
  bindOp,
  freshBinds,
  median,
  numberFlag,
  pagedRead,
  pin,
  pipelined,
  printTable,
  readForest,
  searchOp,
  startCanopy,
  watch,
  writeForest,
  type Canopy,
  type Figures,
  type Footprint,
  type Person,
} from './load.ts';

const WORKLOADS = ['rebind', 'fresh-bind', 'uncached-lookup', 'cached-lookup', 'paged-sync', 'logins'] as const;
type Workload = (typeof WORKLOADS)[number];

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: process.env.BENCH_USERS ?? '20000' },
    seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '5' },
    // Each timed run follows an untimed run of the same workload against the same server: a server
    // measured while it still compiles its code path (Canopy's JIT, the first seconds of a workload
    // it has not done yet) or fills its caches shows its start, not what it does all day. Ten seconds:
    // after three, Canopy's CPU per lookup was still a third above its steady state (V8 still compiling).
    warmup: { type: 'string', default: process.env.BENCH_WARMUP ?? '10' },
    // Where the forests run: `own`, the server under test alone on core 0 and each forest on a core of its own
    // (as the issues measured; direct slapd is the forests themselves, on core 0); `shared`, the forests on
    // core 0 beside the server under test, so what a proxy's requests cost them counts against it. By default
    // `own` where the machine has the four cores it takes, else `shared`.
    layout: { type: 'string', default: process.env.BENCH_LAYOUT ?? (availableParallelism() >= 4 ? 'own' : 'shared') },
    // Timed syncs per server (after the warm-up's): the rate shown is their median.
    syncs: { type: 'string', default: process.env.BENCH_SYNCS ?? '3' },
    // Timed runs per server of the rate workloads, the servers taking turns (each warmed up before its
    // first): a machine whose speed drifts over minutes then slows every server alike, and the ratios
    // shown are the medians of each round's (a run of one server against one of another a minute later
    // moved the ratios by a third on this project's VM).
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '1' },
    only: { type: 'string', default: process.env.BENCH_ONLY ?? WORKLOADS.join(',') },
    // Default: 5 per user (100,000 for two forests of 10,000 and more), so a small forest gives a quick run.
    logins: { type: 'string', default: process.env.BENCH_LOGINS },
    // Searches: connections × requests in flight on each. Binds: that many connections, one bind in flight each.
    connections: { type: 'string', default: '4' },
    depth: { type: 'string', default: '8' },
    hot: { type: 'string', default: '1000' },
    page: { type: 'string', default: '500' },
    // Canopy's forests' bindResolution: `native` is the path of an Active Directory forest (a DN login is
    // one upstream bind, no lookup). These slapd forests do not refuse disabled accounts themselves, which
    // `native` leaves to the forest; the bind workloads bind enabled users only.
    'bind-resolution': { type: 'string', default: process.env.BENCH_BIND_RESOLUTION ?? 'search' },
    // Canopy's access log (a line per operation, on by default): `off` measures what it costs.
    'access-log': { type: 'string', default: process.env.BENCH_ACCESS_LOG ?? 'on' },
  },
});
const users = numberFlag('users', values.users);
const seconds = numberFlag('seconds', values.seconds, true);
const warmup = numberFlag('warmup', values.warmup, true);
const syncs = numberFlag('syncs', values.syncs);
const rounds = numberFlag('rounds', values.rounds);
const logins = values.logins === undefined ? Math.min(100_000, 5 * users) : numberFlag('logins', values.logins);
const connections = numberFlag('connections', values.connections);
const depth = numberFlag('depth', values.depth);
const hot = numberFlag('hot', values.hot);
const pageSize = numberFlag('page', values.page);
const only = values.only.split(',').map((w) => w.trim());
const bindResolution = values['bind-resolution'];
if (values['access-log'] !== 'on' && values['access-log'] !== 'off') {
  console.error(`--access-log: "${values['access-log']}" is neither on nor off`);
  process.exit(2);
}
const accessLog = values['access-log'] === 'on';
const layout = values.layout;
if (layout !== 'own' && layout !== 'shared') {
  console.error(`--layout: "${layout}" is neither own nor shared`);
  process.exit(2);
}
// Under `own`, forest i on core 1 + i and the load generator on the next, as far as the machine has
// cores (on two, the forests and the load generator share core 1).
const ownCores = Math.max(availableParallelism() - 1, 1);
const forestCore = (i: number): number => (layout === 'own' ? 1 + (i % Math.max(ownCores - 1, 1)) : 0);
const LOAD_CORE = layout === 'own' ? Math.min(1 + Math.max(ownCores - 1, 1), availableParallelism() - 1) : 1;
if (bindResolution !== 'search' && bindResolution !== 'native') {
  console.error(`--bind-resolution: "${bindResolution}" is neither search nor native`);
  process.exit(2);
}
for (const w of only) {
  if (!(WORKLOADS as readonly string[]).includes(w)) {
    console.error(`--only: unknown workload "${w}"; known: ${WORKLOADS.join(', ')}`);
    process.exit(2);
  }
}
const runs = (w: Workload) => only.includes(w);
const clients = connections * depth;

const SUFFIX = 'dc=corp,dc=example';
// Cisco Unified CM's DirSync filter: users, not computers, not disabled.
const SYNC_FILTER = '(&(objectclass=user)(!(objectclass=Computer))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))';
const SYNC_ATTRIBUTES = ['sAMAccountName', 'userPrincipalName', 'mail', 'givenName', 'sn', 'telephoneNumber', 'department', 'title', 'manager', 'objectGUID'];
const LOOKUP_ATTRIBUTES = ['cn', 'mail', 'userPrincipalName', 'telephoneNumber'];

interface Forest {
  readonly name: string;
  readonly base: string;
  readonly mount: string;
  readonly seed: number;
}
const FORESTS: readonly Forest[] = [
  { name: 'avvid', base: 'DC=avvid,DC=info', mount: `ou=avvid,${SUFFIX}`, seed: 1 },
  { name: 'vse', base: 'DC=vse,DC=lab', mount: `ou=vse,${SUFFIX}`, seed: 2 },
];
const serviceDn = (base: string) => `CN=${SERVICE_ACCOUNT},OU=ServiceAccounts,${base}`;

/** Where a connection goes and how it names things there: one per forest for direct slapd, one for a proxy. */
interface Endpoint {
  readonly port: number;
  readonly base: string;
  /** The service account's DN as this endpoint names it. */
  readonly serviceDn: string;
  /** People (DNs as this endpoint names them) and the enabled ones, who can bind. */
  readonly people: readonly Person[];
  readonly enabled: readonly Person[];
  /** The people hot lookups name: the first `--hot` of each forest this endpoint serves. */
  readonly hot: readonly Person[];
}

/** A server under test: its processes, and its endpoints (connection c uses endpoints[c % length]). */
interface Server {
  readonly name: string;
  readonly pids: () => number[];
  readonly endpoints: readonly Endpoint[];
}

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-compare-'));
const stops: (() => Promise<void>)[] = [];
try {
  const t0 = performance.now();
  const slapds: SlapdServer[] = [];
  const people: Person[][] = [];
  let expectedSync = 0;
  for (const f of FORESTS) {
    const ldif = join(dir, `${f.name}.ldif`);
    writeForest(ldif, { users, suffix: f.base, seed: f.seed });
    const forest = readForest(ldif);
    people.push(forest.people);
    expectedSync += forest.synced;
    // The service account reads without slapd's default size limit (500), as an AD service
    // account reads past MaxPageSize by paging: the proxies do not pass paging on (README).
    const slapd = await startSlapd({ suffix: f.base, ldif: [ldif], extraConfig: `limits dn.exact="${serviceDn(f.base)}" size=unlimited` });
    stops.push(() => slapd.stop());
    slapds.push(slapd);
  }
  console.log(`two forests of ${users} users generated and loaded into slapd in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const proxied = FORESTS.map((f, i) => ({ url: slapds[i].url, base: f.base, mount: f.mount, bind: { dn: serviceDn(f.base), password: SERVICE_PASSWORD } }));
  const meta = await startProxy('meta', SUFFIX, proxied);
  stops.push(() => meta.stop());
  const asyncmeta = await startProxy('asyncmeta', SUFFIX, proxied);
  stops.push(() => asyncmeta.stop());
  const canopyForests = FORESTS.map(
    (f, i) => `  - name: ${f.name}
    backend: ldap
    base: "${f.base}"
    mount: "${f.mount}"
    servers: ["${slapds[i].url}"]
    bind: { dn: "${serviceDn(f.base)}", password: "${SERVICE_PASSWORD}" }
    bindResolution: ${bindResolution}`,
  );
  // One process, as each slapd proxy is: its pid is pinned and its CPU and memory measured (serve.workers is auto by default).
  const canopySettings = (cache: boolean) => `cache: { enabled: ${cache} }
serve: { workers: 1 }
namespace: { suffix: "${SUFFIX}" }
access:
  - { who: authenticated, what: { dn: "${SUFFIX}", scope: subtree }, allow: read }
forests:
${canopyForests.join('\n')}
`;
  const canopy: Canopy = await startCanopy(join(dir, 'canopy.yaml'), canopySettings(true), accessLog);
  stops.push(() => canopy.stop());
  const canopyUncached: Canopy = await startCanopy(join(dir, 'canopy-uncached.yaml'), canopySettings(false), accessLog);
  stops.push(() => canopyUncached.stop());

  // Every server under test on core 0, the load generator on its own; the forests where --layout puts them (placeForests).
  const pinned = [...slapds.map((s) => s.pid!), meta.pid!, asyncmeta.pid!, canopy.pid, canopyUncached.pid].every((pid) => pin(pid, 0)) && pin(process.pid, LOAD_CORE);

  const remount = (p: Person, f: Forest): Person => ({ ...p, dn: p.dn.slice(0, p.dn.length - f.base.length) + f.mount });
  const virtualPeople = FORESTS.map((f, i) => people[i].map((p) => remount(p, f)));
  const endpoint = (port: number, base: string, service: string, forests: readonly (readonly Person[])[]): Endpoint => ({
    port,
    base,
    serviceDn: service,
    people: forests.flat(),
    enabled: forests.flat().filter((p) => p.enabled),
    hot: forests.flatMap((list) => list.slice(0, hot)),
  });
  const virtual = (port: number) => endpoint(port, SUFFIX, serviceDn(FORESTS[0].mount), virtualPeople);
  const direct: Server = {
    name: 'direct slapd',
    pids: () => slapds.map((s) => s.pid!),
    endpoints: FORESTS.map((f, i) => endpoint(slapds[i].port, f.base, serviceDn(f.base), [people[i]])),
  };
  const servers: Server[] = [
    direct,
    { name: 'back-meta', pids: () => [meta.pid!], endpoints: [virtual(meta.port)] },
    { name: 'back-asyncmeta', pids: () => [asyncmeta.pid!], endpoints: [virtual(asyncmeta.port)] },
    { name: 'Canopy', pids: () => [canopy.pid], endpoints: [virtual(canopy.port)] },
  ];
  const uncachedCanopy: Server = { name: 'Canopy', pids: () => [canopyUncached.pid], endpoints: [virtual(canopyUncached.port)] };
  /** Pins the forests for a run against `s`: on core 0 when they are the server under test, else where the layout puts them. */
  const placeForests = (s: Server) => {
    slapds.forEach((slapd, i) => pin(slapd.pid!, s === direct ? 0 : forestCore(i)));
  };

  const at = (s: Server, c: number) => s.endpoints[c % s.endpoints.length];
  const random = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)];
  const serviceBind = (e: Endpoint) => bindOp(e.serviceDn, SERVICE_PASSWORD);
  // Each distinct lookup is encoded once, so the load generator's core stays idle enough.
  const lookups = new Map<string, Buffer>();
  const lookup = (e: Endpoint, p: Person) => {
    const key = `${e.base}\n${p.sam}`;
    let op = lookups.get(key);
    if (!op) lookups.set(key, (op = searchOp(e.base, `(sAMAccountName=${p.sam})`, LOOKUP_ATTRIBUTES)));
    return op;
  };
  const searchLoad = { seconds, connections, depth };
  /**
   * The workload `load` once untimed (unless --warmup is 0 and `mustWarm` false), then timed. A later
   * round (`again`) runs timed at once: the server is warm from its first (`mustWarm` warms it again).
   */
  const warmedUp = async (s: Server, again: boolean, load: (timed: boolean) => Promise<Figures>, mustWarm = false): Promise<Row> => {
    if ((warmup > 0 && !again) || mustWarm) await load(false);
    return measured(s, () => load(true));
  };
  const runSeconds = (timed: boolean) => (timed ? seconds : warmup);

  /** One measured run against one server, with its footprint. */
  interface Row extends Figures {
    readonly footprint: Footprint;
    /** Operations (entries, for the sync) the run timed, which its CPU is divided by. */
    readonly operations: number;
    /** CPU the forests' slapds used during the run (a proxy's upstream work); 0 for direct slapd, whose figure is its own. */
    readonly forestsCpuMs: number;
    /** Seconds the run took. */
    readonly seconds: number;
    readonly note?: string;
  }
  const measured = async (s: Server, run: () => Promise<Figures & { note?: string; operations?: number }>): Promise<Row> => {
    const watcher = watch(s.pids());
    const forests = s === direct ? undefined : watch(slapds.map((d) => d.pid!));
    const started = performance.now();
    const figures = await run().catch((error: unknown) => {
      watcher.abandon(); // the server may be gone: stop sampling without reading /proc again
      forests?.abandon();
      throw error;
    });
    const elapsed = (performance.now() - started) / 1000;
    const operations = figures.operations ?? figures.rate * elapsed;
    return { ...figures, operations, footprint: watcher.stop(), forestsCpuMs: forests?.stop().cpuMs ?? 0, seconds: elapsed };
  };

  /** `rounds`: whether the workload is timed in rounds (a rate); `again`: a run after the server's first. */
  const workloads: Record<Workload, { title: string; unit: string; rounds?: true; run: (s: Server, again: boolean) => Promise<Row> }> = {
    rebind: {
      title: `binds, kept connections (${clients} connections)`,
      unit: 'binds/s',
      rounds: true,
      run: (s, again) =>
        warmedUp(s, again, (timed) =>
          pipelined(s.name, { seconds: runSeconds(timed), connections: clients, depth: 1 }, (c) => ({ port: at(s, c).port, next: () => bindOp(random(at(s, c).enabled).dn, USER_PASSWORD) })),
        ),
    },
    'fresh-bind': {
      title: `binds, a fresh connection each (${clients} at once)`,
      unit: 'binds/s',
      rounds: true,
      run: (s, again) =>
        warmedUp(s, again, (timed) =>
          freshBinds(s.name, { seconds: runSeconds(timed), concurrency: clients }, (c) => at(s, c).port, (c) => bindOp(random(at(s, c).enabled).dn, USER_PASSWORD)),
        ),
    },
    'uncached-lookup': {
      title: `lookups (sAMAccountName=X), X random of ${2 * users}, Canopy's cache off`,
      unit: 'ops/s',
      rounds: true,
      run: (s, again) => {
        const server = s.name === 'Canopy' ? uncachedCanopy : s;
        return warmedUp(server, again, (timed) =>
          pipelined(s.name, { ...searchLoad, seconds: runSeconds(timed) }, (c) => {
            const e = at(server, c);
            return { port: e.port, setup: [serviceBind(e)], next: () => lookup(e, random(e.people)) };
          }),
        );
      },
    },
    'cached-lookup': {
      title: `hot lookups (sAMAccountName=X), X one of ${hot} per forest, Canopy's cache on`,
      unit: 'ops/s',
      rounds: true,
      // The warm-up also fills Canopy's cache (at least 2 s of it, whatever --warmup says).
      run: (s, again) =>
        warmedUp(s, again, (timed) =>
          pipelined(s.name, { ...searchLoad, seconds: timed ? seconds : Math.max(warmup, 2) }, (c) => {
            const e = at(s, c);
            return { port: e.port, setup: [serviceBind(e)], next: (n) => lookup(e, e.hot[(n * 7919) % e.hot.length]) };
          }),
          true,
        ),
    },
    'paged-sync': {
      title: `paged sync, pages of ${pageSize}, Cisco's filter, ${expectedSync} entries`,
      unit: 'entries/s',
      run: async (s) => {
        // Canopy syncs in a process of its own, so its peak RSS is the sync's, not what earlier workloads left.
        const fresh = s.name === 'Canopy' ? await startCanopy(join(dir, 'canopy-sync.yaml'), canopySettings(true), accessLog) : undefined;
        try {
          const server: Server = fresh ? { name: s.name, pids: () => [fresh.pid], endpoints: [virtual(fresh.port)] } : s;
          if (fresh) pin(fresh.pid, 0);
          // Direct: both forests at once, one connection each; a proxy: one search over the tree.
          const sync = () => Promise.all(server.endpoints.map((e) => pagedRead(e.port, serviceBind(e), searchOp(e.base, SYNC_FILTER, SYNC_ATTRIBUTES), pageSize)));
          // Untimed syncs for the warm-up's seconds (one at least) warm slapd's caches and the JIT, so every server reads the same way.
          const warmUntil = performance.now() + warmup * 1000;
          do await sync();
          while (performance.now() < warmUntil);
          return await measured(server, async () => {
            const timed: { seconds: number; entries: number; pages: number }[] = [];
            for (let i = 0; i < syncs; i++) {
              const started = performance.now();
              const reads = await sync();
              const entries = reads.reduce((n, r) => n + r.entries, 0);
              timed.push({ seconds: (performance.now() - started) / 1000, entries, pages: reads.reduce((n, r) => n + r.pages, 0) });
            }
            const incomplete = timed.find((t) => t.entries !== expectedSync);
            const complete = incomplete ? `INCOMPLETE: ${incomplete.entries} of ${expectedSync}` : 'complete';
            const bySpeed = timed.map((t) => t.seconds).sort((a, b) => a - b);
            const middle = median(bySpeed);
            const spread = bySpeed.length > 1 ? ` (${bySpeed[0].toFixed(2)}–${bySpeed[bySpeed.length - 1].toFixed(2)} s)` : '';
            return {
              name: s.name,
              rate: (incomplete?.entries ?? expectedSync) / middle,
              p50: middle * 1000,
              p99: bySpeed[bySpeed.length - 1] * 1000,
              operations: timed.reduce((n, t) => n + t.entries, 0),
              note: `${complete}, ${timed[0].pages} pages, median of ${syncs} syncs ${middle.toFixed(2)} s${spread}`,
            };
          });
        } finally {
          await fresh?.stop();
        }
      },
    },
    logins: {
      title: `${logins} logins (re-binds on ${clients} kept connections): footprint before, after the first tenth, after all (the rate: the last nine tenths)`,
      unit: 'binds/s',
      run: async (s) => {
        const loginLoad = (requests: number) =>
          pipelined(s.name, { seconds: Infinity, connections: clients, depth: 1, requests }, (c) => ({
            port: at(s, c).port,
            next: () => bindOp(random(at(s, c).enabled).dn, USER_PASSWORD),
          }));
        const before = watch(s.pids()).stop();
        // Flat means the last nine tenths add nothing to what the first tenth reached (a process's working set, JIT and heap).
        const first = Math.ceil(logins / 10);
        await loginLoad(first);
        const early = watch(s.pids()).stop();
        const row = await measured(s, () => loginLoad(logins - first));
        const after = row.footprint;
        const mib = (kib: number) => (kib / 1024).toFixed(0);
        const note =
          `RSS ${mib(before.rssKiB)} → ${mib(early.rssKiB)} → ${mib(after.rssKiB)} MiB (peak ${mib(after.peakRssKiB)}),` +
          ` fds ${before.fds} → ${early.fds} → ${after.fds} (peak ${after.peakFds})`;
        return { ...row, note };
      },
    },
  };

  // A server failing a workload (an error result, a dropped connection) gets a note instead of a figure.
  // Per workload, each server's runs, one per round (a server that failed is not run again).
  const runsOf = new Map<Workload, (Row | Error)[][]>();
  for (const w of WORKLOADS.filter(runs)) {
    const tried: (Row | Error)[][] = servers.map(() => []);
    for (let round = 0; round < (workloads[w].rounds ? rounds : 1); round++) {
      for (const [i, s] of servers.entries()) {
        if (tried[i].some((r) => r instanceof Error)) continue;
        placeForests(s);
        const row = await workloads[w].run(s, round > 0).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
        tried[i].push(row);
        process.stderr.write(`${w}: ${s.name} ${row instanceof Error ? `failed: ${row.message}` : `${row.rate.toFixed(0)} ${workloads[w].unit}`}\n`);
      }
    }
    runsOf.set(w, tried);
  }
  // Each server's run of the median rate (its footprint and CPU with it); a failure wins.
  const medianRun = (tried: readonly (Row | Error)[]): Row | Error => {
    const failed = tried.find((r) => r instanceof Error);
    if (failed) return failed;
    const sorted = (tried as Row[]).slice().sort((a, b) => a.rate - b.rate);
    return sorted[(sorted.length - 1) >> 1];
  };
  const results = new Map([...runsOf].map(([w, tried]) => [w, tried.map(medianRun)]));

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const cell = (r: Row | Error, text: (r: Row) => string) => (r instanceof Error ? 'failed' : text(r));
  /** Canopy's rate ÷ a baseline's: the median of the rounds' ratios (each of two runs a minute apart at most). */
  const ratio = (w: Workload, canopy: number, baseline: number) => {
    const [c, b] = [runsOf.get(w)![canopy], runsOf.get(w)![baseline]];
    if ([...c, ...b].some((r) => r instanceof Error)) return '—';
    return `${median(c.map((r, i) => (r as Row).rate / (b[i] as Row).rate)).toFixed(2)}×`;
  };
  const names = servers.map((s) => s.name);
  console.log(
    `\n2 forests × ${users} users; searches ${connections} connections × ${depth} in flight, binds ${clients} connections, ${seconds} s per run after ${warmup} s of the same untimed;` +
      `${rounds > 1 ? ` rates: the median of ${rounds} rounds, the servers taking turns, and ratios the median of each round's;` : ''}` +
      ` ${!pinned ? 'NOT pinned (no taskset)' : layout === 'own' ? `server under test pinned to core 0, the forests behind a proxy to cores ${[...new Set(slapds.map((_, i) => forestCore(i)))].join(' and ')}, load generator to core ${LOAD_CORE}` : 'servers and forests pinned to core 0, load generator to core 1'}; Canopy logs at info (its default), access log ${accessLog ? 'on' : 'off'}, bindResolution ${bindResolution}\n`,
  );
  printTable(
    ['workload', 'unit', ...names, 'Canopy ÷ direct', 'Canopy ÷ meta', 'Canopy ÷ asyncmeta'],
    [...results].map(([w, rows]) => {
      return [w, workloads[w].unit, ...rows.map((r) => cell(r, (r) => fmt(r.rate))), ratio(w, 3, 0), ratio(w, 3, 1), ratio(w, 3, 2)];
    }),
  );
  if (rounds > 1) {
    console.log('\nrates of each round, in the order run\n');
    printTable(
      ['workload', ...names],
      [...runsOf].map(([w, tried]) => [w, ...tried.map((runs) => runs.map((r) => cell(r, (r) => fmt(r.rate))).join(' / '))]),
    );
  }
  console.log('\nlatency p50 / p99 ms (paged sync: the whole sync)\n');
  printTable(
    ['workload', ...names],
    [...results].map(([w, rows]) => [w, ...rows.map((r) => cell(r, (r) => (w === 'paged-sync' ? r.p50.toFixed(0) : `${r.p50.toFixed(2)} / ${r.p99.toFixed(2)}`)))]),
  );
  console.log('\npeak RSS MiB (VmHWM during the run) / open fds after (peak); direct slapd: both forests summed\n');
  printTable(
    ['workload', ...names],
    [...results].map(([w, rows]) => [w, ...rows.map((r) => cell(r, (r) => `${(r.footprint.peakRssKiB / 1024).toFixed(0)} / ${r.footprint.fds} (${r.footprint.peakFds})`))]),
  );
  // What limits a proxy on one core: its own CPU per operation, and what its upstream requests cost the forests.
  console.log(
    `\nCPU per operation, µs: the server's own + the forests' slapds (${layout === 'shared' ? 'all on one core: their sum bounds the rate' : 'on cores of their own: the larger bounds the rate'})\n`,
  );
  printTable(
    ['workload', ...names],
    [...results].map(([w, rows]) => [
      w,
      ...rows.map((r) =>
        cell(r, (r) => {
          const us = (ms: number) => ((ms * 1000) / r.operations).toFixed(1);
          return r.forestsCpuMs === 0 ? us(r.footprint.cpuMs) : `${us(r.footprint.cpuMs)} + ${us(r.forestsCpuMs)}`;
        }),
      ),
    ]),
  );
  // With a core of its own and the forests on others (the issue's set-up), a server's rate is bounded by its own CPU per operation alone.
  console.log("\nOwn CPU per operation, the baseline's ÷ Canopy's (above 1: Canopy does the operation with less; on cores of their own, the rates' bound)\n");
  const ownUs = (r: Row | Error) => (r instanceof Error ? undefined : r.footprint.cpuMs / r.operations);
  const ownRatio = (baseline: Row | Error, canopy: Row | Error) => {
    const [b, c] = [ownUs(baseline), ownUs(canopy)];
    return b === undefined || c === undefined ? '—' : `${(b / c).toFixed(2)}×`;
  };
  printTable(
    ['workload', 'direct ÷ Canopy', 'meta ÷ Canopy', 'asyncmeta ÷ Canopy'],
    [...results].map(([w, [d, m, a, c]]) => [w, ownRatio(d, c), ownRatio(m, c), ownRatio(a, c)]),
  );
  for (const [w, rows] of results) {
    if (!rows.some((r) => r instanceof Error || r.note)) continue;
    console.log(`\n${workloads[w].title}\n`);
    printTable(
      ['server', workloads[w].unit, 'notes'],
      rows.map((r, i) => (r instanceof Error ? [names[i], 'failed', r.message] : [r.name, fmt(r.rate), r.note ?? ''])),
    );
  }
} finally {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
}
