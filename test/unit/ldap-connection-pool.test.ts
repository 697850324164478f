import { describe, expect, it } from 'vitest';
import { ConnectionPool } from '../../src/backends/ldap/connection-pool.js';
import { ServerSelector } from '../../src/backends/ldap/server-selector.js';
import type { UpstreamConnection } from '../../src/backends/ldap/upstream-connection.js';
import { createLogger } from '../../src/observability/logger.js';

interface Fake {
  serverIndex: number;
  reusable: boolean;
  closed: boolean;
  close(): void;
}

function setup(size: number, clock = { now: 0 }) {
  const selector = new ServerSelector('f', ['ldap://a', 'ldap://b'], createLogger('silent'), { initialMs: 100, maxMs: 100 }, () => clock.now);
  const opened: Fake[] = [];
  const down = new Set<number>();
  const pool = new ConnectionPool(
    selector,
    (serverIndex) => {
      if (down.has(serverIndex)) return Promise.reject(new Error('ECONNREFUSED'));
      const fake: Fake = { serverIndex, reusable: true, closed: false, close: () => void (fake.closed = true) };
      opened.push(fake);
      return Promise.resolve(fake as unknown as UpstreamConnection);
    },
    { size, idleMs: 0 },
  );
  return { pool, selector, opened, down, clock };
}

const signal = () => new AbortController().signal;

describe('ConnectionPool', () => {
  it('lends each connection to one operation at a time and queues the rest', async () => {
    const { pool, opened } = setup(1);
    const first = await pool.acquire(signal());
    let second: UpstreamConnection | undefined;
    const waiting = pool.acquire(signal()).then((c) => (second = c));
    await Promise.resolve();
    expect(second).toBeUndefined();
    pool.release(first, true);
    await waiting;
    expect(second).toBe(first);
    expect(opened).toHaveLength(1);
  });

  it('stops waiting when the operation is aborted', async () => {
    const { pool } = setup(1);
    const held = await pool.acquire(signal());
    const controller = new AbortController();
    const waiting = pool.acquire(controller.signal);
    controller.abort(new Error('abandoned'));
    await expect(waiting).rejects.toThrow('abandoned');
    pool.release(held, true);
    expect(pool.stats()).toEqual({ open: 1, busy: 0, idleServers: [0] });
  });

  it('closes connections that are not reusable, and gives way to the first server when it is back', async () => {
    const { pool, selector, opened, down, clock } = setup(2);
    down.add(0);
    const onSecond = await pool.acquire(signal());
    expect(onSecond.serverIndex).toBe(1);
    pool.release(onSecond, true);
    expect((await pool.acquire(signal())) === onSecond).toBe(true);
    pool.release(onSecond, true);
    down.delete(0);
    clock.now = 100; // backoff over: the first server may be tried again
    const back = await pool.acquire(signal());
    expect(back.serverIndex).toBe(0);
    expect(opened[0].closed).toBe(true);
    pool.release(back, false);
    expect(opened[1].closed).toBe(true);
    expect(pool.stats().open).toBe(0);
    expect(selector.candidates()).toEqual([0, 1]);
  });

  it('fails waiting operations when closed', async () => {
    const { pool } = setup(1);
    const held = await pool.acquire(signal());
    const waiting = pool.acquire(signal());
    await pool.close();
    await expect(waiting).rejects.toMatchObject({ code: 52 });
    pool.release(held, true);
    expect(pool.stats().open).toBe(0);
  });
});
