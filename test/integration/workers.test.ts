import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Client} from 'ldapts';
import { Attribute, Change, InvalidCredentialsError } from 'ldapts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { logged, logRecords, spawnCanopy, type CanopyProcess } from '../support/canopy-process.js';
import { SERVICE_PASSWORD } from '../../src/tools/fixture-generator.js';
import { loadState } from '../../src/router/sync-guard.js';
import { trackedClients } from '../support/ldap-clients.js';
import { RawLdapClient } from '../support/raw-ldap.js';
import { openAccess, repoRoot } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn, serviceWriteAcl } from './ldap-helpers.js';

// serve.workers: 2 as users run it: `canopy serve` (dist/cli.js) as a real primary with two real
// worker processes, LDAP clients over TCP, the HTTP endpoints over HTTP, signals from outside.

const AVVID = 'DC=avvid,DC=info';
const EGREEN = `CN=Elizabeth Green,OU=Users,${AVVID}`;
const cli = join(repoRoot, 'dist/cli.js');

const memoryForest = (extra = ''): string =>
  `  - { name: avvid, backend: memory, base: "${AVVID}", ldif: ["${join(repoRoot, 'fixtures/avvid.info.ldif')}"]${extra} }\n`;

function configFile(forest = memoryForest()): { file: string; pidFile: string; write: (forest: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-workers-'));
  const file = join(dir, 'canopy.yaml');
  const write = (forestYaml: string): void =>
    writeFileSync(
      file,
      `listen: { ldap: "ldap://127.0.0.1:0" }
http: { port: 0 }
serve: { workers: 2 }
security:
  throttle: { maxFailuresPerAccount: 4, slowAfter: 10, delayMs: 0 }
forests:
${forestYaml}${openAccess}`,
    );
  write(forest);
  return { file, pidFile: join(dir, 'canopy.pid'), write };
}

function start(file: string, pidFile?: string, options: { env?: NodeJS.ProcessEnv; startMs?: number } = {}): Promise<CanopyProcess> {
  return spawnCanopy(process.execPath, [cli, 'serve', '--config', file, ...(pidFile ? ['--pid-file', pidFile] : [])], options);
}

const client = trackedClients();


/** The worker process that serves `c`: the pid on the access log line of a search only it made. */
let probes = 0;
async function pidOf(p: CanopyProcess, c: Client): Promise<number> {
  const probe = `probe-${++probes}`;
  await c.search(AVVID, { filter: `(cn=${probe})`, attributes: ['1.1'] });
  let pid: number | undefined;
  await expect
    .poll(() => (pid = logRecords(p).find((l) => l.msg === 'operation' && String(l.filter).includes(probe))?.pid as number | undefined), { timeout: 10_000 })
    .toBeDefined();
  return pid!;
}

/** Two raw clients and the worker pid serving each: a search each, found in the access log by the client's port. */
async function rawClientsOnBothWorkers(p: CanopyProcess): Promise<{ raws: RawLdapClient[]; pids: number[] }> {
  const raws = [await RawLdapClient.connect(p.url), await RawLdapClient.connect(p.url)];
  const pids: number[] = [];
  for (const r of raws) {
    expect((await r.search(EGREEN)).code).toBe(0);
    const peer = `127.0.0.1:${r.localPort}`;
    let pid: number | undefined;
    await expect.poll(() => (pid = logRecords(p).find((l) => l.msg === 'operation' && l.peer === peer)?.pid as number | undefined), { timeout: 10_000 }).toBeDefined();
    pids.push(pid!);
  }
  expect(new Set(pids).size).toBe(2); // round robin: two connections in a row go to the two workers
  return { raws, pids };
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);

/** Two clients served by different workers (round robin deals connections out in turn). */
async function clientsOnBothWorkers(p: CanopyProcess): Promise<[Client, Client]> {
  const first = client(p.url);
  const firstPid = await pidOf(p, first);
  for (let i = 0; i < 6; i++) {
    const other = client(p.url);
    if ((await pidOf(p, other)) !== firstPid) return [first, other];
  }
  throw new Error('six connections in a row landed on the same worker');
}

function httpUrl(p: CanopyProcess): string {
  return logRecords(p).find((l) => l.msg === 'canopy listening')!.http as string;
}

async function metric(p: CanopyProcess, series: string): Promise<number> {
  const text = await (await fetch(`${httpUrl(p)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function description(c: Client, dn: string): Promise<unknown> {
  const { searchEntries } = await c.search(dn, { scope: 'base', attributes: ['description'] });
  return searchEntries[0]?.description;
}

// Over slapd: a memory forest is loaded into each worker, so a write through one worker changes only its copy.
describe('serve.workers: 2 over a slapd forest', () => {
  let slapd: Slapd;
  let p: CanopyProcess;
  beforeAll(async () => {
    slapd = await startSlapd({ suffix: AVVID, ldif: ['fixtures/avvid.info.ldif'], extraConfig: serviceWriteAcl(AVVID) });
    p = await start(
      configFile(`  - name: avvid
    backend: ldap
    base: "${AVVID}"
    servers: ["${slapd.url}"]
    bind: { dn: "${serviceDn(AVVID)}", password: "${SERVICE_PASSWORD}" }
`).file,
    );
  });
  afterAll(async () => {
    expect(await p?.stop()).toBe(0);
    await slapd?.stop();
  });

  it('starts two worker processes that each take connections on the one port', async () => {
    const listening = logRecords(p).find((l) => l.msg === 'canopy listening')!;
    expect(listening.workers).toBe(2);
    // Each worker's log lines reach standard output in their own batches, maybe after the primary's.
    const workerPids = () => logRecords(p).filter((l) => l.msg === 'worker listening').map((l) => l.pid);
    await expect.poll(() => new Set(workerPids()).size, { timeout: 5_000 }).toBe(2);
    expect(workerPids()).not.toContain(p.child.pid);
    const served = new Set<number>();
    for (let i = 0; i < 6; i++) served.add(await pidOf(p, client(p.url)));
    expect([...served].sort()).toEqual([...workerPids()].sort());
  });

  it('a write through one worker is seen at once by a search through the other, the result cache on', async () => {
    const [writer, reader] = await clientsOnBothWorkers(p);
    const hitsBefore = await metric(p, 'canopy_cache_hits_total');
    const old = await description(reader, EGREEN);
    expect(await description(reader, EGREEN)).toEqual(old); // kept, and served from the reader's cache
    expect(await metric(p, 'canopy_cache_hits_total')).toBeGreaterThan(hitsBefore);
    await description(writer, EGREEN); // in the writer's cache too

    for (const value of ['written through one worker', 'written again']) {
      await writer.modify(EGREEN, new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: [value] }) }));
      expect(await description(reader, EGREEN)).toBe(value);
      expect(await description(writer, EGREEN)).toBe(value);
    }
  });

  it('counts failed binds across workers: a limit of 4 failures is reached by failures through both', async () => {
    const failedOn = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const c = client(p.url);
      failedOn.add(await pidOf(p, c));
      await expect(c.bind(EGREEN, `wrong-${i}`)).rejects.toBeInstanceOf(InvalidCredentialsError);
    }
    expect(failedOn.size).toBe(2); // two failures each: neither worker alone reached the limit
    for (let i = 0; i < 2; i++) {
      const c = client(p.url);
      // Refused unchecked, answered as a wrong password: only the metric tells.
      await expect(c.bind(EGREEN, 'Passw0rd!')).rejects.toBeInstanceOf(InvalidCredentialsError);
    }
    expect(await metric(p, 'canopy_binds_throttled_total')).toBe(2);
  });

  it('/metrics sums every worker, and /readyz is ready when both are', async () => {
    const before = await metric(p, 'canopy_operations_total{op="compare",code="6"}');
    const [a, b] = await clientsOnBothWorkers(p);
    for (const c of [a, b, a, b, a]) expect(await c.compare(EGREEN, 'sAMAccountName', 'egreen')).toBe(true);
    expect(await metric(p, 'canopy_operations_total{op="compare",code="6"}')).toBe(before + 5);
    expect(await metric(p, 'canopy_build_info{version="0.1.0",node="' + process.version + '"}')).toBe(1);
    const ready = await fetch(`${httpUrl(p)}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain('ready\n');
  });
});

describe('serve.workers: 2, as a process', () => {
  let p: CanopyProcess | undefined;
  afterEach(async () => {
    await p?.stop();
    p = undefined;
  });

  it('`canopy reload` (SIGHUP to the pid file\'s process, the primary) reloads every worker', async () => {
    const { file, pidFile, write } = configFile();
    p = await start(file, pidFile);
    expect(Number(readFileSync(pidFile, 'utf8'))).toBe(p.child.pid);
    write(memoryForest(', filter: "(!(sAMAccountName=egreen))"'));
    const from = p.logLines.length;
    const reload = spawnSync(process.execPath, [cli, 'reload', '--pid-file', pidFile, '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(reload.stderr).toBe('');
    expect(reload.status).toBe(0);
    await logged(p, 'every worker reloaded its configuration', from);
    const reloaded = await logged(p, 'configuration reloaded', from, 2);
    expect(new Set(reloaded.map((l) => l.pid)).size).toBe(2);
    const [a, b] = await clientsOnBothWorkers(p);
    for (const c of [a, b]) expect((await c.search(AVVID, { filter: '(sAMAccountName=egreen)', attributes: ['1.1'] })).searchEntries).toHaveLength(0);
  });

  it('replaces a worker that dies, and keeps serving', async () => {
    const { file } = configFile();
    p = await start(file);
    const [a, b] = await clientsOnBothWorkers(p);
    const victim = await pidOf(p, a);
    const from = p.logLines.length;
    process.kill(victim, 'SIGKILL');
    const [ended] = await logged(p, 'worker ended; its connections are closed; starting a replacement', from);
    expect(ended).toMatchObject({ pid: victim, signal: 'SIGKILL' });
    const [replacement] = await logged(p, 'replacement worker listening', from);
    expect(replacement.pid).not.toBe(victim);
    // The survivor's client is unaffected; new connections are served, by the survivor and the replacement.
    expect(await description(b, EGREEN)).toEqual([]);
    const served = new Set<number>();
    for (let i = 0; i < 4; i++) served.add(await pidOf(p, client(p.url)));
    expect(served).toContain(replacement.pid);
    expect(served).not.toContain(victim);
    await expect.poll(async () => (await fetch(`${httpUrl(p!)}/readyz`)).status, { timeout: 10_000 }).toBe(200);
  });

  it('a worker stopped on its own (SIGTERM to it) sends its clients a Notice of Disconnection, and is replaced', async () => {
    const { file } = configFile();
    p = await start(file);
    const { raws, pids } = await rawClientsOnBothWorkers(p);
    try {
      const [victim, survivor] = pids;
      const from = p.logLines.length;
      process.kill(victim, 'SIGTERM');
      await raws[0].closed;
      expect(raws[0].notices).toEqual([
        expect.objectContaining({ code: 52, message: 'server process shutting down; connect again', responseName: '1.3.6.1.4.1.1466.20036' }),
      ]);
      expect(raws[0].received.at(-1)).toEqual({ id: 0, tag: 0x78 }); // unsolicited: message ID 0, an extendedResponse
      const [ended] = await logged(p, 'worker ended; its connections are closed; starting a replacement', from);
      expect(ended).toMatchObject({ pid: victim, code: 0 });
      const [replacement] = await logged(p, 'replacement worker listening', from);
      // The other worker's client is untouched; new connections are served by the survivor and the replacement.
      expect((await raws[1].search(EGREEN)).code).toBe(0);
      expect(raws[1].notices).toEqual([]);
      const served = new Set<number>();
      for (let i = 0; i < 4; i++) served.add(await pidOf(p, client(p.url)));
      expect([...served].sort()).toEqual([survivor, replacement.pid as number].sort());
    } finally {
      for (const r of raws) r.close();
    }
  });

  it('a worker failing with an uncaught exception tells its clients (other, 80), exits non-zero and is replaced', async () => {
    const { file } = configFile();
    p = await start(file, undefined, { env: { NODE_OPTIONS: `--import=${join(repoRoot, 'test/support/uncaught-fault.mjs')}` } });
    const { raws, pids } = await rawClientsOnBothWorkers(p);
    try {
      const from = p.logLines.length;
      process.kill(pids[0], 'SIGWINCH');
      await raws[0].closed;
      expect(raws[0].notices).toEqual([expect.objectContaining({ code: 80, message: 'internal error in the server process; connect again' })]);
      const [fatal] = await logged(p, 'worker failed: uncaught exception; its connections are closed and it exits', from);
      expect(fatal).toMatchObject({ pid: pids[0], err: { message: 'fault injected by the test (SIGWINCH)' } });
      const [ended] = await logged(p, 'worker ended; its connections are closed; starting a replacement', from);
      expect(ended).toMatchObject({ pid: pids[0], code: 1 });
      await logged(p, 'replacement worker listening', from);
      expect((await raws[1].search(EGREEN)).code).toBe(0);
      expect(raws[1].notices).toEqual([]);
    } finally {
      for (const r of raws) r.close();
    }
  });

  it('when the primary is killed (SIGKILL) and its output closed, the workers tell their clients and exit', async () => {
    const { file } = configFile();
    p = await start(file);
    const { raws, pids } = await rawClientsOnBothWorkers(p);
    try {
      // Nothing reads the workers' standard output any more, as when a supervisor's pipe goes with the primary.
      p.child.stdout!.destroy();
      p.child.kill('SIGKILL');
      await expect.poll(() => pids.filter(alive), { timeout: 5_000 }).toEqual([]);
      for (const r of raws) {
        await r.closed;
        expect(r.notices).toEqual([expect.objectContaining({ code: 52, message: 'server shutting down' })]);
      }
    } finally {
      for (const r of raws) r.close();
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  });

  it('the sync guard: syncs landing on different workers share one baseline, kept in a state file only the primary writes', async () => {
    const { file, pidFile, write } = configFile();
    const dir = dirname(file);
    const stateFile = join(dir, 'guard.json');
    const guard = 'sync: { guard: { minEntries: 5, maxDropPercent: 10, maxDropCount: 3, stateFile: guard.json } }\ncache: { enabled: false }\n';
    write(memoryForest() + guard);
    // Every write of the state file goes through a temporary file named after the writing process.
    const writers = new Set<number>();
    const watcher = watch(dir, (_event, name) => {
      const pid = /^guard\.json\.(\d+)\.tmp$/.exec(name ?? '')?.[1];
      if (pid !== undefined) writers.add(Number(pid));
    });
    try {
      p = await start(file, pidFile);
      const [a, b] = await clientsOnBothWorkers(p);
      const sync = (c: Client) =>
        c.search(AVVID, { filter: '(objectClass=user)', attributes: ['1.1'] }).then(
          (r) => ({ ok: true as const, count: r.searchEntries.length }),
          (err: Error & { code?: number }) => ({ ok: false as const, code: err.code, message: err.message }),
        );
      const first = await sync(a);
      expect(first.ok).toBe(true);
      const everyone = first.ok ? first.count : 0;
      expect(everyone).toBeGreaterThan(20);

      // Most users leave the forest's view (an edited filter), between a sync through one worker and one through the other.
      write(memoryForest(', filter: "(|(department=Sales)(!(objectClass=user)))"') + guard);
      const from = p.logLines.length;
      expect(spawnSync(process.execPath, [cli, 'reload', '--pid-file', pidFile], { encoding: 'utf8', timeout: 20_000 }).status).toBe(0);
      await logged(p, 'every worker reloaded its configuration', from);
      for (const c of [b, a]) {
        const refused = await sync(c);
        expect(refused).toMatchObject({ ok: false, code: 52 });
        expect(refused.ok === false && refused.message).toContain(`forest "avvid" returned`);
        expect(refused.ok === false && refused.message).toContain(`had ${everyone}`);
      }
      const trips = await logged(p, 'sync guard: a complete result fell far below the last one; the search fails instead of reading as deletions', from, 2);
      expect(new Set(trips.map((l) => l.pid)).size).toBe(2);

      await expect.poll(() => Object.values(loadState(stateFile).shapes)[0]?.forests.avvid.trips, { timeout: 5_000 }).toBe(2);
      const listed = spawnSync(process.execPath, [cli, 'guard', 'list', '--config', file], { encoding: 'utf8', timeout: 20_000 });
      expect(listed.stdout).toMatch(new RegExp(`avvid\\s+${everyone} \\(.+\\)\\s+\\d+ \\(.+\\)\\s+2`));
      const accepted = spawnSync(process.execPath, [cli, 'guard', 'accept', '--forest', 'avvid', '--pid-file', pidFile, '--config', file], { encoding: 'utf8', timeout: 20_000 });
      expect(accepted.stderr).toBe('');
      expect(accepted.status).toBe(0);
      for (const c of [a, b]) expect(await sync(c)).toMatchObject({ ok: true });
      expect(writers).toEqual(new Set([p.child.pid]));
    } finally {
      watcher.close();
    }
  });

  it('SIGTERM drains every worker: a search in flight on each finishes, then the primary exits 0 and removes its pid file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-workers-'));
    const ldif = join(dir, 'big.ldif');
    const big = 'DC=big,DC=example';
    // Enough entries that the kernel's socket buffers cannot hold the answer: the searches stay in flight.
    const generated = spawnSync(process.execPath, [join(repoRoot, 'dist/tools/fixtures-command.js'), '--users', '20000', '--suffix', big, '--seed', '1', '--out', ldif]);
    expect(generated.status).toBe(0);
    const entries = (readFileSync(ldif, 'utf8').match(/^dn: /gm) ?? []).length;
    const { file, pidFile, write } = configFile();
    write(`  - { name: big, backend: memory, base: "${big}", ldif: ["${ldif}"] }\nshutdown: { graceSeconds: 30 }\n`);
    // Two workers each load 20,000 users: on a busy 2-core machine that takes well over the usual start limit.
    p = await start(file, pidFile, { startMs: 90_000 });
    const started = p;
    await expect.poll(() => logRecords(started).filter((l) => l.msg === 'worker listening').length, { timeout: 5_000 }).toBe(2);
    const workerPids = logRecords(p).filter((l) => l.msg === 'worker listening').map((l) => l.pid as number);
    expect(existsSync(pidFile)).toBe(true);
    // Round robin: two connections in a row go to the two workers.
    const raws = [await RawLdapClient.connect(p.url), await RawLdapClient.connect(p.url)];
    try {
      for (const r of raws) r.pause();
      const searches = raws.map((r) => r.search(big, [], undefined, ['*']));
      const exited = new Promise<number | null>((resolve) => p!.child.once('exit', resolve));
      await new Promise((r) => setTimeout(r, 300));
      p.child.kill('SIGTERM');
      await logged(p, 'shutting down: no new connections; running operations may finish', 0);
      for (const r of raws) r.resume();
      for (const done of await Promise.all(searches)) {
        expect(done.code).toBe(0);
        expect(done.dns).toHaveLength(entries);
      }
      const code = await exited;
      // On failure, say which worker did not stop cleanly and why (its error lines).
      expect(code, JSON.stringify(logRecords(p).filter((l) => Number(l.level) >= 50))).toBe(0);
    } finally {
      for (const r of raws) r.close();
    }
    const searchedOn = logRecords(p).filter((l) => l.msg === 'operation' && l.dn === big).map((l) => l.pid);
    expect(searchedOn.sort()).toEqual([...workerPids].sort());
    expect(logRecords(p).filter((l) => l.msg === 'worker stopped').map((l) => l.pid).sort()).toEqual([...workerPids].sort());
    expect(existsSync(pidFile)).toBe(false);
    for (const pid of workerPids) expect(() => process.kill(pid, 0)).toThrow();
  }, 150_000);
});
