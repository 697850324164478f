import { describe, expect, it } from 'vitest';
import { securitySchema } from '../../src/config/auth-schema.js';
import { ThrottleClient, ThrottleHost, type ThrottleAnswer, type ThrottleRequest } from '../../src/auth/shared-bind-throttle.js';
import { LdapError } from '../../src/core/ldap-error.js';

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

describe('the failed-bind throttle shared by workers', () => {
  it('counts failures from both workers against one limit', async () => {
    const { a, b } = cluster({ maxFailuresPerAccount: 2, slowAfter: 1, delayMs: 70 });
    expect(await (await a.attempt('10.0.0.1', 'egreen', never)).failed()).toEqual({ delayMs: 0, limitReached: false });
    // The second failure, through the other worker: slowed and at the limit.
    expect(await (await b.attempt('10.0.0.2', 'egreen', never)).failed()).toEqual({ delayMs: 70, limitReached: true });
    const refused = await a.attempt('10.0.0.1', 'egreen', never).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LdapError);
    expect((refused as LdapError).message).toMatch(/too many failed binds/);
    // Another account is untouched.
    (await b.attempt('10.0.0.2', 'jdoe', never)).succeeded();
  });

  it('a bind given up while waiting for its turn leaves nothing reserved', async () => {
    const { a, b } = cluster({ maxFailuresPerAccount: 1 });
    const held = await a.attempt('10.0.0.1', 'egreen', never);
    const giveUp = new AbortController();
    const waiting = b.attempt('10.0.0.2', 'egreen', giveUp.signal);
    await new Promise((r) => setImmediate(r));
    giveUp.abort(new Error('abandoned'));
    await expect(waiting).rejects.toThrow('abandoned');
    held.succeeded();
    // Two attempts in a row are granted: neither the abandoned one nor the settled one holds a place.
    (await b.attempt('10.0.0.2', 'egreen', never)).succeeded();
    (await a.attempt('10.0.0.1', 'egreen', never)).undecided();
  });

  it('a worker that ends hands back what it held: binds waiting in the other worker go on', async () => {
    const { host, a, b } = cluster({ maxFailuresPerAccount: 1 });
    await a.attempt('10.0.0.1', 'egreen', never);
    const waiting = b.attempt('10.0.0.2', 'egreen', never);
    await new Promise((r) => setImmediate(r));
    host.ended(1);
    (await waiting).succeeded();
  });
});
