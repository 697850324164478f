import type { Directory, OperationContext, SearchContext, SearchRequest } from '../core/directory.js';
import type { Entry } from '../core/entry.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { SearchTrailer } from '../core/search-trailer.js';

/** Why a cursor closed without a reason of its own: one shared error, as every unpaged search closes its cursor and an Error's stack is costly. */
const SEARCH_CLOSED = new LdapError(ResultCode.other, 'search closed');

/**
 * One running search: the directory's suspended iterator, one entry of lookahead (so a page knows
 * whether it is the last), and the abort that stops it upstream. An unpaged search uses one for a
 * single operation; a paged search keeps it between pages, pulling nothing while the client reads.
 */
export class SearchCursor {
  readonly iterator: AsyncIterator<Entry>;
  /** What the search's stages report for its result, over all its pages; it also identifies the search (DropAfterPage). */
  readonly trailer = new SearchTrailer();
  /** Pulled but not yet sent: the first entry of the next page. */
  head: Entry | undefined;
  /** Entries sent so far, over all pages. */
  sent = 0;
  /** The message ID of the page last served (an Abandon naming it releases the cursor). */
  lastMessageId = 0;
  /** Pages answered with a cookie so far. */
  pages = 0;
  /** When the client last asked for a page (the search's stages see it as their context's `paging`). */
  readonly paging = { at: performance.now() };
  /** Continuation references of `trailer` already written to the client. */
  referencesSent = 0;
  private readonly controller = new AbortController();
  /** The iterator said it is done: nothing runs for this search any more. */
  private ended = false;

  constructor(
    directory: Directory,
    readonly request: SearchRequest,
    ctx: OperationContext,
  ) {
    // The cursor's own signal, not the operation's: a page ends, the search goes on.
    const cursorCtx: SearchContext = { ...ctx, signal: this.controller.signal, trailer: this.trailer, paging: this.paging };
    this.iterator = directory.search(request, cursorCtx)[Symbol.asyncIterator]();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why the cursor stopped, as the client should hear it (an abandoned one is never answered). */
  stopReason(): LdapError {
    const reason: unknown = this.controller.signal.reason;
    return reason instanceof LdapError ? reason : new LdapError(ResultCode.other, 'search stopped');
  }

  /**
   * Ties the cursor to one operation: abandoning it or running out of time stops the cursor.
   * Returns the undo, called when the operation ends.
   */
  attach(signal: AbortSignal, timeMs: number): () => void {
    const onAbort = (): void => this.close(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer =
      timeMs > 0
        ? setTimeout(() => this.close(new LdapError(ResultCode.timeLimitExceeded, `time limit of ${timeMs} ms exceeded`)), timeMs)
        : undefined;
    return () => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
    };
  }

  /** The iterator ran to its end: closing then has nothing to stop (an abort costs an event per search). */
  finished(): void {
    this.ended = true;
  }

  /** Stops the search and releases what it holds upstream (pooled connections, paged searches). */
  close(reason: unknown = SEARCH_CLOSED): void {
    if (this.ended || this.controller.signal.aborted) return;
    this.head = undefined;
    this.controller.abort(reason);
    this.iterator.return?.()?.catch(() => undefined);
  }
}
