import { describe, expect, it } from 'vitest';
import { SortBuffers } from '../../src/router/sort-buffers.js';

describe('SortBuffers', () => {
  it("refuses an identity past its share over all its connections, while another identity is served; a refusal takes nothing", () => {
    const buffers = new SortBuffers({ perConnection: 3, perIdentity: 4, processWide: 6 });
    const a1 = { connection: 1, identity: 'a' };
    const a2 = { connection: 2, identity: 'a' };
    const b3 = { connection: 3, identity: 'b' };
    for (let i = 0; i < 3; i++) expect(buffers.take(a1)).toBeUndefined();
    expect(buffers.take(a1)).toBe('limits.maxSortEntriesPerConnection: 3');
    expect(buffers.take(a2)).toBeUndefined();
    expect(buffers.take(a2)).toBe('limits.maxSortEntriesPerIdentity: 4');
    expect([buffers.held('a'), buffers.held()]).toEqual([4, 4]);
    expect(buffers.take(b3)).toBeUndefined();
    expect(buffers.take(b3)).toBeUndefined();
    // The process is full: a refusal by the total gives the identity's unit back.
    expect(buffers.take({ connection: 4, identity: 'c' })).toBe('limits.maxSortEntriesTotal: 6');
    expect([buffers.held('a'), buffers.held('b'), buffers.held('c'), buffers.held()]).toEqual([4, 2, 0, 6]);
    // Room given back entry by entry (sent on) is room again for the identity.
    buffers.release(a1, 1);
    expect(buffers.take(a2)).toBeUndefined();
    buffers.release(a1, 2);
    buffers.release(a2, 2);
    buffers.release(b3, 2);
    expect([buffers.held('a'), buffers.held('b'), buffers.held()]).toEqual([0, 0, 0]);
  });

  it('has no share where it is 0', () => {
    const buffers = new SortBuffers({ perConnection: 0, perIdentity: 0, processWide: 0 });
    for (let i = 0; i < 1000; i++) expect(buffers.take({ connection: i % 3, identity: 'a' })).toBeUndefined();
    expect(buffers.held('a')).toBe(1000);
  });
});
