import { describe, expect, it } from 'vitest';
import { KeyedQuota, KeyedSlots } from '../../src/core/keyed-quota.js';

describe('KeyedQuota', () => {
  it('refuses a key at its cap while other keys are served, then the cap over all', () => {
    const quota = new KeyedQuota<string>(2, 3);
    expect([quota.take('a'), quota.take('a'), quota.take('a')]).toEqual([undefined, undefined, 'perKey']);
    expect(quota.take('b')).toBeUndefined();
    expect(quota.take('c')).toBe('total');
    expect([quota.held('a'), quota.held('b'), quota.held()]).toEqual([2, 1, 3]);
    quota.release('a', 2);
    expect([quota.held('a'), quota.held()]).toEqual([0, 1]);
    expect(quota.take('c')).toBeUndefined();
  });

  it('has no cap where it is 0', () => {
    const quota = new KeyedQuota<number>(0, 0);
    for (let i = 0; i < 1000; i++) expect(quota.take(1)).toBeUndefined();
    expect(quota.held(1)).toBe(1000);
  });
});

describe('KeyedSlots', () => {
  it('a key at its cap waits, first come first served, for one of its own given back; other keys go on; an abort leaves the queue', async () => {
    const slots = new KeyedSlots<string>(2);
    const never = new AbortController().signal;
    expect([slots.take('a', never), slots.take('a', never), slots.take('b', never)]).toEqual([undefined, undefined, undefined]);
    const order: string[] = [];
    const first = slots.take('a', never)!.then(() => order.push('first'));
    const leaving = new AbortController();
    const aborted = slots.take('a', leaving.signal)!.then(
      () => 'served',
      (err: Error) => err.message,
    );
    const third = slots.take('a', never)!.then(() => order.push('third'));
    leaving.abort(new Error('abandoned'));
    expect(await aborted).toBe('abandoned');
    slots.give('b'); // another key's slot wakes none of a's
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    slots.give('a');
    slots.give('a');
    await Promise.all([first, third]);
    expect(order).toEqual(['first', 'third']);
    // The slots passed on, not freed: a's two are held by first and third.
    expect(slots.take('a', never)).toBeInstanceOf(Promise);
    expect(() => slots.take('a', AbortSignal.abort(new Error('gone')))).toThrow('gone');
  });
});
