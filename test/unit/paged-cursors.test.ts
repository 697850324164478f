import { afterEach, describe, expect, it, vi } from 'vitest';
import { PagedCursors } from '../../src/frontend/paged-cursors.js';
import type { SearchCursor } from '../../src/frontend/search-cursor.js';

// A reload that changes what searches may see ends the paged searches open: their next page is refused with its reason.

function cursor(): SearchCursor & { closed: boolean } {
  const c = { closed: false, lastMessageId: 0, close: () => void (c.closed = true) };
  return c as unknown as SearchCursor & { closed: boolean };
}

const REASON = 'the configuration changed: start the search again';

describe('PagedCursors.endAll', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ends idle cursors at once and busy ones when their page is done; each cookie then gets the reason once', () => {
    const cursors = new PagedCursors(10, 60_000);
    const idle = cursor();
    const busy = cursor();
    const a = cursors.open(() => idle, 'f');
    cursors.park(a.cookie);
    const b = cursors.open(() => busy, 'f'); // its first page is being read
    expect(cursors.endAll(REASON)).toBe(2);
    expect(idle.closed).toBe(true);
    expect(busy.closed).toBe(false);
    cursors.park(b.cookie); // the page read during the reload is answered; the search ends there
    expect(busy.closed).toBe(true);
    expect(cursors.size).toBe(0);
    for (const { cookie } of [a, b]) {
      expect(() => cursors.take(cookie, 'f')).toThrow(expect.objectContaining({ code: 53, message: REASON }));
      expect(() => cursors.take(cookie, 'f')).toThrow(expect.objectContaining({ code: 53, message: 'unknown or expired paged results cookie' }));
    }
  });

  it('forgets an ended cookie after the idle time, and when the connection ends', () => {
    vi.useFakeTimers();
    const cursors = new PagedCursors(10, 1000);
    const a = cursors.open(cursor, 'f');
    cursors.park(a.cookie);
    const b = cursors.open(cursor, 'f');
    cursors.park(b.cookie);
    cursors.endAll(REASON);
    cursors.releaseAll();
    expect(() => cursors.take(a.cookie, 'f')).toThrow(expect.objectContaining({ message: 'unknown or expired paged results cookie' }));
    const c = cursors.open(cursor, 'f');
    cursors.park(c.cookie);
    cursors.endAll(REASON);
    vi.advanceTimersByTime(1001);
    expect(() => cursors.take(c.cookie, 'f')).toThrow(expect.objectContaining({ message: 'unknown or expired paged results cookie' }));
  });
});
