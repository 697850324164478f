import { describe, expect, it } from 'vitest';
import { securitySchema } from '../../src/config/auth-schema.js';
import type { Reservation, ThrottledAttempt } from '../../src/auth/bind-throttle.js';
import { ThrottleClient, ThrottleHost, type ThrottleAnswer, type ThrottleRequest } from '../../src/auth/shared-bind-throttle.js';

// The primary's throttle and two workers' clients, joined as the IPC channel joins them: each
// message delivered later, in order (the integration test runs them as real processes).

function cluster(throttle: Record<string, number>) {
  const settings = securitySchema.parse({ throttle }).throttle;
  const clients = new Map<number, ThrottleClient>();
  const host = new ThrottleHost(settings, (worker: number, message: ThrottleAnswer) => setImmediate(() => clients.get(worker)!.received(message)));
  for (const id of [1, 2]) clients.set(id, new ThrottleClient((message: ThrottleRequest) => setImmediate(() => host.received(id, message))));
  return { host, a: clients.get(1)!, b: clients.get(2)! };
}

const never = new AbortController().signal;
/** A name that resolves to `account`, spelled `spelling`. */
const keys = (account: string, spelling: string = account) => ({ account, spelling });
/** The attempt a reservation grants (the test fails if it was refused). */
async function granted(r: Promise<Reservation<ThrottledAttempt>>): Promise<ThrottledAttempt> {
  const { granted: attempt, refused } = await r;
  if (!attempt) throw new Error(`refused: ${JSON.stringify(refused)}`);
  return attempt;
}

describe('the failed-bind throttle shared by workers', () => {
  it('counts failures from both workers against one limit, and slows by the spelling each worker sends', async () => {
    const { a, b } = cluster({ maxFailuresPerAccount: 3, slowAfter: 1, delayMs: 70 });
    expect(await (await granted(a.attempt('10.0.0.1', keys('egreen', 'nt:egreen'), never))).failed()).toEqual({ delayMs: 0, limitReached: false });
    // The second failure of the spelling, through the other worker: slowed.
    expect(await (await granted(b.attempt('10.0.0.2', keys('egreen', 'nt:egreen'), never))).failed()).toEqual({ delayMs: 70, limitReached: false });
    // The account's third, by another spelling: at the limit, not slowed.
    expect(await (await granted(a.attempt('10.0.0.1', keys('egreen', 'upn:egreen@x'), never))).failed()).toEqual({ delayMs: 0, limitReached: true });
    // Refused unchecked, with the delay a failure of its spelling would wait (the spelling's second failure).
    expect(await a.attempt('10.0.0.1', keys('egreen', 'upn:egreen@x'), never)).toMatchObject({ refused: { delayMs: 70 } });
    // Another account is untouched.
    (await granted(b.attempt('10.0.0.2', keys('jdoe'), never))).succeeded();
  });

  it('a bind given up while waiting for its turn leaves nothing reserved', async () => {
    const { a, b } = cluster({ maxFailuresPerAccount: 1 });
    const held = await granted(a.attempt('10.0.0.1', keys('egreen'), never));
    const giveUp = new AbortController();
    const waiting = b.attempt('10.0.0.2', keys('egreen'), giveUp.signal);
    await new Promise((r) => setImmediate(r));
    giveUp.abort(new Error('abandoned'));
    await expect(waiting).rejects.toThrow('abandoned');
    held.succeeded();
    // Two attempts in a row are granted: neither the abandoned one nor the settled one holds a place.
    (await granted(b.attempt('10.0.0.2', keys('egreen'), never))).succeeded();
    (await granted(a.attempt('10.0.0.1', keys('egreen'), never))).undecided();
  });

  it('a worker that ends hands back what it held: binds waiting in the other worker go on', async () => {
    const { host, a, b } = cluster({ maxFailuresPerAccount: 1 });
    await a.attempt('10.0.0.1', keys('egreen'), never);
    const waiting = granted(b.attempt('10.0.0.2', keys('egreen'), never));
    await new Promise((r) => setImmediate(r));
    host.ended(1);
    (await waiting).succeeded();
  });
});
