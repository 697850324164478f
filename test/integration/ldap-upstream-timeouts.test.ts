/**
 * An upstream connection's operation timeout, kept by one timer per connection: each request
 * outstanding on a frozen (SIGSTOPped) slapd fails with its own timeout, oldest first, and the
 * connection takes nothing new; answers that arrive in time are untouched.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinaryAttributes } from '../../src/backends/ldap/entry-from-ber.js';
import { OperationTimeout } from '../../src/backends/ldap/errors.js';
import { UpstreamConnection, type ConnectOptions } from '../../src/backends/ldap/upstream-connection.js';
import { toLdaptsFilter } from '../../src/backends/ldap/filter-to-ldapts.js';
import { startSlapd, type Slapd } from '../support/slapd.js';

const SUFFIX = 'DC=avvid,DC=info';
const FIXTURE = fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NO_BINARY = new BinaryAttributes([]);

describe('upstream operation timeouts', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd({ suffix: SUFFIX, ldif: [FIXTURE] });
  });
  afterAll(async () => {
    process.kill(slapd.pid!, 'SIGCONT');
    await slapd.stop();
  });

  const options = (operationMs: number): ConnectOptions => ({ url: slapd.url, tls: { mode: 'none' }, connectMs: 2000, operationMs });
  const base = (c: UpstreamConnection) => c.search(SUFFIX, { scope: 'base', filter: toLdaptsFilter({ type: 'present', attribute: 'objectClass' }), attributes: ['1.1'], timeLimit: 0 }, NO_BINARY);

  it('answers in time are not timed out, on a connection used for longer than its timeout', async () => {
    const connection = await UpstreamConnection.open(options(150), 0);
    try {
      for (let i = 0; i < 6; i++) {
        expect((await base(connection)).reply.status).toBe(0);
        await sleep(50);
      }
      expect(connection.reusable).toBe(true);
    } finally {
      connection.close();
    }
  });

  it('fails each request outstanding on a frozen server after its own timeout, oldest first, and retires the connection', async () => {
    const connection = await UpstreamConnection.open(options(300), 0);
    try {
      process.kill(slapd.pid!, 'SIGSTOP');
      while (!/^State:\s+T/m.test(await readFile(`/proc/${slapd.pid}/status`, 'utf8'))) await sleep(5);
      const started = performance.now();
      const failedAt: number[] = [];
      const first = base(connection).catch((e: unknown) => (failedAt.push(performance.now() - started), e));
      await sleep(150);
      const second = base(connection).catch((e: unknown) => (failedAt.push(performance.now() - started), e));
      expect(await first).toBeInstanceOf(OperationTimeout);
      expect(connection.reusable).toBe(false); // the server may be stuck: nothing new goes there
      expect(await second).toBeInstanceOf(OperationTimeout);
      expect((await second as Error).message).toMatch(/no answer within 300 ms/);
      expect(failedAt[0]).toBeGreaterThanOrEqual(290);
      expect(failedAt[1]).toBeGreaterThanOrEqual(440); // its own 300 ms, not the first one's
      expect(failedAt[1] - failedAt[0]).toBeGreaterThanOrEqual(100);
    } finally {
      process.kill(slapd.pid!, 'SIGCONT');
      connection.close();
    }
  });
});
