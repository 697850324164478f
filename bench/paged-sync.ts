// A DirSync-style full sync of two slapd forests through Canopy, beside the same paged search
// sent to the slapd servers directly, in one run: entries/s and Canopy's peak RSS.
// Run: npm run build && node bench/paged-sync.ts [--users 100000] [--page 1000]
// Needs slapd and ldap-utils (apt-get install -y slapd ldap-utils). Loading 100,000 users per
// forest with slapadd takes a while; --users 20000 gives a quick run. --heap 64 caps the server's heap.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Client } from 'ldapts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    page: { type: 'string', default: '1000' },
    // Caps the server's V8 heap (MiB): a sync finishing under a small cap shows memory does not grow with the result.
    heap: { type: 'string' },
  },
});
const users = Number(values.users);
const pageSize = Number(values.page);
const root = resolve(import.meta.dirname, '..');
const SUFFIX = 'dc=corp,dc=example';
const FILTER = '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';
const ATTRIBUTES = ['sAMAccountName', 'userPrincipalName', 'mail', 'givenName', 'sn', 'telephoneNumber', 'department', 'title', 'manager', 'objectGUID'];
const SERVICE = { cn: 'svc-canopy', password: 'Svc-Canopy-Passw0rd!' };

interface Slapd {
  readonly url: string;
  stop(): Promise<void>;
}
// The test suite's slapd harness, loaded at run time (Node strips its types): one way to start slapd.
const { startSlapd } = (await import(new URL('../test/support/slapd.ts', import.meta.url).href)) as {
  startSlapd(options: { suffix: string; ldif: string[]; extraConfig?: string }): Promise<Slapd>;
};

const forests = [
  { name: 'avvid', base: 'DC=avvid,DC=info', seed: 1 },
  { name: 'vse', base: 'DC=vse,DC=lab', seed: 2 },
];
const serviceDn = (base: string) => `CN=${SERVICE.cn},OU=ServiceAccounts,${base}`;
const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-sync-'));
const slapds: Slapd[] = [];
let server: ReturnType<typeof spawn> | undefined;

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
    execFileSync(process.execPath, [join(root, 'dist/tools/generate-fixtures.js'), '--users', String(users), '--suffix', f.base, '--seed', String(f.seed), '--out', ldif]);
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
  writeFileSync(
    join(dir, 'canopy.yaml'),
    `listen: { ldap: "ldap://127.0.0.1:0" }
logging: { level: info }
namespace: { suffix: "${SUFFIX}" }
access:
  - { who: authenticated, what: { dn: "" }, allow: read }
forests:
${forestYaml}
`,
  );
  const heapFlags = values.heap === undefined ? [] : [`--max-old-space-size=${Number(values.heap)}`];
  server = spawn(process.execPath, [...heapFlags, join(root, 'dist/cli.js'), 'serve', '--config', join(dir, 'canopy.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = server.pid!;
  const url = await new Promise<string>((done, fail) => {
    server!.once('exit', (code) => fail(new Error(`server exited with ${code}`)));
    createInterface({ input: server!.stdout! }).on('line', (line) => {
      if (line.includes('canopy listening')) done((JSON.parse(line) as { urls: string[] }).urls[0]);
    });
  });

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
  console.log('path'.padEnd(34), 'entries/s'.padStart(10), 'seconds'.padStart(9));
  console.log('direct to both slapd (concurrent)'.padEnd(34), (a.entries / a.seconds).toFixed(0).padStart(10), a.seconds.toFixed(2).padStart(9));
  console.log('through Canopy (one paged search)'.padEnd(34), (b.entries / b.seconds).toFixed(0).padStart(10), b.seconds.toFixed(2).padStart(9));
  const cap = values.heap === undefined ? '' : ` (V8 heap capped at ${values.heap} MiB)`;
  console.log(`\nCanopy RSS: ${(baseRss / 1024).toFixed(0)} MiB before the sync, peak ${(peak / 1024).toFixed(0)} MiB${cap}`);
} finally {
  server?.kill('SIGTERM');
  await Promise.all(slapds.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}
