import { PresenceFilter } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { BinaryAttributes } from '../../src/backends/ldap/entry-from-ber.js';
import { PagedSearch, type SearchReply, type UpstreamConnection } from '../../src/backends/ldap/upstream-connection.js';
import { UpstreamPages } from '../../src/backends/ldap/upstream-pages.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';

/** A connection whose server answers page requests when the test says so; `pages` pages in all. */
function fakeConnection(pages: number) {
  const answers: (() => void)[] = [];
  const state = { requests: 0 };
  const connection = {
    nextPage(search: PagedSearch, signal: AbortSignal): Promise<SearchReply> {
      if (signal.aborted) return Promise.reject(signal.reason as Error);
      const n = ++state.requests;
      return new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as Error));
        answers.push(() => {
          search.more = n < pages;
          resolve({ entries: [{ decode: () => new Entry(Dn.parse(`cn=${n},dc=t`)) }], references: [], reply: { status: 0, matchedDn: '', message: '', controls: [] } });
        });
      });
    },
  } as unknown as UpstreamConnection;
  /** The server answers the oldest request (after the microtasks that sent it). */
  const answer = async (): Promise<void> => {
    await Promise.resolve();
    answers.shift()!();
  };
  return { connection, state, answer };
}

const search = () =>
  new PagedSearch('dc=t', { scope: 'sub', filter: new PresenceFilter({ attribute: 'objectClass' }), attributes: [], timeLimit: 0, pageSize: 1 }, new BinaryAttributes([]));
const dnOf = (page: SearchReply | undefined) => (page?.entries[0]?.decode() as Entry | undefined)?.dn.text;

describe('upstream pages, read at most one page ahead', () => {
  it('asks for the next page only when told, once, and hands it over without asking again', async () => {
    const { connection, state, answer } = fakeConnection(3);
    const pages = new UpstreamPages(connection, search(), new AbortController().signal);
    const first = pages.next();
    await answer();
    expect(dnOf(await first)).toBe('cn=1,dc=t');
    expect(pages.unfinished).toBe(true);
    expect(state.requests).toBe(1); // nothing is read while the consumer holds the page

    pages.readAhead();
    pages.readAhead();
    expect(state.requests).toBe(2);
    await answer();
    expect(dnOf(await pages.next())).toBe('cn=2,dc=t');
    expect(state.requests).toBe(2);

    const third = pages.next();
    await answer();
    expect(dnOf(await third)).toBe('cn=3,dc=t');
    pages.readAhead(); // the last page had no cookie: nothing to ask for
    expect(pages.unfinished).toBe(false);
    expect(await pages.next()).toBeUndefined();
    expect(state.requests).toBe(3);
  });

  it('an abort fails the page in flight, and the search stays unfinished', async () => {
    const { connection } = fakeConnection(2);
    const controller = new AbortController();
    const pages = new UpstreamPages(connection, search(), controller.signal);
    const page = pages.next();
    controller.abort(new Error('abandoned'));
    await expect(page).rejects.toThrow('abandoned');
    expect(pages.unfinished).toBe(true);
    await expect(pages.next()).rejects.toThrow('abandoned');
  });
});
