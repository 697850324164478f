import { describe, expect, it } from 'vitest';
import { KeyedQuota } from '../../src/core/keyed-quota.js';

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
