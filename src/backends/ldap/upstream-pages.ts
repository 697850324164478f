import type { Entry } from '../../core/entry.js';
import type { LdapError } from '../../core/ldap-error.js';
import type { PagedSearch, UpstreamConnection } from './upstream-connection.js';

/** A page's entries; an LdapError stands in for one that could not be decoded. */
export type UpstreamPage = readonly (Entry | LdapError)[];

/**
 * The pages of one upstream paged search on one connection, read at most one page ahead: the
 * consumer calls `readAhead` once it has taken half of the current page, so the server fills the
 * next page while the rest is rewritten and written to the client. A forest's search therefore
 * holds at most one and a half pages of entries, and asks for nothing more while its consumer
 * (a client's paged search between two of its pages) stops pulling.
 */
export class UpstreamPages {
  private ahead: Promise<UpstreamPage> | undefined;
  /** A page request is on the wire: the connection cannot go back to the pool before its answer. */
  outstanding = false;

  constructor(
    private readonly connection: UpstreamConnection,
    private readonly search: PagedSearch,
    /** Aborting it closes the connection, which ends the search upstream. */
    private readonly signal: AbortSignal,
  ) {}

  /** The next page, or undefined after the last one. */
  next(): Promise<UpstreamPage | undefined> {
    const page = this.ahead ?? (this.search.more ? this.request() : undefined);
    this.ahead = undefined;
    return page ?? Promise.resolve(undefined);
  }

  /** Asks for the next page now, while the current one is still being consumed. */
  readAhead(): void {
    if (this.ahead !== undefined || !this.search.more) return;
    this.ahead = this.request();
    this.ahead.catch(() => undefined); // reported by next(); the consumer may stop before asking
  }

  private request(): Promise<UpstreamPage> {
    const { connection, signal } = this;
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    this.outstanding = true;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        connection.close();
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      connection
        .nextPage(this.search)
        .then(resolve, reject)
        .finally(() => {
          this.outstanding = false;
          signal.removeEventListener('abort', onAbort);
        });
    });
  }
}
