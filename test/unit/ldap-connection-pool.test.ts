import { describe, expect, it, vi } from 'vitest';
import { ConnectionPool, type PoolOptions } from '../../src/backends/ldap/connection-pool.js';
import { ServerSelector } from '../../src/backends/ldap/server-selector.js';
import type { UpstreamConnection } from '../../src/backends/ldap/upstream-connection.js';
import { createLogger } from '../../src/observability/logger.js';

interface Fake {
  serverIndex: number;
  reusable: boolean;
  closed: boolean;
  close(): void;
  retire(): void;
}

function setup(options: Partial<PoolOptions> = {}, clock = { now: 0 }) {
  const selector = new ServerSelector('f', ['ldap://a', 'ldap://b'], createLogger('silent'), { initialMs: 100, maxMs: 100 }, () => clock.now);
  const opened: Fake[] = [];
  const down = new Set<number>();
  const pool = new ConnectionPool(
    selector,
    (serverIndex) => {
      if (down.has(serverIndex)) return Promise.reject(new Error('ECONNREFUSED'));
      const fake: Fake = {
        serverIndex,
        reusable: true,
        closed: false,
        close: () => void (fake.closed = true),
        retire: () => void (fake.reusable = false),
      };
      opened.push(fake);
      return Promise.resolve(fake as unknown as UpstreamConnection);
    },
    { name: 'forest "f"', size: 2, perConnection: 3, idleMs: 0, ...options },
  );
  return { pool, selector, opened, down, clock };
}

const signal = () => new AbortController().signal;

describe('ConnectionPool', () => {
  it('fills a connection up to perConnection before opening the next, then queues', async () => {
    const { pool, opened } = setup();
    const held: UpstreamConnection[] = [];
    for (let i = 0; i < 3; i++) held.push(await pool.acquire(signal()));
    expect(opened).toHaveLength(1); // requests on one connection in one turn leave in one write
    for (let i = 0; i < 3; i++) held.push(await pool.acquire(signal()));
    expect(opened).toHaveLength(2);
    expect(held.filter((c) => c === held[0])).toHaveLength(3);
    expect(pool.stats()).toMatchObject({ open: 2, busy: 2, operations: 6 });
    let seventh: UpstreamConnection | undefined;
    const waiting = pool.acquire(signal()).then((c) => (seventh = c));
    await Promise.resolve();
    expect(seventh).toBeUndefined();
    pool.release(held[4], true);
    await waiting;
    expect(seventh).toBe(held[4]);
  });

  it('puts operations on a connection without a paged search first', async () => {
    const { pool } = setup({ size: 2 });
    const cursor = await pool.acquire(signal(), 'cursor', 'a');
    const plain = await pool.acquire(signal()); // a new connection while size allows
    expect(plain).not.toBe(cursor);
    expect(await pool.acquire(signal())).toBe(plain);
    expect(await pool.acquire(signal())).toBe(plain); // full now (3)
    expect(await pool.acquire(signal())).toBe(cursor); // size reached: shares the cursor's
  });

  it('never lends a connection it is opening to anyone but the one it is opened for', async () => {
    const selector = new ServerSelector('f', ['ldap://a'], createLogger('silent'));
    let opened!: () => void;
    const pool = new ConnectionPool(
      selector,
      (serverIndex) => new Promise((resolve) => (opened = () => resolve({ serverIndex, reusable: true, close() {}, retire() {} } as unknown as UpstreamConnection))),
      { name: 'forest "f"', size: 1, perConnection: 1, idleMs: 0 },
    );
    const lent: UpstreamConnection[] = [];
    const ask = (): void => void pool.acquire(signal()).then((c) => lent.push(c));
    ask();
    await Promise.resolve();
    opened();
    // Others ask at every step while the opener resumes: none may share its connection.
    for (let i = 0; i < 10; i++) {
      ask();
      await Promise.resolve();
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(lent).toHaveLength(1);
    expect(pool.stats()).toMatchObject({ open: 1, operations: 1 });
  });

  it('keeps one paged search per connection, beside other operations', async () => {
    const { pool, opened } = setup({ size: 2 });
    const lookup = await pool.acquire(signal());
    const cursor1 = await pool.acquire(signal(), 'cursor', 'a');
    const cursor2 = await pool.acquire(signal(), 'cursor', 'b');
    expect(cursor1).not.toBe(cursor2);
    expect(opened).toHaveLength(2);
    // Both connections hold a cursor: operations still go through, a third cursor waits.
    expect(await pool.acquire(signal())).toBeDefined();
    let third: UpstreamConnection | undefined;
    const waiting = pool.acquire(signal(), 'cursor', 'c').then((c) => (third = c));
    await Promise.resolve();
    expect(third).toBeUndefined();
    pool.release(cursor2, true, 'cursor', 'b');
    await waiting;
    expect(third).toBe(cursor2);
    expect(pool.stats().cursors).toBe(2);
    pool.release(lookup, true);
  });

  it('keeps the last cursor connection for identities holding none: a few identities never take every one', async () => {
    const { pool } = setup({ size: 4, cursorsPerHolder: 2 });
    const a = [await pool.acquire(signal(), 'cursor', 'cn=a'), await pool.acquire(signal(), 'cursor', 'cn=a')]; // alone: its whole share
    const b = await pool.acquire(signal(), 'cursor', 'cn=b'); // holding none: the third
    // b would take the last one while a holds some: refused at once, naming why.
    await expect(pool.acquire(signal(), 'cursor', 'cn=b')).rejects.toMatchObject({ code: 51, message: expect.stringContaining('kept for identities holding none, and cn=b holds 1') });
    expect(pool.stats().cursors).toBe(3);
    const c = await pool.acquire(signal(), 'cursor', 'cn=c'); // holding none: the kept one
    expect(new Set([...a, b, c]).size).toBe(4);
    // Once a ends one, b may take its second: a connection is free for others again after it.
    pool.release(a[0], true, 'cursor', 'cn=a');
    await expect(pool.acquire(signal(), 'cursor', 'cn=b')).rejects.toMatchObject({ code: 51 }); // still the last free one
    pool.release(a[1], true, 'cursor', 'cn=a');
    expect(await pool.acquire(signal(), 'cursor', 'cn=b')).toBeDefined();
  });

  it('gives an identity holding none the connection of the paged search idle longest (of the identity holding most), once idle reclaimCursorAfterMs', async () => {
    const { pool, opened } = setup({ size: 4, cursorsPerHolder: 2, waitMs: 20, reclaimCursorAfterMs: 1000 });
    const ended: string[] = [];
    const owner = (name: string, at: number) => ({ at, lastActive() { return this.at; }, end: () => ended.push(name) });
    const now = performance.now();
    const a1 = owner('a1', now - 5000); // idle longest, but its identity holds one alone
    const b1 = owner('b1', now - 3000);
    const b2 = owner('b2', now - 2000);
    await pool.acquire(signal(), 'cursor', 'cn=a', a1);
    const taken = await pool.acquire(signal(), 'cursor', 'cn=b', b1);
    await pool.acquire(signal(), 'cursor', 'cn=b', b2);
    await pool.acquire(signal(), 'cursor', 'cn=e', owner('e1', now)); // the last one
    expect(pool.stats().cursors).toBe(4);
    // An identity holding one already takes nothing from others.
    await expect(pool.acquire(signal(), 'cursor', 'cn=a', owner('a2', now))).rejects.toMatchObject({ code: 51 });
    expect(ended).toEqual([]);
    // cn=c holds none: b's older search goes (b holds most), its connection retired and closed.
    const c = await pool.acquire(signal(), 'cursor', 'cn=c', owner('c', now));
    expect(ended).toEqual(['b1']);
    expect(opened.find((o) => (o as unknown) === taken)?.closed).toBe(true);
    expect(c).not.toBe(taken);
    expect(pool.stats()).toMatchObject({ open: 4, cursors: 4 });
    // Searches active within reclaimCursorAfterMs are never taken: cn=d waits, then busy.
    a1.at = b2.at = performance.now();
    await expect(pool.acquire(signal(), 'cursor', 'cn=d', owner('d', now))).rejects.toMatchObject({ code: 51 });
    expect(ended).toEqual(['b1']);
  });

  it('lets an identity alone use its whole share, up to the last cursor connection', async () => {
    const { pool } = setup({ size: 2, cursorsPerHolder: 2 });
    const first = await pool.acquire(signal(), 'cursor', 'cn=sync');
    const second = await pool.acquire(signal(), 'cursor', 'cn=sync');
    expect(first).not.toBe(second);
    expect(pool.stats().cursors).toBe(2);
  });

  it('refuses an identity more cursors than its share at once, with busy', async () => {
    const { pool } = setup({ size: 4, cursorsPerHolder: 2 });
    const first = await pool.acquire(signal(), 'cursor', 'cn=sync');
    await pool.acquire(signal(), 'cursor', 'cn=sync');
    await expect(pool.acquire(signal(), 'cursor', 'cn=sync')).rejects.toMatchObject({ code: 51, message: expect.stringContaining('cn=sync already holds 2') });
    expect(await pool.acquire(signal(), 'cursor', 'cn=other')).toBeDefined(); // others are not held up
    pool.release(first, true, 'cursor', 'cn=sync');
    expect(await pool.acquire(signal(), 'cursor', 'cn=sync')).toBeDefined();
  });

  it('answers busy when no room is made within waitMs', async () => {
    const { pool } = setup({ size: 1, perConnection: 1, waitMs: 20 });
    await pool.acquire(signal());
    await expect(pool.acquire(signal())).rejects.toMatchObject({ code: 51, message: 'forest "f": all 1 connections carried 1 operations for 20 ms' });
  });

  it('answers each waiting lease busy at its own deadline, and serves the others meanwhile', async () => {
    const { pool } = setup({ size: 1, perConnection: 1, waitMs: 60 });
    const held = await pool.acquire(signal());
    const started = Date.now();
    const failedAt: number[] = [];
    const note = (p: Promise<unknown>) => p.catch((e: unknown) => (failedAt.push(Date.now() - started), e));
    const first = note(pool.acquire(signal()));
    await new Promise((r) => setTimeout(r, 30));
    const second = note(pool.acquire(signal()));
    expect(await first).toMatchObject({ code: 51 });
    expect(failedAt[0]).toBeGreaterThanOrEqual(59);
    const third = pool.acquire(signal());
    expect(await second).toMatchObject({ code: 51 });
    expect(failedAt[1]).toBeGreaterThanOrEqual(89);
    pool.release(held, true);
    expect(await third).toBe(held); // served before its deadline: no busy later
    await new Promise((r) => setTimeout(r, 80));
    expect(failedAt).toHaveLength(2);
  });

  it('stops waiting when the operation is aborted', async () => {
    const { pool } = setup({ size: 1, perConnection: 1 });
    const held = await pool.acquire(signal());
    const controller = new AbortController();
    const waiting = pool.acquire(controller.signal);
    controller.abort(new Error('abandoned'));
    await expect(waiting).rejects.toThrow('abandoned');
    pool.release(held, true);
    expect(pool.stats()).toMatchObject({ open: 1, busy: 0, idleServers: [0] });
  });

  it('retires a connection that is not reusable and closes it when its last operation ends', async () => {
    const { pool, opened } = setup({ size: 1 });
    const a = await pool.acquire(signal());
    const b = await pool.acquire(signal());
    expect(a).toBe(b);
    pool.release(a, false); // e.g. a paged search left unfinished upstream
    expect(opened[0].closed).toBe(false); // b is still running on it
    const fresh = pool.acquire(signal());
    pool.release(b, true);
    expect(opened[0].closed).toBe(true);
    expect(await fresh).toBe(opened[1] as unknown as UpstreamConnection);
  });

  it('retires every connection at once (a refused service account): idle ones close now, busy ones when drained', async () => {
    const { pool, opened } = setup({ size: 2, perConnection: 1 });
    const busy = await pool.acquire(signal());
    pool.release(await pool.acquire(signal()), true);
    pool.retireAll();
    expect(opened.map((c) => c.closed)).toEqual([false, true]);
    expect(pool.stats().open).toBe(1);
    pool.release(busy, true);
    expect(opened[0].closed).toBe(true);
    expect(pool.stats().open).toBe(0);
  });

  it('gives way to the first server when it is back', async () => {
    const { pool, selector, opened, down, clock } = setup({ size: 2 });
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
    pool.release(back, true);
    expect(pool.stats().open).toBe(1);
    expect(selector.candidates()).toEqual([0, 1]);
  });

  it('hands a freed connection to the longest waiting lease alone, the others waiting on in order', async () => {
    const { pool } = setup({ size: 1, perConnection: 1, waitMs: 1000 });
    const held = await pool.acquire(signal());
    const order: number[] = [];
    const shared = new AbortController().signal;
    const waits = vi.spyOn(shared, 'addEventListener'); // each wait listens for an abort once
    const waiting = [1, 2, 3].map((n) => pool.acquire(shared).then((c) => (order.push(n), c)));
    await new Promise((r) => setImmediate(r));
    pool.release(held, true);
    const first = await waiting[0];
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1]);
    expect(waits).toHaveBeenCalledTimes(3); // one slot freed, one lease served: the others were not woken to wait again
    expect(first).toBe(held);
    expect(pool.stats()).toMatchObject({ open: 1, operations: 1 });
    pool.release(first, true);
    pool.release(await waiting[1], true);
    await waiting[2];
    expect(order).toEqual([1, 2, 3]);
  });

  it('hands a waiting operation a connection with room even while a cursor waits for one without a paged search', async () => {
    const { pool } = setup({ size: 1, perConnection: 2 });
    const cursor = await pool.acquire(signal(), 'cursor', 'a');
    const plain = await pool.acquire(signal());
    const secondCursor = pool.acquire(signal(), 'cursor', 'b');
    let operation: UpstreamConnection | undefined;
    const waitingOperation = pool.acquire(signal()).then((c) => (operation = c));
    pool.release(plain, true);
    await waitingOperation;
    expect(operation).toBe(cursor); // the cursor ahead of it could not use this room
    pool.release(cursor, true, 'cursor', 'a');
    pool.release(operation!, true);
    expect(await secondCursor).toBe(cursor);
  });

  it('closes connections idle for idleMs, and keeps those used since', async () => {
    const { pool, opened } = setup({ size: 2, perConnection: 1, idleMs: 40 });
    const a = await pool.acquire(signal());
    const b = await pool.acquire(signal());
    pool.release(a, true);
    await new Promise((r) => setTimeout(r, 25));
    pool.release(b, true);
    await new Promise((r) => setTimeout(r, 30)); // a idle 55 ms, b 30 ms
    expect(opened.map((c) => c.closed)).toEqual([true, false]);
    expect(pool.stats().open).toBe(1);
    await new Promise((r) => setTimeout(r, 30));
    expect(opened.map((c) => c.closed)).toEqual([true, true]);
    expect(pool.stats().open).toBe(0);
  });

  it('fails waiting operations when closed', async () => {
    const { pool } = setup({ size: 1, perConnection: 1 });
    const held = await pool.acquire(signal());
    const waiting = pool.acquire(signal());
    await pool.close();
    await expect(waiting).rejects.toMatchObject({ code: 52 });
    pool.release(held, true);
    expect(pool.stats().open).toBe(0);
  });
});
