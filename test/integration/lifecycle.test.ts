import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'ldapts';
import { Attribute, Change } from 'ldapts';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigErrors } from '../../src/config/config-error.js';
import { parseConfig } from '../../src/config/load.js';
import type { Directory, SearchStream } from '../../src/core/directory.js';
import { logged, logRecords, spawnCanopy, type CanopyProcess } from '../support/canopy-process.js';
import { trackedClients } from '../support/ldap-clients.js';
import { pagedControl, pagedCookie, RawLdapClient } from '../support/raw-ldap.js';
import { openAccess, repoRoot, startTestServer } from '../support/server.js';

// Reload (SIGHUP, `canopy reload`) and graceful shutdown (SIGTERM), in process and as a real process.

const AVVID = 'DC=avvid,DC=info';
const VSE = 'DC=vse,DC=lab';
const cli = join(repoRoot, 'dist/cli.js');

function forests(avvidExtra = ''): string {
  return `forests:
  - { name: avvid, backend: memory, base: "${AVVID}", ldif: [fixtures/avvid.info.ldif]${avvidExtra} }
  - { name: vse, backend: memory, base: "${VSE}", ldif: [fixtures/vse.lab.ldif] }
`;
}

/** A configuration as the test server parses it (same listeners), for reloading. */
function configOf(yaml: string) {
  return parseConfig(`listen: { ldap: "ldap://127.0.0.1:0", ldaps: "ldaps://127.0.0.1:0" }\nhttp: { port: 0 }\n${yaml}`, { source: 'test', baseDir: repoRoot });
}

const client = trackedClients();

async function count(c: Client, base: string, filter: string): Promise<number> {
  const { searchEntries } = await c.search(base, { filter, attributes: ['1.1'] });
  return searchEntries.length;
}

/** Counts how often each forest's backend is closed. */
function closeCounter(closed: Map<string, number>) {
  return (forest: string, directory: Directory): Directory =>
    new Proxy(directory, {
      get(target, prop) {
        if (prop === 'close') {
          return () => {
            closed.set(forest, (closed.get(forest) ?? 0) + 1);
            return target.close();
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
}

describe('reload', () => {
  it('applies a changed forest filter to the next search on the same connection; unchanged forests keep their data', async () => {
    const server = await startTestServer(forests() + openAccess);
    try {
      const c = client(server.url);
      expect(await count(c, AVVID, '(sAMAccountName=jdoe)')).toBe(1);
      // A write to the forest that will not change: its backend (and this write) must survive the reload.
      const { searchEntries } = await c.search(VSE, { filter: '(sAMAccountName=jdoe)', attributes: ['1.1'] });
      await c.modify(searchEntries[0].dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: ['kept across reloads'] }) }));

      const report = await server.reload(configOf(forests(', filter: "(!(sAMAccountName=jdoe))"') + openAccess));
      expect(report.reopened).toEqual(['avvid']);
      expect(report.needRestart).toEqual([]);

      expect(await count(c, AVVID, '(sAMAccountName=jdoe)')).toBe(0);
      expect(await count(c, AVVID, '(sAMAccountName=*)')).toBeGreaterThan(10);
      expect(await count(c, VSE, '(description=kept across reloads)')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('refuses a configuration whose forest cannot be opened, and keeps serving the old one', async () => {
    const server = await startTestServer(forests() + openAccess);
    try {
      const broken = configOf(`forests:
  - { name: avvid, backend: memory, base: "${AVVID}", ldif: [fixtures/nowhere.ldif] }
  - { name: vse, backend: memory, base: "${VSE}", ldif: [fixtures/vse.lab.ldif] }
${openAccess}`);
      await expect(server.reload(broken)).rejects.toThrow(ConfigErrors);
      await expect(server.reload(broken)).rejects.toThrow(/forests\[0\]\.ldif\[0\]: cannot read/);
      const c = client(server.url);
      expect(await count(c, AVVID, '(sAMAccountName=jdoe)')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('names the settings that wait for a restart', async () => {
    const server = await startTestServer(forests() + openAccess);
    try {
      const report = await server.reload(configOf(`${forests()}${openAccess}limits: { maxPageSize: 50 }\n`));
      expect(report.needRestart).toEqual(['limits']);
      expect(report.reopened).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('lets a paged search begun before the reload finish on its configuration, then closes the replaced forest', async () => {
    const closed = new Map<string, number>();
    const server = await startTestServer(forests() + openAccess, { wrapBackend: closeCounter(closed) });
    const raw = await RawLdapClient.connect(server.url);
    try {
      const all = await count(client(server.url), AVVID, '(objectClass=*)');
      const first = await raw.search(AVVID, [pagedControl(10)]);
      expect(first.code).toBe(0);
      expect(first.dns).toHaveLength(10);

      // The new configuration hides everything below OU=Users; the running paged search must not notice.
      await server.reload(configOf(forests(', filter: "(objectClass=organizationalUnit)"') + openAccess));
      expect(closed.get('avvid') ?? 0).toBe(0);

      let cookie = pagedCookie(first);
      let seen = first.dns.length;
      while (cookie.length > 0) {
        const page = await raw.search(AVVID, [pagedControl(200, cookie)]);
        expect(page.code).toBe(0);
        seen += page.dns.length;
        cookie = pagedCookie(page);
      }
      expect(seen).toBe(all);
      await expect.poll(() => closed.get('avvid') ?? 0).toBe(1);
      expect(closed.get('vse') ?? 0).toBe(0);
      // A new search sees the new configuration.
      expect(await count(client(server.url), AVVID, '(sAMAccountName=jdoe)')).toBe(0);
    } finally {
      raw.close();
      await server.close();
    }
  });
});

/** A backend whose searches wait at a gate before sending anything: an operation kept in flight. */
function gated(gate: { open: Promise<void>; reached: () => void }) {
  return (forest: string, directory: Directory): Directory =>
    new Proxy(directory, {
      get(target, prop) {
        if (prop === 'search' && forest === 'avvid') {
          return (...args: Parameters<Directory['search']>): SearchStream => ({
            async *[Symbol.asyncIterator]() {
              gate.reached();
              await gate.open;
              yield* target.search(...args);
            },
          });
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
}

function canConnect(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(u.port), u.hostname, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('graceful shutdown', () => {
  it('stops accepting connections at once and lets a search in flight complete', async () => {
    let release!: () => void;
    let reached!: () => void;
    const started = new Promise<void>((r) => (reached = r));
    const gate = { open: new Promise<void>((r) => (release = r)), reached };
    const server = await startTestServer(forests() + openAccess, { wrapBackend: gated(gate) });
    const c = client(server.url);
    const search = c.search(AVVID, { filter: '(sAMAccountName=*)', attributes: ['sAMAccountName'] });
    await started;

    const closing = server.close(10_000);
    await expect.poll(() => canConnect(server.url)).toBe(false);
    release();
    const { searchEntries } = await search;
    expect(searchEntries.length).toBeGreaterThan(10);
    await closing;
  });

  it('lets a paged search (a sync between two pages) read its last page before the connection ends', async () => {
    const server = await startTestServer(forests() + openAccess);
    const raw = await RawLdapClient.connect(server.url);
    let closed = false;
    let closing: Promise<unknown> | undefined;
    try {
      const first = await raw.search(AVVID, [pagedControl(5)]);
      expect(first.dns).toHaveLength(5);
      closing = server.close(10_000).then(() => (closed = true));
      await expect.poll(() => canConnect(server.url)).toBe(false);
      let cookie = pagedCookie(first);
      let pages = 1;
      while (cookie.length > 0) {
        expect(closed).toBe(false);
        const page = await raw.search(AVVID, [pagedControl(5, cookie)]);
        expect(page.code).toBe(0);
        cookie = pagedCookie(page);
        pages++;
      }
      expect(pages).toBeGreaterThan(2);
      // The last page released the paged search: the shutdown goes on without the grace period.
      await closing;
    } finally {
      raw.close();
      await (closing ?? server.close());
    }
  });

  it('cuts off what is still running when the grace period ends', async () => {
    let reached!: () => void;
    const started = new Promise<void>((r) => (reached = r));
    const server = await startTestServer(forests() + openAccess, { wrapBackend: gated({ open: new Promise(() => undefined), reached }) });
    const c = client(server.url);
    const outcome = c.search(AVVID, { filter: '(sAMAccountName=*)' }).then(
      () => 'answered',
      (err: unknown) => err,
    );
    await started;
    await server.close(200);
    expect(await outcome).toBeInstanceOf(Error);
  });
});

describe('canopy serve as a process', () => {
  let canopy: CanopyProcess | undefined;
  afterEach(async () => {
    await canopy?.stop();
    canopy = undefined;
  });

  function setUp(): { dir: string; file: string; pidFile: string; write: (yaml: string) => void } {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-lifecycle-'));
    const file = join(dir, 'canopy.yaml');
    const write = (avvidExtra: string) =>
      writeFileSync(
        file,
        `listen: { ldap: "ldap://127.0.0.1:0" }\nhttp: { port: 0 }\nforests:
  - { name: avvid, backend: memory, base: "${AVVID}", ldif: ["${join(repoRoot, 'fixtures/avvid.info.ldif')}"]${avvidExtra} }
${openAccess}`,
      );
    write('');
    return { dir, file, pidFile: join(dir, 'canopy.pid'), write };
  }

  const reload = (...args: string[]) => spawnSync(process.execPath, [cli, 'reload', ...args], { encoding: 'utf8', timeout: 20_000 });


  it('re-reads its configuration on `canopy reload`, and keeps it when the new file is invalid', async () => {
    const { file, pidFile, write } = setUp();
    canopy = await spawnCanopy(process.execPath, [cli, 'serve', '--config', file, '--pid-file', pidFile]);
    const p = canopy;
    expect(Number(readFileSync(pidFile, 'utf8'))).toBe(p.child.pid);
    const c = client(p.url);
    expect(await count(c, AVVID, '(sAMAccountName=jdoe)')).toBe(1);

    write(', filter: "(!(sAMAccountName=jdoe))"');
    let mark = p.logLines.length;
    const r = reload('--pid-file', pidFile, '--config', file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect((await logged(p, 'configuration reloaded', mark))[0].reopened).toEqual(['avvid']);
    expect(await count(c, AVVID, '(sAMAccountName=jdoe)')).toBe(0);

    // Checked before signalling: an invalid file is reported and never reaches the server.
    writeFileSync(file, 'forests: []\n');
    const refused = reload('--pid-file', pidFile, '--config', file);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('forests');
    expect(refused.stderr).toContain('not reloaded');

    // Signalled anyway (SIGHUP from outside): the server refuses it and keeps the running configuration.
    mark = p.logLines.length;
    p.child.kill('SIGHUP');
    expect((await logged(p, 'reload refused: invalid configuration; the running one stays', mark))[0].errors).toContain('forests');
    expect(await count(c, AVVID, '(sAMAccountName=jdoe)')).toBe(0);
    expect(await count(c, AVVID, '(sAMAccountName=*)')).toBeGreaterThan(10);

    // A YAML syntax error on the line of an inline password: neither `canopy reload` nor the
    // server's log shows the line or the password.
    writeFileSync(file, 'tls:\n  certFile: c.pem\n  keyFile: k.pem\n  password: "S3cr3t-XYZ" oops\nforests: []\n');
    const secret = reload('--pid-file', pidFile, '--config', file);
    expect(secret.status).toBe(1);
    expect(secret.stderr).toMatch(/line 4, column \d+/);
    expect(secret.stderr).not.toContain('S3cr3t-XYZ');
    mark = p.logLines.length;
    p.child.kill('SIGHUP');
    const [refusedLine] = await logged(p, 'reload refused: invalid configuration; the running one stays', mark);
    expect(refusedLine.errors).toMatch(/line 4, column \d+/);
    expect(p.logLines.slice(mark).join('\n')).not.toContain('S3cr3t-XYZ');
    expect(await count(c, AVVID, '(sAMAccountName=*)')).toBeGreaterThan(10);
  });

  it('on SIGTERM, refuses new connections and lets a search in flight finish before exiting 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-lifecycle-'));
    const ldif = join(dir, 'big.ldif');
    const big = 'DC=big,DC=example';
    // Enough entries that the kernel's socket buffers cannot hold the answer: the search stays in flight.
    const generated = spawnSync(process.execPath, [join(repoRoot, 'dist/tools/fixtures-command.js'), '--users', '20000', '--suffix', big, '--seed', '1', '--out', ldif]);
    expect(generated.status).toBe(0);
    const entries = (readFileSync(ldif, 'utf8').match(/^dn: /gm) ?? []).length;
    const file = join(dir, 'canopy.yaml');
    writeFileSync(
      file,
      `listen: { ldap: "ldap://127.0.0.1:0" }\nhttp: { port: 0 }\nshutdown: { graceSeconds: 30 }\nforests:\n  - { name: big, backend: memory, base: "${big}", ldif: ["${ldif}"] }\n${openAccess}`,
    );
    canopy = await spawnCanopy(process.execPath, [cli, 'serve', '--config', file]);
    const p = canopy;
    const raw = await RawLdapClient.connect(p.url);
    try {
      raw.pause();
      const search = raw.search(big, [], undefined, ['*']);
      const exited = new Promise<number | null>((resolve) => p.child.once('exit', resolve));
      await new Promise((r) => setTimeout(r, 300));
      p.child.kill('SIGTERM');
      await logged(p, 'shutting down: no new connections; running operations may finish', 0);
      await expect.poll(() => canConnect(p.url)).toBe(false);
      expect(p.child.exitCode).toBeNull();
      raw.resume();
      const done = await search;
      expect(done.code).toBe(0);
      expect(done.dns).toHaveLength(entries);
      expect(await exited).toBe(0);
    } finally {
      raw.close();
    }
  });

  it('on SIGTERM, tells the clients still connected with a Notice of Disconnection (unavailable) before exiting 0', async () => {
    const { file } = setUp();
    canopy = await spawnCanopy(process.execPath, [cli, 'serve', '--config', file]);
    const raw = await RawLdapClient.connect(canopy.url);
    try {
      expect((await raw.search(AVVID)).code).toBe(0);
      expect(await canopy.stop()).toBe(0);
      await raw.closed;
      expect(raw.notices).toEqual([expect.objectContaining({ code: 52, message: 'server shutting down', responseName: '1.3.6.1.4.1.1466.20036' })]);
      expect(raw.received.at(-1)).toEqual({ id: 0, tag: 0x78 });
      expect(logRecords(canopy).find((l) => l.msg === 'notice of disconnection sent to the clients still connected')).toMatchObject({ clients: 1, code: 52 });
    } finally {
      raw.close();
    }
  });

  it('after an uncaught exception, tells the clients (other, 80), removes its pid file and exits 1 for its supervisor to restart it', async () => {
    const { file, pidFile } = setUp();
    const fault = { NODE_OPTIONS: `--import=${join(repoRoot, 'test/support/uncaught-fault.mjs')}`, CANOPY_TEST_FAULT: 'process' };
    canopy = await spawnCanopy(process.execPath, [cli, 'serve', '--config', file, '--pid-file', pidFile], { env: fault });
    const p = canopy;
    const raw = await RawLdapClient.connect(p.url);
    try {
      expect((await raw.search(AVVID)).code).toBe(0);
      const exited = new Promise<number | null>((resolve) => p.child.once('exit', resolve));
      p.child.kill('SIGWINCH');
      await raw.closed;
      expect(raw.notices).toEqual([expect.objectContaining({ code: 80, message: 'internal error in the server; connect again', responseName: '1.3.6.1.4.1.1466.20036' })]);
      expect(await exited).toBe(1);
      expect(existsSync(pidFile)).toBe(false);
      expect(logRecords(p).find((l) => l.msg === 'canopy failed: uncaught exception; its connections are closed and it exits')).toMatchObject({
        level: 60,
        err: { message: 'fault injected by the test (SIGWINCH)' },
      });
    } finally {
      raw.close();
    }
  });

  it('exits 0 on SIGTERM and removes its pid file', async () => {
    const { file, pidFile } = setUp();
    canopy = await spawnCanopy(process.execPath, [cli, 'serve', '--config', file, '--pid-file', pidFile]);
    expect(existsSync(pidFile)).toBe(true);
    expect(await canopy.stop()).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
    expect(canopy.logLines.some((l) => l.includes('"msg":"shutting down: no new connections; running operations may finish"'))).toBe(true);
  });

  it('`canopy reload` reports a missing --pid-file, an unreadable pid file and a process that is gone', () => {
    const { dir } = setUp();
    const usage = reload();
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('reload needs --pid-file');
    const missing = reload('--pid-file', join(dir, 'none.pid'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('cannot read pid file');
    const gone = join(dir, 'gone.pid');
    writeFileSync(gone, '2147483646\n');
    const r = reload('--pid-file', gone);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no such process');
  });
});
