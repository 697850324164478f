// Exact-match lookups (an authenticating application's `(sAMAccountName=…)`) per second and their
// latency, in one run: sent to slapd directly, through Canopy without its result cache, and
// through Canopy answering from its cache. Both Canopy servers front the same slapd forest.
// Run: npm run build && node bench/cache-throughput.ts [--users 20000] [--hot 1000] [--seconds 5]
// Needs slapd and ldap-utils (apt-get install -y slapd ldap-utils).
// The servers (slapd, Canopy) are pinned to core 0 when taskset exists, the load generator here
// runs beside them: pipelined requests on a few connections, so it is not the bottleneck.
// Uncached, Canopy and slapd share that core, as each lookup costs both of them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'ldapts';
import { startSlapd, type Slapd } from '../test/support/slapd.ts';
import { BENCH_SERVICE, BENCH_SUFFIX, benchForestSettings, LOAD_OPTIONS, loadFlags, measure, numberFlag, pin, printFigures, startCanopy, writeForest, type Canopy } from './load.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '20000' },
    // Distinct accounts looked up, over and over: the working set the cache holds.
    hot: { type: 'string', default: '1000' },
    ...LOAD_OPTIONS,
  },
});
const users = numberFlag('users', values.users);
const hot = numberFlag('hot', values.hot);
const flags = loadFlags(values);
const ATTRIBUTES = ['cn', 'mail', 'userPrincipalName'];

/** Canopy in front of slapd, with its result cache on or off. */
function startProxy(dir: string, name: string, slapdUrl: string, cache: boolean): Promise<Canopy> {
  return startCanopy(
    join(dir, `${name}.yaml`),
    // One process (serve.workers is auto by default): one result cache, on the core the servers are pinned to.
    benchForestSettings(slapdUrl, `cache: { enabled: ${cache} }\nserve: { workers: 1 }`),
  );
}

/** Checks that a path answers a lookup with the one entry slapd has. */
async function lookup(url: string, account: string): Promise<string[]> {
  const client = new Client({ url });
  try {
    await client.bind(BENCH_SERVICE.dn, BENCH_SERVICE.password);
    const { searchEntries } = await client.search(BENCH_SUFFIX, { filter: `(sAMAccountName=${account})`, attributes: ATTRIBUTES });
    return searchEntries.map((e) => `${e.dn} ${String(e.mail)}`);
  } finally {
    await client.unbind();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-cache-'));
let slapd: Slapd | undefined;
const servers: Canopy[] = [];
try {
  const ldif = join(dir, 'forest.ldif');
  writeForest(ldif, { users, suffix: BENCH_SUFFIX, seed: 7 });
  slapd = await startSlapd({ suffix: BENCH_SUFFIX, ldif: [ldif] });
  const uncached = await startProxy(dir, 'uncached', slapd.url, false);
  servers.push(uncached);
  const cached = await startProxy(dir, 'cached', slapd.url, true);
  servers.push(cached);
  const pinned = [slapd.pid, uncached.pid, cached.pid].every((pid) => pid !== undefined && pin(pid));

  const accounts = [...readFileSync(ldif, 'utf8').matchAll(/^sAMAccountName: (.+)$/gm)].map((m) => m[1]).filter((a) => a !== 'svc-canopy');
  const working = accounts.slice(0, Math.min(hot, accounts.length));
  // Scattered over the working set: consecutive requests name different accounts.
  const byAccount = (i: number) => `(sAMAccountName=${working[(i * 7919) % working.length]})`;
  const expected = await lookup(slapd.url, working[0]);
  for (const canopy of [uncached, cached]) {
    const got = await lookup(canopy.url, working[0]);
    if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`Canopy answered ${JSON.stringify(got)}, slapd ${JSON.stringify(expected)}`);
  }

  const load = (port: number) => ({ port, base: BENCH_SUFFIX, attributes: ATTRIBUTES, ...flags });
  // Warm up each path's JIT and caches (slapd's entry cache, Canopy's result cache) before measuring.
  for (const port of [slapd.port, uncached.port, cached.port]) await measure('warm-up', load(port), byAccount);
  const results = [
    await measure('slapd, direct', load(slapd.port), byAccount),
    await measure('Canopy, cache off', load(uncached.port), byAccount),
    await measure('Canopy, cached', load(cached.port), byAccount),
  ];
  console.log(
    `\n${users} users in slapd, ${working.length} distinct accounts looked up, ${flags.connections} connections × ${flags.depth} pipelined, ` +
      `${flags.seconds} s each${pinned ? ', servers pinned to core 0' : ' (not pinned)'}\n`,
  );
  printFigures('path', results, 'vs slapd');
  console.log(`\ncached vs uncached through Canopy: ${(results[2].rate / results[1].rate).toFixed(1)}× the lookups per second`);
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  await slapd?.stop();
  rmSync(dir, { recursive: true, force: true });
}
