import type { PagedSearch, SearchReply, UpstreamConnection } from './upstream-connection.js';

/**
 * The pages of one upstream paged search on one connection, read at most one page ahead: the
 * consumer calls `readAhead` once it has taken half of the current page, so the server fills the
 * next page while the rest is rewritten and written to the client. A forest's search therefore
 * holds at most one and a half pages of entries, and asks for nothing more while its consumer
 * (a client's paged search between two of its pages) stops pulling.
 */
export class UpstreamPages {
  private ahead: Promise<SearchReply> | undefined;

  constructor(
    private readonly connection: UpstreamConnection,
    private readonly search: PagedSearch,
    /** Aborting it abandons the page request upstream. */
    private readonly signal: AbortSignal,
  ) {}

  /** True until the last page arrived: the server still holds the search's cookie on the connection. */
  get unfinished(): boolean {
    return this.search.more;
  }

  /** The next page, or undefined after the last one. */
  next(): Promise<SearchReply | undefined> {
    const page = this.ahead ?? (this.search.more ? this.connection.nextPage(this.search, this.signal) : undefined);
    this.ahead = undefined;
    return page ?? Promise.resolve(undefined);
  }

  /** Asks for the next page now, while the current one is still being consumed. */
  readAhead(): void {
    if (this.ahead !== undefined || !this.search.more) return;
    this.ahead = this.connection.nextPage(this.search, this.signal);
    this.ahead.catch(() => undefined); // reported by next(); the consumer may stop before asking
  }
}
