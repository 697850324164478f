import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecoveryProbe } from '../../src/backends/ldap/recovery-probe.js';
import { ServerSelector } from '../../src/backends/ldap/server-selector.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { createLogger } from '../../src/observability/logger.js';

/** A backoff far longer than the tests: only the probe can bring a server back. */
const LONG = { initialMs: 60_000, maxMs: 60_000 };

describe('RecoveryProbe', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(answers: (index: number) => boolean | Error) {
    const selector = new ServerSelector('avvid', ['ldap://a', 'ldap://b'], createLogger('silent'), LONG, () => Date.now());
    const probed: number[] = [];
    const probe = new RecoveryProbe(
      selector,
      (i) => {
        probed.push(i);
        const answer = answers(i);
        if (answer instanceof Error) return Promise.reject(answer);
        return answer ? Promise.resolve() : Promise.reject(new Error('ECONNREFUSED'));
      },
      1000,
    );
    return { selector, probe, probed };
  }

  it('probes nothing while every server is up', async () => {
    const { probed } = setup(() => true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(probed).toEqual([]);
  });

  it('probes a server marked down every second and marks it up as soon as it answers, then stops', async () => {
    let answering = false;
    const { selector, probed } = setup(() => answering);
    selector.markDown(0, new Error('ECONNRESET'));
    expect(selector.candidates()).toEqual([1]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(probed).toEqual([0, 0, 0]);
    expect(selector.downServers()).toEqual([0]);
    answering = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(selector.downServers()).toEqual([]);
    expect(selector.candidates()).toEqual([0, 1]);
    expect(selector.shouldLeave(1)).toBe(true); // connections to the second server give way to the first
    await vi.advanceTimersByTimeAsync(5000);
    expect(probed).toHaveLength(4);
  });

  it('keeps a server down when it answers with an error other than a server failure', async () => {
    const { selector, probed } = setup(() => new LdapError(52, 'service account refused'));
    selector.markDown(1, new Error('ETIMEDOUT'));
    await vi.advanceTimersByTimeAsync(2000);
    expect(probed).toEqual([1, 1]);
    expect(selector.downServers()).toEqual([1]);
  });

  it('stops probing when closed', async () => {
    const { selector, probe, probed } = setup(() => false);
    selector.markDown(0, new Error('ECONNRESET'));
    await vi.advanceTimersByTimeAsync(1000);
    probe.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(probed).toEqual([0]);
  });
});
