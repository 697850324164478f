// Cached exact-match lookups per second through Canopy with 1 and with 2 workers (serve.workers),
// each in front of the same slapd forest, one after the other, and the ratio.
// Run: npm run build && node bench/workers.ts [--users 20000] [--hot 1000] [--seconds 5] [--connections 8]
// Needs slapd and ldap-utils (apt-get install -y slapd ldap-utils).
// Nothing is pinned: the workers need the machine's cores. On a 2-core machine the load generator
// (this process) and the primary share those cores with the two workers, so the ratio says how
// much of a second core Canopy can turn into cached lookups while a client is busy beside it,
// not what two idle cores would give; on a machine shared with other work the figures are noisy.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSlapd, type Slapd } from '../test/support/slapd.ts';
import { BENCH_SUFFIX, benchForestSettings, LOAD_OPTIONS, loadFlags, measure, numberFlag, printFigures, startCanopy, writeForest, type Canopy, type Figures } from './load.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '20000' },
    // Distinct accounts looked up, over and over: the working set each worker's cache holds.
    hot: { type: 'string', default: '1000' },
    ...LOAD_OPTIONS,
    // More connections than workers, so that round robin gives each worker its share.
    connections: { type: 'string', default: '8' },
  },
});
const users = numberFlag('users', values.users);
const hot = numberFlag('hot', values.hot);
const flags = loadFlags(values);
const ATTRIBUTES = ['cn', 'mail', 'userPrincipalName'];

function startWorkers(dir: string, workers: number, slapdUrl: string): Promise<Canopy> {
  return startCanopy(
    join(dir, `workers-${workers}.yaml`),
    benchForestSettings(slapdUrl, `serve: { workers: ${workers} }`),
  );
}

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-workers-'));
let slapd: Slapd | undefined;
try {
  const ldif = join(dir, 'forest.ldif');
  writeForest(ldif, { users, suffix: BENCH_SUFFIX, seed: 7 });
  slapd = await startSlapd({ suffix: BENCH_SUFFIX, ldif: [ldif] });
  const accounts = [...readFileSync(ldif, 'utf8').matchAll(/^sAMAccountName: (.+)$/gm)].map((m) => m[1]).filter((a) => a !== 'svc-canopy');
  const working = accounts.slice(0, Math.min(hot, accounts.length));
  const byAccount = (i: number) => `(sAMAccountName=${working[(i * 7919) % working.length]})`;

  const results: Figures[] = [];
  for (const workers of [1, 2]) {
    const canopy = await startWorkers(dir, workers, slapd.url);
    try {
      const load = { port: canopy.port, base: BENCH_SUFFIX, attributes: ATTRIBUTES, ...flags };
      // Fills every worker's cache (each keeps its own) and warms the JIT before measuring.
      await measure('warm-up', load, byAccount);
      results.push(await measure(`${workers} worker${workers > 1 ? 's' : ''}`, load, byAccount));
    } finally {
      await canopy.stop();
    }
  }
  console.log(
    `\n${users} users in slapd, ${working.length} distinct accounts looked up (cached), ${flags.connections} connections × ${flags.depth} pipelined, ` +
      `${flags.seconds} s each, ${availableParallelism()} cores shared by Canopy, slapd and this load generator\n`,
  );
  printFigures('serve.workers', results, 'vs 1 worker');
  console.log(`\n2 workers vs 1: ${(results[1].rate / results[0].rate).toFixed(2)}× the cached lookups per second`);
} finally {
  await slapd?.stop();
  rmSync(dir, { recursive: true, force: true });
}
