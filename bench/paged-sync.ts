// A DirSync-style full sync of two slapd forests through Canopy, beside the same paged search
// sent to the slapd servers directly, in one run: entries/s and Canopy's peak RSS.
// Run: npm run build && node bench/paged-sync.ts [--users 100000] [--page 1000]
// Needs slapd and ldap-utils (apt-get install -y slapd ldap-utils). Loading 100,000 users per
// forest with slapadd takes a while; --users 20000 gives a quick run. --heap 64 caps the server's heap.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'ldapts';
import { startSlapd, type Slapd } from '../test/support/slapd.ts';
import { numberFlag, printTable, startCanopy, writeForest, type Canopy } from './load.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    page: { type: 'string', default: '1000' },
    // Caps the server's V8 heap (MiB): a sync finishing under a small cap shows memory does not grow with the result.
    heap: { type: 'string' },
  },
});
const users = numberFlag('users', values.users);
const pageSize = numberFlag('page', values.page);
const heapMiB = values.heap === undefined ? undefined : numberFlag('heap', values.heap);
const SUFFIX = 'dc=corp,dc=example';
const FILTER = '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';
const ATTRIBUTES = ['sAMAccountName', 'userPrincipalName', 'mail', 'givenName', 'sn', 'telephoneNumber', 'department', 'title', 'manager', 'objectGUID'];
const SERVICE = { cn: 'svc-canopy', password: 'Svc-Canopy-Passw0rd!' };

const forests = [
  { name: 'avvid', base: 'DC=avvid,DC=info', seed: 1 },
  { name: 'vse', base: 'DC=vse,DC=lab', seed: 2 },
];
const serviceDn = (base: string) => `CN=${SERVICE.cn},OU=ServiceAccounts,${base}`;
const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-sync-'));
const slapds: Slapd[] = [];
let server: Canopy | undefined;

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Pages through one search to the end; returns the number of entries. */
async function sync(url: string, bindDn: string, base: string): Promise<number> {
  const client = new Client({ url, timeout: 600_000 });
  await client.bind(bindDn, SERVICE.password);
  let n = 0;
  for await (const page of client.searchPaginated(base, { filter: FILTER, attributes: ATTRIBUTES, explicitBufferAttributes: ['objectGUID'], paged: { pageSize } })) {
    n += page.searchEntries.length;
  }
  await client.unbind();
  return n;
}

async function timed(run: () => Promise<number>): Promise<{ entries: number; seconds: number }> {
  const t0 = performance.now();
  const entries = await run();
  return { entries, seconds: (performance.now() - t0) / 1000 };
}

try {
  const t0 = performance.now();
  for (const f of forests) {
    const ldif = join(dir, `${f.name}.ldif`);
    writeForest(ldif, { users, suffix: f.base, seed: f.seed });
    // AD-like: unpaged searches stop at 1,000 entries, paged ones go on.
    slapds.push(await startSlapd({ suffix: f.base, ldif: [ldif], extraConfig: 'sizelimit size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited' }));
  }
  console.log(`two forests of ${users} users generated and loaded into slapd in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const forestYaml = forests
    .map(
      (f, i) => `  - name: ${f.name}
    backend: ldap
    base: "${f.base}"
    mount: "ou=${f.name},${SUFFIX}"
    servers: ["${slapds[i].url}"]
    bind: { dn: "${serviceDn(f.base)}", password: "${SERVICE.password}" }
    timeouts: { operationMs: 60000 }`,
    )
    .join('\n');
  const settings = `namespace: { suffix: "${SUFFIX}" }
access:
  - { who: authenticated, what: { dn: "" }, allow: read }
forests:
${forestYaml}
`;
  server = await startCanopy(join(dir, 'canopy.yaml'), settings, heapMiB === undefined ? [] : [`--max-old-space-size=${heapMiB}`]);
  const { pid, url } = server;

  const direct = () => Promise.all(forests.map((f, i) => sync(slapds[i].url, serviceDn(f.base), f.base))).then((n) => n[0] + n[1]);
  // The service account as the virtual tree shows it: a bind Canopy passes to the avvid forest.
  const proxied = () => sync(url, `CN=${SERVICE.cn},OU=ServiceAccounts,ou=avvid,${SUFFIX}`, SUFFIX);
  await direct(); // warm slapd's caches so both runs read the same way
  const baseRss = rssKb(pid, 'VmRSS');
  const a = await timed(direct);
  let peak = baseRss;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid, 'VmRSS'))), 50);
  const b = await timed(proxied);
  clearInterval(sampler);
  peak = Math.max(peak, rssKb(pid, 'VmHWM'));
  if (a.entries !== b.entries) throw new Error(`entry counts differ: direct ${a.entries}, through Canopy ${b.entries}`);

  console.log(`\nfull sync: ${a.entries} enabled users, AD sync filter, ${ATTRIBUTES.length} attributes, pages of ${pageSize}\n`);
  printTable(
    ['path', 'entries/s', 'seconds'],
    [
      ['direct to both slapd (concurrent)', (a.entries / a.seconds).toFixed(0), a.seconds.toFixed(2)],
      ['through Canopy (one paged search)', (b.entries / b.seconds).toFixed(0), b.seconds.toFixed(2)],
    ],
  );
  const cap = heapMiB === undefined ? '' : ` (V8 heap capped at ${heapMiB} MiB)`;
  console.log(`\nCanopy RSS: ${(baseRss / 1024).toFixed(0)} MiB before the sync, peak ${(peak / 1024).toFixed(0)} MiB${cap}`);
} finally {
  await server?.stop();
  await Promise.all(slapds.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}
