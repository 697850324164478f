import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Attribute, Change, Client, EqualityFilter } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { captureLog } from '../support/log-capture.js';
import { fixtureForests, openAccess, repoRoot, startTestServer } from '../support/server.js';

const service = 'CN=svc-canopy,OU=ServiceAccounts,DC=avvid,DC=info';
const john = 'CN=John Doe,OU=Users,DC=avvid,DC=info';

// The per-operation access log: one JSON line per operation with what an administrator needs,
// and never a password, whichever operation carried it.
describe('access log', () => {
  const { lines, raw, logger } = captureLog();
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const secrets = [USER_PASSWORD, SERVICE_PASSWORD, 'Wrong-Guess-123', 'Probe-Secret-456', 'New-Secret-789'];

  beforeAll(async () => {
    server = await startTestServer(undefined, { logger });
    const client = new Client({ url: server.url });
    await client.bind(service, SERVICE_PASSWORD);
    await client.search('DC=avvid,DC=info', { filter: '(sAMAccountName=jdoe)', attributes: ['cn'] });
    await client.search('DC=avvid,DC=info', { filter: new EqualityFilter({ attribute: 'userPassword', value: 'Probe-Secret-456' }) });
    await client.modify(john, new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: ['New-Secret-789'] }) }));
    await client.compare(john, 'userPassword', 'New-Secret-789');
    await expect(client.bind(john, 'Wrong-Guess-123')).rejects.toMatchObject({ code: 49 });
    await client.bind(john, 'New-Secret-789');
    // This server has no TLS: the refused StartTLS is an operation like the others.
    await expect(client.startTLS({})).rejects.toMatchObject({ code: 2 });
    await client.unbind();
    await server.close();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('writes one line per operation with connection, peer, operation, DN, result and duration', () => {
    const ops = lines.filter((l) => l.msg === 'operation');
    expect(ops.map((l) => l.op)).toEqual(['bind', 'search', 'search', 'modify', 'compare', 'bind', 'bind', 'startTLS']);
    expect(ops.at(-1)).toMatchObject({ code: 2, message: 'StartTLS is not configured' });
    for (const l of ops) {
      expect(l).toMatchObject({ conn: expect.any(Number), peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/), ms: expect.any(Number) });
    }
    const search = ops.find((l) => l.op === 'search' && String(l.filter).includes('sAMAccountName'));
    expect(search).toMatchObject({ dn: 'DC=avvid,DC=info', scope: 'sub', filter: '(sAMAccountName=jdoe)', code: 0, entries: 1 });
    expect(ops.filter((l) => l.op === 'bind').map((l) => l.code)).toEqual([0, 49, 0]);
    // A failure carries its diagnostic message, as the client got it; a success none.
    expect(ops.find((l) => l.op === 'bind' && l.code === 49)).toMatchObject({ message: 'invalid credentials' });
    expect(search).not.toHaveProperty('message');
  });

  it('writes a bind audit line for every bind: the name as sent, the peer, the forest and the result', () => {
    const audits = lines.filter((l) => l.msg === 'bind audit');
    expect(audits.map(({ bind, identity, forest, code }) => ({ bind, identity, forest, code }))).toEqual([
      { bind: service, identity: 'user', forest: 'avvid', code: 0 },
      { bind: john, identity: 'anonymous', forest: undefined, code: 49 },
      { bind: john, identity: 'user', forest: 'avvid', code: 0 },
    ]);
    for (const a of audits) expect(a).toMatchObject({ level: 30, conn: expect.any(Number), peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    const auditText = raw.filter((l) => l.includes('"bind audit"')).join('\n');
    for (const secret of secrets) expect(auditText).not.toContain(secret);
  });

  it('never contains a password, in any line', () => {
    expect(raw.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(raw.join('\n')).not.toContain(secret);
    expect(lines.find((l) => String(l.filter).includes('userPassword'))?.filter).toBe('(userPassword=***)');
  });
});

describe('access log settings', () => {
  /** Serves the fixtures with `logging` settings, runs `work` as the service account, returns the log. */
  async function run(logging: string, work: (client: Client) => Promise<void>) {
    const log = captureLog();
    const server = await startTestServer(`${fixtureForests}${openAccess}logging: ${logging}\n`, { logger: log.logger });
    try {
      const client = new Client({ url: server.url });
      await client.bind(service, SERVICE_PASSWORD);
      await work(client);
      await expect(client.bind(john, 'Wrong-Guess-123')).rejects.toMatchObject({ code: 49 });
      await client.unbind();
    } finally {
      await server.close();
    }
    return log.lines;
  }

  const searches = (n: number) => async (client: Client) => {
    for (let i = 0; i < n; i++) await client.search(john, { scope: 'base', attributes: ['cn'] });
  };

  it('is off with accessLog: false, while bind audit lines stay', async () => {
    const lines = await run('{ accessLog: false }', async (client) => {
      await searches(3)(client);
      await expect(client.search('OU=Nowhere,DC=avvid,DC=info', {})).rejects.toMatchObject({ code: 32 });
    });
    expect(lines.filter((l) => l.msg === 'operation')).toEqual([]);
    expect(lines.filter((l) => l.msg === 'bind audit').map((l) => l.code)).toEqual([0, 49]);
  });

  it('logs failures only at sample rate 0', async () => {
    const lines = await run('{ accessLogSampleRate: 0 }', async (client) => {
      await searches(3)(client);
      await expect(client.search('OU=Nowhere,DC=avvid,DC=info', {})).rejects.toMatchObject({ code: 32 });
    });
    const ops = lines.filter((l) => l.msg === 'operation');
    expect(ops.map((l) => [l.op, l.code])).toEqual([
      ['search', 32],
      ['bind', 49],
    ]);
  });

  it('logs a share of the successful operations at a sample rate between 0 and 1', async () => {
    const lines = await run('{ accessLogSampleRate: 0.5 }', searches(100));
    const logged = lines.filter((l) => l.msg === 'operation' && l.op === 'search').length;
    // Each of 100 searches is logged with probability ½: none or all has a chance of 2^-99.
    expect(logged).toBeGreaterThan(0);
    expect(logged).toBeLessThan(100);
    expect(lines.filter((l) => l.msg === 'operation' && l.code === 49)).toHaveLength(1);
  });
});

describe('canopy serve --log-format', () => {
  const cli = join(repoRoot, 'dist/cli.js');
  const env = { ...process.env, CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0', CANOPY_LOG_LEVEL: 'info' };

  it('pretty writes human-readable lines instead of JSON', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--log-format', 'pretty'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const listening = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "canopy listening" line within 20 s:\n${lines.join('\n')}`)), 20_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (line.includes('canopy listening')) {
          clearTimeout(timer);
          resolve(line);
        }
      });
      child.once('exit', (code) => reject(new Error(`canopy exited with ${code}:\n${lines.join('\n')}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(listening).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO \(canopy\): canopy listening$/);
    expect(lines.some((l) => /^\s+urls: \[/.test(l))).toBe(true);
    const jsonObject = (line: string): boolean => {
      try {
        return typeof JSON.parse(line) === 'object';
      } catch {
        return false;
      }
    };
    expect(lines.filter(jsonObject)).toEqual([]);
  });

  it('refuses an unknown format as a usage error', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', '--log-format', 'xml'], { env, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--log-format must be json or pretty, not "xml"');
  });
});
