import { randomBytes } from 'node:crypto';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { metrics } from '../observability/metrics.js';
import type { SearchCursor } from './search-cursor.js';

interface Held {
  readonly cursor: SearchCursor;
  /** What the request must repeat to continue (RFC 2696 §3: the same search with the cookie). */
  readonly fingerprint: string;
  busy: boolean;
  idle?: NodeJS.Timeout;
  /** A reload ended it while a page was being read: it ends when that page does, for this reason. */
  ended?: string;
}

/** A paged search a reload ended: its next page is refused with `reason`. */
interface Ended {
  readonly reason: string;
  readonly expiry?: NodeJS.Timeout;
}

/**
 * A connection's open paged searches, by cookie. Cookies are 128 random bits known only to this
 * connection, so a guessed or foreign cookie finds nothing. Idle cursors expire, and the number
 * open at once is capped.
 */
export class PagedCursors {
  private readonly held = new Map<string, Held>();
  /**
   * Cookies of paged searches a reload ended, and why: their next page is refused with that reason
   * rather than as an unknown cookie, so the client learns to start again. Kept until that page
   * comes or the idle time passes; at most maxOpen of them.
   */
  private readonly ended = new Map<string, Ended>();

  constructor(
    private readonly maxOpen: number,
    private readonly idleMs: number,
  ) {}

  get size(): number {
    return this.held.size;
  }

  /** Starts and registers a new cursor, busy with its first page, under a fresh cookie. */
  open(start: () => SearchCursor, fingerprint: string): { cursor: SearchCursor; cookie: Buffer } {
    if (this.held.size >= this.maxOpen) {
      throw new LdapError(ResultCode.adminLimitExceeded, `too many paged searches open on this connection (${this.maxOpen})`);
    }
    const cursor = start();
    const cookie = randomBytes(16);
    this.held.set(cookie.toString('hex'), { cursor, fingerprint, busy: true });
    metrics.openPagedSearches.inc();
    return { cursor, cookie };
  }

  /** The cursor of a cookie, now busy with a page; refuses unknown, expired, busy or mismatched ones. */
  take(cookie: Buffer, fingerprint: string): SearchCursor {
    const key = cookie.toString('hex');
    const ended = this.ended.get(key);
    if (ended) {
      this.forget(key);
      throw new LdapError(ResultCode.unwillingToPerform, ended.reason);
    }
    const held = this.held.get(key);
    if (!held) throw new LdapError(ResultCode.unwillingToPerform, 'unknown or expired paged results cookie');
    if (held.busy) throw new LdapError(ResultCode.unwillingToPerform, 'a page of this paged search is already being read');
    if (held.fingerprint !== fingerprint) {
      throw new LdapError(ResultCode.unwillingToPerform, 'the request differs from the one that started this paged search');
    }
    clearTimeout(held.idle);
    held.busy = true;
    return held.cursor;
  }

  /** A page is done and more remain: the cursor waits for the next page, until it expires. */
  park(cookie: Buffer): void {
    const key = cookie.toString('hex');
    const held = this.held.get(key);
    if (!held) return;
    if (held.ended !== undefined) {
      this.end(key, held.ended);
      return;
    }
    held.busy = false;
    if (this.idleMs > 0) held.idle = setTimeout(() => this.release(cookie), this.idleMs).unref();
  }

  release(cookie: Buffer): void {
    const key = cookie.toString('hex');
    const held = this.held.get(key);
    if (!held) return;
    this.held.delete(key);
    metrics.openPagedSearches.dec();
    clearTimeout(held.idle);
    held.cursor.close();
  }

  /** An Abandon naming the last page of an idle cursor ends that paged search. */
  abandon(messageId: number): void {
    for (const [key, held] of this.held) {
      if (!held.busy && held.cursor.lastMessageId === messageId) this.release(Buffer.from(key, 'hex'));
    }
  }

  /** Unbind, disconnect, bind as someone else: every paged search of the connection ends. */
  releaseAll(): void {
    for (const key of [...this.held.keys()]) this.release(Buffer.from(key, 'hex'));
    for (const key of [...this.ended.keys()]) this.forget(key);
  }

  /**
   * A reload changed what the searches may see: every paged search open now ends (one whose page
   * is being read, once that page is answered), and the next page asked of it is refused with
   * `reason`. Returns how many ended.
   */
  endAll(reason: string): number {
    const open = [...this.held];
    for (const [key, held] of open) {
      if (held.busy) held.ended = reason;
      else this.end(key, reason);
    }
    return open.length;
  }

  /** Releases the cursor of `key` and remembers why, for its next page. */
  private end(key: string, reason: string): void {
    this.release(Buffer.from(key, 'hex'));
    if (this.ended.size >= this.maxOpen) this.forget(this.ended.keys().next().value!);
    const expiry = this.idleMs > 0 ? setTimeout(() => this.ended.delete(key), this.idleMs).unref() : undefined;
    this.ended.set(key, { reason, ...(expiry && { expiry }) });
  }

  private forget(key: string): void {
    clearTimeout(this.ended.get(key)?.expiry);
    this.ended.delete(key);
  }
}
