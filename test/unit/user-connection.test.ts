import { describe, expect, it } from 'vitest';
import { UserConnection } from '../../src/backends/ldap/user-connection.js';
import type { UpstreamConnection } from '../../src/backends/ldap/upstream-connection.js';
import { ResultCode } from '../../src/core/result-codes.js';

/** A stand-in for the upstream connection: only whether it was closed matters here. */
function fakeConnection(): UpstreamConnection & { closed: boolean } {
  const c = { closed: false, reusable: true, close: () => void (c.closed = true) };
  return c as unknown as UpstreamConnection & { closed: boolean };
}

describe('UserConnection: a login ending while its writes are under way', () => {
  it('lets the write under way finish on the connection, refuses those not yet sent, then closes and wipes the password', async () => {
    const connection = fakeConnection();
    const password = Buffer.from('Passw0rd!');
    let opened = 0;
    const user = new UserConnection('cn=u', 'cn=u', password, async () => (opened++, connection));
    let finish!: (value: string) => void;
    const underWay = user.run(() => new Promise<string>((resolve) => (finish = resolve)));
    const queued = user.run(async () => 'sent');
    await new Promise((resolve) => setImmediate(resolve)); // the first write has its connection
    user.close();
    let ended = false;
    void user.ended.then(() => (ended = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(connection.closed).toBe(false);
    expect(ended).toBe(false); // the login still holds its connection for the write under way
    finish('applied');
    expect(await underWay).toBe('applied');
    // Not sent: refused as unavailable (52), which says nothing was done, never as a server failure.
    await expect(queued).rejects.toMatchObject({ code: ResultCode.unavailable });
    await expect(user.run(async () => 'late')).rejects.toMatchObject({ code: ResultCode.unavailable });
    await new Promise((resolve) => setImmediate(resolve));
    expect(connection.closed).toBe(true);
    expect(ended).toBe(true);
    expect(password.every((b) => b === 0)).toBe(true);
    expect(opened).toBe(1);
  });

  it('closes at once when no write is under way', async () => {
    const connection = fakeConnection();
    const user = new UserConnection('cn=u', 'cn=u', Buffer.from('x'), async () => connection);
    expect(await user.run(async () => 1)).toBe(1);
    user.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(connection.closed).toBe(true);
  });
});
