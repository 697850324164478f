/** Server-side sorting across forests and `onForestError: partial`, at the router. */
import { describe, expect, it } from 'vitest';
import type { Directory, SearchContext, SearchRequest, SortKey } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { SearchTrailer } from '../../src/core/search-trailer.js';
import { createLogger } from '../../src/observability/logger.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { ForestRouter, type RoutedForest } from '../../src/router/forest-router.js';
import { SortBuffers } from '../../src/router/sort-buffers.js';
import { searchCtx } from '../support/search-context.js';

const suffix = Dn.parse('dc=corp,dc=example');

/** A forest answering `people` (attributes as given) in the order given, optionally failing after them. */
function forest(name: string, people: Record<string, string>[], fail = false): RoutedForest {
  const mount = suffix.child(`ou=${name}`);
  return {
    name,
    mount,
    priority: 100,
    directory: {
      namingContexts: () => [mount],
      async *search() {
        for (const p of people) {
          yield new Entry(mount.child(`cn=${p.cn}`), Object.entries(p).map(([k, v]) => ({ name: k, values: [v] })));
        }
        if (fail) throw new LdapError(ResultCode.unavailable, 'no server reachable');
      },
    } as unknown as Directory,
  };
}

function search(keys: SortKey[] | undefined, required = false, base = suffix): SearchRequest {
  return {
    base,
    scope: 'sub',
    filter: parseFilterString('(cn=*)'),
    attributes: ['cn'],
    typesOnly: false,
    sizeLimit: 0,
    timeLimit: 0,
    ...(keys && { sort: { keys, required } }),
  };
}

async function run(router: Directory, request: SearchRequest): Promise<{ cns: string[]; trailer: SearchTrailer }> {
  const ctx = searchCtx();
  const cns: string[] = [];
  for await (const e of router.search(request, ctx)) cns.push(String(e.get('cn')!.values[0]));
  return { cns, trailer: ctx.trailer };
}

const a = forest('a', [
  { cn: 'a1', sn: 'smith', givenName: 'Zoe', employeeNumber: '10' },
  { cn: 'a2', sn: 'Adams', givenName: 'bob', employeeNumber: '9' },
  { cn: 'a3', givenName: 'no surname', employeeNumber: '100' },
]);
const b = forest('b', [
  { cn: 'b1', sn: 'Smith', givenName: 'anna', employeeNumber: '2' },
  { cn: 'b2', sn: 'jones', givenName: 'Carl', employeeNumber: '30' },
]);
const options = { suffix, uniqueAttributes: [], onDuplicate: 'all' as const, logger: createLogger('silent'), maxSortEntries: 100 };

describe('server-side sort across forests', () => {
  const router = new ForestRouter([a, b], options);

  it('orders case-insensitively by several keys, an entry without the attribute last, even when not asked for', async () => {
    const { cns, trailer } = await run(router, search([{ attribute: 'sn', reverse: false }, { attribute: 'givenName', reverse: false }]));
    expect(cns).toEqual(['a2', 'b2', 'b1', 'a1', 'a3']);
    expect(trailer.sortResult).toBeUndefined();
  });

  it('reverses per key and uses the named ordering rule (integers numerically)', async () => {
    expect((await run(router, search([{ attribute: 'sn', reverse: true }, { attribute: 'givenName', reverse: false }]))).cns).toEqual([
      'a3', 'b1', 'a1', 'b2', 'a2',
    ]);
    const numeric = await run(router, search([{ attribute: 'employeeNumber', orderingRule: '2.5.13.15', reverse: false }]));
    expect(numeric.cns).toEqual(['b1', 'a2', 'a1', 'b2', 'a3']);
  });

  it('sorts within one forest too', async () => {
    expect((await run(router, search([{ attribute: 'sn', reverse: false }], false, a.mount))).cns).toEqual(['a2', 'a1', 'a3']);
  });

  it('an unknown ordering rule: unsorted with sortResult 18, or an error when required', async () => {
    const keys = [{ attribute: 'sn', orderingRule: '1.2.3.4', reverse: false }];
    const lenient = await run(router, search(keys));
    expect(lenient.cns.sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(lenient.trailer.sortResult).toBe(ResultCode.inappropriateMatching);
    await expect(run(router, search(keys, true))).rejects.toMatchObject({ code: ResultCode.inappropriateMatching });
  });

  it('beyond maxSortEntries: every entry, unsorted, with sortResult 11; or an error before any entry when required', async () => {
    const small = new ForestRouter([a, b], { ...options, maxSortEntries: 3 });
    const keys = [{ attribute: 'sn', reverse: false }];
    const lenient = await run(small, search(keys));
    expect(lenient.cns.sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(lenient.trailer.sortResult).toBe(ResultCode.adminLimitExceeded);
    await expect(run(small, search(keys, true))).rejects.toMatchObject({ code: ResultCode.adminLimitExceeded });
  });

  it('a forest failing during a sort fails the search naming it', async () => {
    const broken = new ForestRouter([a, forest('c', [{ cn: 'c1', sn: 'x' }], true)], options);
    await expect(run(broken, search([{ attribute: 'sn', reverse: false }]))).rejects.toMatchObject({
      code: ResultCode.unavailable,
      message: expect.stringContaining('forest "c"'),
    });
  });
});

describe('what a sort may hold and read', () => {
  const byName = [{ attribute: 'sn', reverse: false }];
  const ctx = (connectionId: number, trailer = new SearchTrailer()): SearchContext => searchCtx({ connectionId, trailer });

  it('sorted searches share the bounds of their connection and of the process, and give their room back when done', async () => {
    const buffers = new SortBuffers({ perConnection: 6, perIdentity: 0, processWide: 8 });
    const router = new ForestRouter([a, b], { ...options, sortBuffers: buffers });
    // Holding: a sorted search of connection 1 whose client has read one entry of five.
    const holding = router.search(search(byName, true), ctx(1))[Symbol.asyncIterator]();
    expect((await holding.next()).done).toBe(false);
    expect(buffers.held()).toBe(5);
    const onConnection = (id: number, required: boolean, trailer?: SearchTrailer) => {
      const out: string[] = [];
      return (async () => {
        for await (const e of router.search(search(byName, required), ctx(id, trailer))) out.push(String(e.get('cn')!.values[0]));
        return out;
      })();
    };
    // The same connection has room for one more entry, the process for three.
    await expect(onConnection(1, true)).rejects.toMatchObject({
      code: ResultCode.adminLimitExceeded,
      message: expect.stringContaining('limits.maxSortEntriesPerConnection: 6'),
    });
    await expect(onConnection(2, true)).rejects.toMatchObject({
      code: ResultCode.adminLimitExceeded,
      message: expect.stringContaining('limits.maxSortEntriesTotal: 8'),
    });
    const trailer = new SearchTrailer();
    expect((await onConnection(2, false, trailer)).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(trailer.sortResult).toBe(ResultCode.adminLimitExceeded);
    expect(buffers.held()).toBe(5);
    while (!(await holding.next()).done);
    expect(buffers.held()).toBe(0);
    expect(await onConnection(2, true)).toEqual(['a2', 'b2', 'a1', 'b1', 'a3']);
    // An abandoned sort gives its room back too.
    const abandoned = router.search(search(byName, true), ctx(3))[Symbol.asyncIterator]();
    await abandoned.next();
    await abandoned.return?.();
    expect(buffers.held()).toBe(0);
  });

  it('an entry sent on gives its room back: a paged sort parked between pages holds only what its client has yet to read', async () => {
    const buffers = new SortBuffers({ perConnection: 0, perIdentity: 0, processWide: 0 });
    const router = new ForestRouter([a, b], { ...options, sortBuffers: buffers });
    const reading = router.search(search(byName, true), ctx(1))[Symbol.asyncIterator]();
    const seen: string[] = [];
    const held: number[] = [];
    for (let next = await reading.next(); !next.done; next = await reading.next()) {
      seen.push(String(next.value.get('cn')!.values[0]));
      held.push(buffers.held());
    }
    // Each entry counts until the client asks for the next one (the merge holds it until then).
    expect(seen).toEqual(['a2', 'b2', 'a1', 'b1', 'a3']);
    expect(held).toEqual([5, 4, 3, 2, 1]);
    expect(buffers.held()).toBe(0);
    // Beyond the search's own maxSortEntries, the entries sorted so far go out first, each given back as sent.
    const small = new ForestRouter([a, b], { ...options, maxSortEntries: 2, sortBuffers: buffers });
    const over = small.search(search(byName), ctx(1))[Symbol.asyncIterator]();
    await over.next();
    const during = buffers.held();
    while (!(await over.next()).done);
    expect(during).toBeLessThanOrEqual(2);
    expect(buffers.held()).toBe(0);
  });

  it("one identity's share: refused past it on any of its connections, while another identity is served sorted", async () => {
    const buffers = new SortBuffers({ perConnection: 0, perIdentity: 6, processWide: 0 });
    const router = new ForestRouter([a, b], { ...options, sortBuffers: buffers });
    const as = (dn: string, connectionId: number, trailer = new SearchTrailer()): SearchContext =>
      searchCtx({ connectionId, trailer, identity: { kind: 'account', dn: Dn.parse(dn) } });
    const sorted = async (required: boolean, context: SearchContext): Promise<string[]> => {
      const out: string[] = [];
      for await (const e of router.search(search(byName, required), context)) out.push(String(e.get('cn')!.values[0]));
      return out;
    };
    // Identity A parks a sort on connection 1, its client having read one entry of five.
    const parked = router.search(search(byName, true), as('cn=A,dc=corp,dc=example', 1))[Symbol.asyncIterator]();
    await parked.next();
    expect(buffers.held('cn=a,dc=corp,dc=example')).toBe(5);
    // A's next sort, on another connection (and however its DN is spelled), is past the share.
    await expect(sorted(true, as('CN=a, DC=corp, DC=example', 2))).rejects.toMatchObject({
      code: ResultCode.adminLimitExceeded,
      message: expect.stringContaining('limits.maxSortEntriesPerIdentity: 6'),
    });
    const trailer = new SearchTrailer();
    expect((await sorted(false, as('cn=A,dc=corp,dc=example', 3, trailer))).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(trailer.sortResult).toBe(ResultCode.adminLimitExceeded);
    // Identity B is served sorted meanwhile, and so is an anonymous client.
    expect(await sorted(true, as('cn=B,dc=corp,dc=example', 4))).toEqual(['a2', 'b2', 'a1', 'b1', 'a3']);
    expect(await sorted(true, ctx(5))).toEqual(['a2', 'b2', 'a1', 'b1', 'a3']);
    expect(buffers.held()).toBe(5);
    await parked.return?.();
    expect(buffers.held()).toBe(0);
    expect(await sorted(true, as('cn=A,dc=corp,dc=example', 2))).toEqual(['a2', 'b2', 'a1', 'b1', 'a3']);
  });

  it('a key a forest hides: sortResult 50 (an error when required), whichever forest of the search hides it', async () => {
    const hiding = { ...b, hides: (attribute: string) => attribute.toLowerCase() === 'employeenumber' };
    const router = new ForestRouter([a, hiding], options);
    const keys = [{ attribute: 'employeeNumber', orderingRule: '2.5.13.15', reverse: false }];
    const lenient = await run(router, search(keys));
    expect(lenient.trailer.sortResult).toBe(ResultCode.insufficientAccessRights);
    expect(lenient.cns.sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    await expect(run(router, search(keys, true))).rejects.toMatchObject({ code: ResultCode.insufficientAccessRights });
    // A search that does not reach the hiding forest sorts.
    expect((await run(router, search(keys, true, a.mount))).cns).toEqual(['a2', 'a1', 'a3']);
  });

  it('entries the client may not see take no room: a sort limit reached would tell that one matched', async () => {
    // a has three entries, b two; the client may not see a1 or a3. Three fit: sorted, sortResult 0,
    // as if a1 and a3 did not exist (the access stage above drops them in any case).
    const sees = (entry: Entry) => !['a1', 'a3'].includes(String(entry.get('cn')!.values[0]));
    const small = new ForestRouter([a, b], { ...options, maxSortEntries: 3 });
    const buffers = new SortBuffers({ perConnection: 3, perIdentity: 3, processWide: 3 });
    const shared = new ForestRouter([a, b], { ...options, sortBuffers: buffers });
    for (const router of [small, shared]) {
      const r = search([{ attribute: 'sn', reverse: false }], true);
      const sorted = await run(router, { ...r, sees });
      expect(sorted.trailer.sortResult).toBeUndefined();
      expect(sorted.cns).toEqual(['a2', 'b2', 'b1']);
    }
    expect(buffers.held()).toBe(0);
  });

  it('values the client may not read count as absent, and make the sort result 50', async () => {
    const mayRead = (entry: Entry) => !entry.dn.isWithin(b.mount);
    const router = new ForestRouter([a, b], options);
    const request = (required: boolean) => {
      const r = search([{ attribute: 'employeeNumber', orderingRule: '2.5.13.15', reverse: false }], required);
      return { ...r, sort: { ...r.sort!, mayRead } };
    };
    const lenient = await run(router, request(false));
    expect(lenient.trailer.sortResult).toBe(ResultCode.insufficientAccessRights);
    // a's by number; b's withheld numbers (2 before 30) play no part: they keep the forest's order.
    expect(lenient.cns).toEqual(['a2', 'a1', 'a3', 'b1', 'b2']);
    await expect(run(router, request(true))).rejects.toMatchObject({ code: ResultCode.insufficientAccessRights });
  });
});

describe('onForestError', () => {
  const broken = forest('c', [{ cn: 'c1' }], true);

  it('fail (default): unavailable naming the forest, after the entries already streamed', async () => {
    const router = new ForestRouter([a, broken], options);
    await expect(run(router, search(undefined))).rejects.toMatchObject({ code: ResultCode.unavailable, message: expect.stringContaining('forest "c"') });
  });

  it('partial: the other forests entries, the missing forest noted, counted', async () => {
    const router = new ForestRouter([a, broken], { ...options, onForestError: 'partial' });
    const before = await metricValue(metrics.partialSearches, { forest: 'c' });
    const { cns, trailer } = await run(router, search(undefined));
    expect(cns.sort()).toEqual(['a1', 'a2', 'a3', 'c1']);
    expect(trailer.missingForests).toEqual([expect.stringContaining('forest "c"')]);
    expect(await metricValue(metrics.partialSearches, { forest: 'c' })).toBe(before + 1);
    // Sorted and partial together.
    const sorted = await run(router, search([{ attribute: 'cn', reverse: true }]));
    expect(sorted.cns).toEqual(['c1', 'a3', 'a2', 'a1']);
  });

  it('partial with every forest failing is still unavailable: an empty success would read as "no users"', async () => {
    const router = new ForestRouter([broken, forest('d', [], true)], { ...options, onForestError: 'partial' });
    await expect(run(router, search(undefined))).rejects.toMatchObject({ code: ResultCode.unavailable });
  });
});
