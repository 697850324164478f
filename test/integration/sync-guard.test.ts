/**
 * The sync deletion guard (issue 20): a DirSync-style consumer written as such applications are
 * (python ldap3, paged, marks users missing from a sync inactive) syncs through Canopy; then 40 %
 * of one forest's users move out of the forest's base upstream. The next sync must fail, so the
 * consumer deactivates nobody, through a restart and a reload, until an operator accepts the drop.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { parseConfig } from '../../src/config/load.js';
import { generateForest, SERVICE_PASSWORD } from '../../src/tools/fixture-generator.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { MAX_WORKERS } from '../../src/config/schema.js';
import { logRecords, spawnCanopy, type CanopyProcess } from '../support/canopy-process.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { fixtureForests, repoRoot, startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';

const PYTHON = '/usr/bin/python3';
const SUFFIX = 'dc=corp,dc=example';
const SYNC_DN = `cn=dirsync,${SUFFIX}`;
const SYNC_PASSWORD = 'Dirsync-Passw0rd!';
const CISCO_FILTER = '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';
const cli = join(repoRoot, 'dist/cli.js');

/** A DirSync-style consumer: pages through the tree; on success, users it knew and did not see become inactive. */
const CONSUMER = `
import json, os, sys
from ldap3 import Server, Connection, SUBTREE
url, bind_dn, password, base, flt, state_file = sys.argv[1:7]
conn = Connection(Server(url), bind_dn, password, auto_bind=True)
seen, cookie = set(), None
while True:
    conn.search(base, flt, SUBTREE, attributes=['userPrincipalName'], paged_size=100, paged_cookie=cookie)
    if conn.result['result'] != 0:
        print(json.dumps({'ok': False, 'result': conn.result['result'], 'message': conn.result['message']}))
        sys.exit(0)
    seen.update(e['dn'].lower() for e in conn.response if e['type'] == 'searchResEntry')
    cookie = conn.result['controls'].get('1.2.840.113556.1.4.319', {}).get('value', {}).get('cookie')
    if not cookie:
        break
state = json.load(open(state_file)) if os.path.exists(state_file) else {'active': [], 'inactive': []}
known = set(state['active'])
state = {'active': sorted(seen), 'inactive': sorted(set(state['inactive']) | (known - seen))}
json.dump(state, open(state_file, 'w'))
print(json.dumps({'ok': True, 'seen': len(seen), 'deactivated': len(known - seen)}))
`;

interface SyncOutcome {
  readonly ok: boolean;
  readonly result?: number;
  readonly message?: string;
  readonly seen?: number;
  readonly deactivated?: number;
}

const USERS = 300;
const forests = [
  { name: 'avvid', suffix: 'DC=avvid,DC=info', upn: 'avvid.info', slapd: undefined as Slapd | undefined },
  { name: 'vse', suffix: 'DC=vse,DC=lab', upn: 'vse.lab', slapd: undefined as Slapd | undefined },
];

describe('sync guard with slapd forests, a python ldap3 consumer and canopy serve as a process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-guard-'));
  const configFile = join(dir, 'canopy.yaml');
  const pidFile = join(dir, 'canopy.pid');
  const stateFile = join(dir, 'guard-state.json');
  const consumerState = join(dir, 'consumer.json');
  const consumer = join(dir, 'consumer.py');
  let canopy: CanopyProcess | undefined;

  beforeAll(async () => {
    if (spawnSync(PYTHON, ['-c', 'import ldap3']).status !== 0) {
      throw new Error('python3-ldap3 is not installed: install the Debian package python3-ldap3');
    }
    writeFileSync(consumer, CONSUMER);
    await Promise.all(
      forests.map(async (f, i) => {
        const ldif = generateForest({ suffix: f.suffix, users: USERS, seed: 200 + i, upnSuffix: f.upn });
        f.slapd = await startSlapd({ suffix: f.suffix, ldif: [ldif, `dn: OU=Moved,${f.suffix}\nobjectClass: organizationalUnit\nou: Moved\n`] });
      }),
    );
    // The forests' base is their Users OU: moving users to OU=Moved takes them out of the sync.
    const forestYaml = forests
      .map(
        (f) => `  - name: ${f.name}
    backend: ldap
    base: "OU=Users,${f.suffix}"
    mount: "ou=${f.name},${SUFFIX}"
    servers: ["${f.slapd!.url}"]
    bind: { dn: "${serviceDn(f.suffix)}", password: "${SERVICE_PASSWORD}" }`,
      )
      .join('\n');
    writeFileSync(
      configFile,
      `listen: { ldap: "ldap://127.0.0.1:0" }
http: { port: 0 }
namespace: { suffix: "${SUFFIX}" }
sync: { guard: { minEntries: 50, maxDropPercent: 10, maxDropCount: 20, stateFile: guard-state.json } }
cache: { enabled: false }
accounts:
  - { dn: "${SYNC_DN}", passwordHash: "${await hashPassword(SYNC_PASSWORD)}" }
access:
  - { who: "${SYNC_DN}", what: { dn: "" }, allow: read }
forests:
${forestYaml}
`,
    );
    canopy = await start();
  }, 120_000);

  afterAll(async () => {
    await canopy?.stop();
    await Promise.all(forests.map((f) => f.slapd?.stop()));
  });

  const start = () => spawnCanopy(process.execPath, [cli, 'serve', '--config', configFile, '--pid-file', pidFile]);

  function sync(): SyncOutcome {
    const r = spawnSync(PYTHON, [consumer, canopy!.url, SYNC_DN, SYNC_PASSWORD, SUFFIX, CISCO_FILTER, consumerState], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`consumer failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as SyncOutcome;
  }

  function guardCli(args: string[]) {
    return spawnSync(process.execPath, [cli, 'guard', ...args, '--config', configFile], { encoding: 'utf8', timeout: 20_000 });
  }

  /** Moves `n` enabled users of a forest out of its base (to OU=Moved), as slapd's administrator. */
  async function moveOut(forest: (typeof forests)[number], n: number): Promise<void> {
    const slapd = forest.slapd!;
    const found = await runLdapTool('ldapsearch', [
      '-x', '-LLL', '-H', slapd.url, '-D', slapd.rootDn, '-w', slapd.rootPassword,
      '-b', `OU=Users,${forest.suffix}`, '-s', 'one', CISCO_FILTER, '1.1',
    ]);
    const dns = found.stdout.split('\n').filter((l) => l.startsWith('dn: ')).map((l) => l.slice(4)).slice(0, n);
    expect(dns).toHaveLength(n);
    const ldif = dns.map((dn) => `dn: ${dn}\nchangetype: modrdn\nnewrdn: ${dn.split(',')[0]}\ndeleteoldrdn: 1\nnewsuperior: OU=Moved,${forest.suffix}\n`).join('\n');
    const r = await runLdapTool('ldapmodify', ['-x', '-H', slapd.url, '-D', slapd.rootDn, '-w', slapd.rootPassword], ldif);
    expect(r.status, r.stderr).toBe(0);
  }

  it('fails the sync after 40 % of a forest moved out, through a restart and a reload, until accepted', async () => {
    // serve.workers is auto by default: with ldap forests, a worker per core (2 on CI), so the
    // consumer's syncs, each on a new connection, land on different workers and share the primary's references.
    expect(logRecords(canopy!).find((l) => l.msg === 'canopy listening')?.workers ?? 1).toBe(Math.min(availableParallelism(), MAX_WORKERS));
    const first = sync();
    expect(first.ok).toBe(true);
    const everyone = first.seen!;
    expect(everyone).toBeGreaterThan(400); // both forests' enabled users
    expect(sync()).toMatchObject({ ok: true, seen: everyone, deactivated: 0 });

    await moveOut(forests[0], Math.round(USERS * 0.4));
    const refused = sync();
    expect(refused.ok).toBe(false);
    expect(refused.result).toBe(52);
    expect(refused.message).toMatch(/sync guard: forest "avvid" returned \d+ entries where the last complete result \(.+\) had \d+/);
    expect(refused.message).toContain('canopy guard accept --forest avvid');
    let consumerView = JSON.parse(readFileSync(consumerState, 'utf8')) as { active: string[]; inactive: string[] };
    expect(consumerView.inactive).toEqual([]);
    expect(consumerView.active).toHaveLength(everyone);

    const listed = guardCli(['list']);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/avvid\s+\d+ \(.+\)\s+\d+ \(.+\)\s+1\s+dn:cn=dirsync/);

    const doctor = spawnSync(process.execPath, [cli, 'doctor', '--config', configFile, '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(doctor.status).toBe(1);
    const report = JSON.parse(doctor.stdout) as { findings: { check: string; forests: string[]; severity: string }[] };
    expect(report.findings).toContainEqual(expect.objectContaining({ check: 'sync-guard-tripped', forests: ['avvid'], severity: 'blocking' }));

    // References survive a restart...
    await canopy!.stop();
    canopy = await start();
    expect(sync()).toMatchObject({ ok: false, result: 52 });
    // ...and a reload.
    expect(spawnSync(process.execPath, [cli, 'reload', '--pid-file', pidFile], { encoding: 'utf8' }).status).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(sync()).toMatchObject({ ok: false, result: 52 });
    consumerView = JSON.parse(readFileSync(consumerState, 'utf8')) as typeof consumerView;
    expect(consumerView.inactive).toEqual([]);

    const usage = guardCli(['accept', '--pid-file', pidFile]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('accept needs --forest NAME or --all');
    const accepted = guardCli(['accept', '--forest', 'avvid', '--pid-file', pidFile]);
    expect(accepted.stderr).toBe('');
    expect(accepted.status).toBe(0);
    expect(accepted.stdout).toContain(`accepted the pending counts of forest "avvid"`);
    expect(existsSync(`${stateFile}.accept`)).toBe(false);

    // Accepted: the next sync succeeds with the smaller count, and the moved users become inactive.
    const moved = Math.round(USERS * 0.4);
    expect(sync()).toEqual({ ok: true, seen: everyone - moved, deactivated: moved });

    // A drop under the thresholds (2 users, under maxDropCount 20) passes.
    await moveOut(forests[1], 2);
    expect(sync()).toMatchObject({ ok: true, deactivated: 2 });
  }, 120_000);
});

describe('sync guard with memory forests in process', () => {
  it('a forest filter edited by a reload that hides 40 % of users fails paged syncs on their last page until accepted', async () => {
    const yaml = (filter: string) => `logging: { level: silent }
namespace: { suffix: "${SUFFIX}" }
sync: { guard: { minEntries: 5, maxDropPercent: 10, maxDropCount: 3 } }
cache: { enabled: false }
access:
  - { who: "*", what: { dn: "" }, allow: read }
${fixtureForests.replace('ldif: [fixtures/avvid.info.ldif]', `ldif: [fixtures/avvid.info.ldif], mount: "ou=avvid,${SUFFIX}"${filter}`).replace('ldif: [fixtures/vse.lab.ldif]', `ldif: [fixtures/vse.lab.ldif], mount: "ou=vse,${SUFFIX}"`)}`;
    const server = await startTestServer(yaml(''));
    const c = new Client({ url: server.url });
    try {
      const pagedSync = () =>
        c.search(SUFFIX, { scope: 'sub', filter: CISCO_FILTER, attributes: ['sAMAccountName'], paged: { pageSize: 10 } }).then(
          (r) => ({ ok: true as const, count: r.searchEntries.length }),
          (err: Error & { code?: number }) => ({ ok: false as const, code: err.code, message: err.message }),
        );
      const before = await pagedSync();
      expect(before.ok).toBe(true);
      const trips = await metricValue(metrics.syncGuardTrips, { forest: 'avvid' });

      // Edit avvid's filter to leave out every other department's users: far fewer entries.
      const next = parseConfig(
        `listen: { ldap: "ldap://127.0.0.1:0", ldaps: "ldaps://127.0.0.1:0" }\nhttp: { port: 0 }\n${yaml(', filter: "(|(department=Sales)(!(objectClass=user)))"')}`,
        { source: 'test', baseDir: repoRoot },
      );
      await server.reload(next);
      const refused = await pagedSync();
      expect(refused).toMatchObject({ ok: false, code: 52 });
      expect(refused.ok === false && refused.message).toContain('forest "avvid"');
      expect(await metricValue(metrics.syncGuardTrips, { forest: 'avvid' })).toBe(trips + 1);

      expect(server.syncGuard.accept({ forest: 'avvid' })).toBe(1);
      const after = await pagedSync();
      expect(after.ok).toBe(true);
      expect(after.ok && before.ok && after.count < before.count).toBe(true);
    } finally {
      await c.unbind().catch(() => undefined);
      await server.close();
    }
  });
});

describe('an upstream size limit that cuts a forest short', () => {
  it('ends the sync in an error, never a smaller success the guard would have to catch', async () => {
    const suffix = 'DC=avvid,DC=info';
    const slapd = await startSlapd({
      suffix,
      ldif: [generateForest({ suffix, users: 300, seed: 210 })],
      // Paged searches stop after 100 entries in all, as a misconfigured upstream limit would.
      extraConfig: 'sizelimit size.soft=100 size.hard=100 size.pr=100 size.prtotal=100',
    });
    const server = await startTestServer(`logging: { level: silent }
cache: { enabled: false }
access:
  - { who: "*", what: { dn: "" }, allow: read }
forests:
  - name: avvid
    backend: ldap
    base: "${suffix}"
    servers: ["${slapd.url}"]
    bind: { dn: "${serviceDn(suffix)}", password: "${SERVICE_PASSWORD}" }
    pageSize: 50
`);
    const c = new Client({ url: server.url });
    try {
      const outcome = await c.search(suffix, { filter: CISCO_FILTER, attributes: ['1.1'], paged: { pageSize: 50 } }).then(
        (r) => ({ code: 0, entries: r.searchEntries.length }),
        (err: Error & { code?: number }) => ({ code: err.code, message: err.message }),
      );
      expect(outcome).toMatchObject({ code: 4 }); // sizeLimitExceeded, as the forest answered
      expect(outcome).not.toHaveProperty('entries');
    } finally {
      await c.unbind().catch(() => undefined);
      await server.close();
      await slapd.stop();
    }
  });
});
