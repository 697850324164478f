/**
 * Recovery in seconds: a server that was killed (SIGKILL) or frozen (SIGSTOP) is served again
 * about a second after it answers, found by the recovery probe, although the backoff these
 * forests are given (60 s) would keep requests away from it far longer.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openLdapForest, type LdapDirectory } from '../../src/backends/ldap/ldap-directory.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { createLogger } from '../../src/observability/logger.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { collect, context, ldapForestConfig, searchRequest } from './ldap-helpers.js';

const SUFFIX = 'DC=avvid,DC=info';
const FIXTURE = fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url));
const LONG_BACKOFF = { initialMs: 60_000, maxMs: 60_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `during` while the process is stopped (SIGSTOP, once the kernel shows it), continuing it after. */
async function whileFrozen<T>(pid: number, during: () => Promise<T>): Promise<T> {
  process.kill(pid, 'SIGSTOP');
  try {
    while (!/^State:\s+T/m.test(await readFile(`/proc/${pid}/status`, 'utf8'))) await sleep(10);
    return await during();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

describe('ldap forest recovery', () => {
  const slapds: Slapd[] = [];
  let forest: LdapDirectory | undefined;

  afterEach(async () => {
    await forest?.close();
    forest = undefined;
    await Promise.all(slapds.splice(0).map((s) => s.stop()));
  });

  async function start(count: number, timeouts = { connectMs: 2000, operationMs: 5000 }): Promise<Slapd[]> {
    const started = await Promise.all(Array.from({ length: count }, () => startSlapd({ suffix: SUFFIX, ldif: [FIXTURE] })));
    slapds.push(...started);
    forest = openLdapForest(ldapForestConfig(SUFFIX, started.map((s) => s.url), { timeouts }), createLogger('silent'), { backoff: LONG_BACKOFF });
    return started;
  }

  const lookup = async (): Promise<number | LdapError> => {
    try {
      return (await collect(forest!.search(searchRequest(SUFFIX, '(sAMAccountName=jdoe)', 'sub', ['1.1']), context()))).length;
    } catch (err) {
      if (err instanceof LdapError) return err;
      throw err;
    }
  };

  /** Milliseconds until `done` holds, trying every 100 ms for at most `limitMs`. */
  async function msUntil(done: () => Promise<boolean>, limitMs = 10_000): Promise<number> {
    const started = Date.now();
    while (!(await done())) {
      if (Date.now() - started > limitMs) return Infinity;
      await sleep(100);
    }
    return Date.now() - started;
  }

  const served = async () => (await lookup()) === 1;

  it('serves a one-server forest again within 2 s of a SIGKILLed server restarting', async () => {
    const [slapd] = await start(1);
    expect(await lookup()).toBe(1);
    process.kill(slapd.pid!, 'SIGKILL');
    await sleep(100);
    const failed = await lookup();
    expect(failed).toBeInstanceOf(LdapError);
    expect((failed as LdapError).code).toBe(52);
    expect((failed as LdapError).message).toMatch(/^forest "avvid": /);
    await sleep(2000); // an outage of a few probes
    expect(await lookup()).toBeInstanceOf(LdapError);
    await slapd.restart();
    expect(await msUntil(served)).toBeLessThan(2000);
  });

  it('serves a one-server forest again within a few seconds of a SIGSTOPped server continuing', async () => {
    const [slapd] = await start(1, { connectMs: 1000, operationMs: 1000 });
    expect(await lookup()).toBe(1);
    await whileFrozen(slapd.pid!, async () => {
      const failed = await lookup(); // times out on the pooled connection, then no server is left
      expect(failed).toBeInstanceOf(LdapError);
      expect((failed as LdapError).code).toBe(52);
      await sleep(2000);
    });
    expect(await msUntil(served)).toBeLessThan(3000);
  });

  it('one request timing out does not take a one-server forest away: the server is checked first, and it answers', async () => {
    // A server frozen for less than a probe's wait: what one slow request looks like to Canopy.
    const [slapd] = await start(1, { connectMs: 1000, operationMs: 600 });
    expect(await lookup()).toBe(1);
    const [first, second] = await whileFrozen(slapd.pid!, async () => {
      const first = lookup(); // times out at 600 ms; its retry waits for the server
      await sleep(700);
      const second = lookup(); // sent after that timeout: before, the forest was marked down then (52 until a probe)
      await sleep(150);
      return [first, second];
    });
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    expect(await metricValue(metrics.upstreamServerUp, { forest: 'avvid', server: slapd.url })).toBe(1);
  });

  it('goes back to the first server of two within 2 s of it answering again', async () => {
    const [first, second] = await start(2);
    expect(await lookup()).toBe(1);
    expect(forest!.poolStats().idleServers).toEqual([first.url]);
    process.kill(first.pid!, 'SIGKILL');
    await sleep(100);
    // The first server's connection fails; the lookup is answered by the second.
    expect(await lookup()).toBe(1);
    expect(forest!.poolStats().idleServers).toEqual([second.url]);
    await sleep(1500);
    await first.restart();
    const ms = await msUntil(async () => (await lookup()) === 1 && forest!.poolStats().idleServers.join() === first.url);
    expect(ms).toBeLessThan(2000);
  });
});
