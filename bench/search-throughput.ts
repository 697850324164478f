// Searches per second and latency through the server over a generated forest in the memory
// backend: its indexes (exact match, AND, prefix) against a search no index serves.
// Run: npm run build && node bench/search-throughput.ts [--users 20000] [--seconds 5]
// With --upstream slapd the forest is served by a slapd (pinned to core 1) through an `ldap`
// forest instead: the same searches then measure Canopy's upstream connections.
// The result cache is off (cache: { enabled: false }), or the exact-match rows would measure
// cache hits instead of the backend: bench/cache-throughput.ts measures the cache.
// The server runs in its own process, pinned to core 0 when taskset exists; the load generator
// here (the other core) sends pipelined requests on a few connections, so it is not the bottleneck.
// The server logs at its default level (info: one line per operation), as in production.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSlapd, type Slapd } from '../test/support/slapd.ts';
import { LOAD_OPTIONS, loadFlags, measure, numberFlag, pin, printFigures, startCanopy, writeForest, type Canopy } from './load.ts';

const { values } = parseArgs({
  options: { users: { type: 'string', default: '20000' }, upstream: { type: 'string', default: 'memory' }, ...LOAD_OPTIONS },
});
if (values.upstream !== 'memory' && values.upstream !== 'slapd') {
  console.error(`--upstream must be memory or slapd, not "${values.upstream}"`);
  process.exit(2);
}
const users = numberFlag('users', values.users);
const flags = loadFlags(values);
const suffix = 'DC=bench,DC=example';

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-'));
let server: Canopy | undefined;
let slapd: Slapd | undefined;
try {
  const ldif = join(dir, 'forest.ldif');
  writeForest(ldif, { users, suffix, seed: 7 });
  let forest = `{ name: bench, backend: memory, base: "${suffix}", ldif: ["${ldif}"] }`;
  if (values.upstream === 'slapd') {
    slapd = await startSlapd({ suffix, ldif: [ldif] });
    const slapdPid = execFileSync('pgrep', ['-n', '-f', `slapd.*${slapd.port}`], { encoding: 'utf8' }).trim();
    execFileSync('taskset', ['-a', '-pc', '1', slapdPid], { stdio: 'ignore' });
    forest = `{ name: bench, backend: ldap, base: "${suffix}", servers: ["${slapd.url}"], bind: { dn: "${slapd.rootDn}", password: "${slapd.rootPassword}" } }`;
  }
  server = await startCanopy(
    join(dir, 'canopy.yaml'),
    `cache: { enabled: false }
forests:
  - ${forest}
access:
  - { who: "*", what: { dn: "", scope: subtree }, allow: read }
`,
  );
  const pinned = pin(server.pid);
  const load = { port: server.port, base: suffix, attributes: ['cn', 'mail'], ...flags };

  // Look up real accounts of the generated forest, in a scattered order.
  const ldifText = readFileSync(ldif, 'utf8');
  const accounts = [...ldifText.matchAll(/^sAMAccountName: (.+)$/gm)].map((m) => m[1]);
  const names = [...ldifText.matchAll(/^cn: (.{6,})$/gm)].map((m) => m[1].slice(0, -2));
  const pick = <T>(list: T[], i: number) => list[(i * 7919) % list.length];

  // Warm up the server's JIT before measuring.
  await measure('warm-up', load, () => '(objectClass=organizationalUnit)');
  const results = [
    // Baseline: an attribute with no index, so every search scans the whole forest.
    await measure('unindexed scan (baseline)', load, (i) => `(description=no such value ${i})`),
    await measure('indexed exact match', load, (i) => `(sAMAccountName=${pick(accounts, i)})`),
    await measure('exact match, AND of two', load, (i) => `(&(objectClass=user)(sAMAccountName=${pick(accounts, i)}))`),
    await measure('indexed prefix (cn=Name Surna*)', load, (i) => `(&(objectClass=user)(cn=${pick(names, i)}*))`),
  ];
  console.log(
    `\n${users} users, ${flags.connections} connections × ${flags.depth} pipelined, ${flags.seconds} s each` +
      `${pinned ? ', server pinned to core 0' : ' (not pinned)'}, ${values.upstream === 'slapd' ? 'slapd upstream on core 1' : 'memory backend'}\n`,
  );
  printFigures('search', results, 'vs baseline');
} finally {
  await server?.stop();
  await slapd?.stop();
  rmSync(dir, { recursive: true, force: true });
}
