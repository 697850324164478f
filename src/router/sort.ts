import type { SortKey, SortRequest } from '../core/directory.js';
import type { SearchTrailer } from '../core/search-trailer.js';
import type { Entry } from '../core/entry.js';
import { LdapError } from '../core/ldap-error.js';
import { compareOrder, orderingKey, rulesFor, type AttributeRules, type OrderKey } from '../core/matching.js';
import { ResultCode } from '../core/result-codes.js';
import { concatStreams, forestError, type NamedStream } from './merge-streams.js';
import type { SortBuffers, SortHolder } from './sort-buffers.js';

/**
 * Server-side sorting (RFC 2891) across forests: each forest's stream is sorted in a buffer (all
 * buffers of a search together bounded by `limits.maxSortEntries`, and all sorts of a connection,
 * of an identity and of the process by SortBuffers), and the sorted streams are merged k-way. An
 * entry sent on leaves its buffer and gives its room back, so a paged sort parked between pages
 * holds only what its client has yet to read.
 *
 * An entry is never ordered by a value its reader may not see: a sort key a forest hides, or a
 * value the access rules withhold from the client, makes the sort result insufficientAccessRights
 * (50), and withheld values count as absent.
 */

/** What bounds one sorted search and what it may sort on. */
export interface SortContext {
  /** Entries this search may buffer; 0 = no limit. */
  readonly maxEntries: number;
  /** The buffers shared with the other sorted searches of the process, if bounded. */
  readonly buffers?: SortBuffers;
  /** The connection and identity the buffers count this search's entries against. */
  readonly holder: SortHolder;
  /** A sort key some forest of the search hides (attributes.hide): the sort is refused. */
  readonly hiddenKey?: string;
}

/** An entry with its sort keys computed once (the least value of each key's attribute). */
interface Sorted {
  readonly entry: Entry;
  readonly keys: readonly (OrderKey | undefined)[];
}

/** Ordering rules a sort key may name, by OID and by name. */
const ORDERING_RULES = new Map<string, AttributeRules>([
  ['2.5.13.3', { syntax: 'string', exact: false }],
  ['caseignoreorderingmatch', { syntax: 'string', exact: false }],
  ['2.5.13.5', { syntax: 'string', exact: true }],
  ['caseexactorderingmatch', { syntax: 'string', exact: true }],
  ['2.5.13.15', { syntax: 'integer', exact: true }],
  ['integerorderingmatch', { syntax: 'integer', exact: true }],
  ['2.5.13.28', { syntax: 'time', exact: true }],
  ['generalizedtimeorderingmatch', { syntax: 'time', exact: true }],
]);

/** Attributes without an ordering of their own (DNs, booleans) sort as case-ignore text. */
const TEXT_ORDER: AttributeRules = { syntax: 'string', exact: false };

interface CompiledKey {
  readonly attribute: string;
  readonly rules: AttributeRules;
  readonly sign: 1 | -1;
}

class EntryOrder {
  constructor(
    private readonly keys: readonly CompiledKey[],
    /** The access stage's check where readability varies by entry; every value counts when absent. */
    private readonly mayRead: ((entry: Entry, attribute: string) => boolean) | undefined,
    /** Called with a key whose value an entry withholds from the client. */
    private readonly withheld: (attribute: string) => void,
  ) {}

  decorate(entry: Entry): Sorted {
    return { entry, keys: this.keys.map((k) => this.keyOf(entry, k)) };
  }

  private keyOf(entry: Entry, key: CompiledKey): OrderKey | undefined {
    if (this.mayRead && entry.get(key.attribute) && !this.mayRead(entry, key.attribute)) {
      this.withheld(key.attribute);
      return undefined;
    }
    return leastValue(entry, key);
  }

  /** RFC 2891 §2.2: an entry without the attribute sorts after every value (before, in reverse). */
  compare = (a: Sorted, b: Sorted): number => {
    for (let i = 0; i < this.keys.length; i++) {
      const x = a.keys[i];
      const y = b.keys[i];
      const c = x === undefined ? (y === undefined ? 0 : 1) : y === undefined ? -1 : compareOrder(x, y);
      if (c !== 0) return c * this.keys[i].sign;
    }
    return 0;
  };
}

function leastValue(entry: Entry, key: CompiledKey): OrderKey | undefined {
  let least: OrderKey | undefined;
  for (const v of entry.get(key.attribute)?.values ?? []) {
    const k = orderingKey(key.rules, v);
    if (k !== undefined && (least === undefined || compareOrder(k, least) < 0)) least = k;
  }
  return least;
}

/** The keys compiled, or the RFC 2891 sortResult saying why they cannot be used. */
function compileKeys(keys: readonly SortKey[], hiddenKey: string | undefined): CompiledKey[] | { readonly code: ResultCode; readonly message: string } {
  if (hiddenKey !== undefined) return { code: ResultCode.insufficientAccessRights, message: `sort key ${hiddenKey} may not be read` };
  const compiled: CompiledKey[] = [];
  for (const k of keys) {
    let rules = rulesFor(k.attribute);
    if (k.orderingRule !== undefined) {
      const named = ORDERING_RULES.get(k.orderingRule.toLowerCase());
      if (!named) return { code: ResultCode.inappropriateMatching, message: `ordering rule ${k.orderingRule} is not supported` };
      rules = named;
    } else if (rules.syntax === 'binary') {
      return { code: ResultCode.inappropriateMatching, message: `${k.attribute} has no ordering` };
    } else if (rules.syntax === 'dn' || rules.syntax === 'boolean') {
      rules = TEXT_ORDER;
    }
    compiled.push({ attribute: k.attribute, rules, sign: k.reverse ? -1 : 1 });
  }
  return compiled;
}

/**
 * Records why the entries are not sorted, and fails the search when the client required sorting;
 * otherwise the entries go out unsorted, as RFC 2891 §1.2 asks of a non-critical control.
 */
function cannotSort(sort: SortRequest, trailer: SearchTrailer, code: ResultCode, message: string): void {
  trailer.sortResult = code;
  if (sort.required) throw new LdapError(code, message);
}

/**
 * The entries of `sources` in the requested order. Errors of a source's stream come out as
 * ForestStreamErrors naming it; a sort that cannot be done is reported in the search's trailer.
 */
export async function* sortedMerge(
  sources: readonly NamedStream[],
  sort: SortRequest,
  context: SortContext,
  trailer: SearchTrailer,
  /** The client's view (SearchRequest.sees): entries it may not see take no room and order nothing. */
  sees?: (entry: Entry) => boolean,
): AsyncGenerator<Entry, void, undefined> {
  const keys = compileKeys(sort.keys, context.hiddenKey);
  if (!Array.isArray(keys)) {
    cannotSort(sort, trailer, keys.code, keys.message);
    yield* concatStreams(sources);
    return;
  }
  const withheld = (attribute: string): void =>
    cannotSort(sort, trailer, ResultCode.insufficientAccessRights, `sort key ${attribute} may not be read in every entry`);
  const order = new EntryOrder(keys, sort.mayRead, withheld);
  const budget = new SortBudget(context, (reason) => cannotSort(sort, trailer, ResultCode.adminLimitExceeded, reason));
  yield* mergeSorted(
    sources.map((s) => sortBounded(s, order, budget, sees)),
    order.compare,
  );
}

/** Room for one sorted search's buffers: its own maxEntries, and its share of the connection's, the identity's and the process's. */
class SortBudget {
  private remaining: number;

  constructor(
    private readonly context: SortContext,
    /** Throws when the sort is required; otherwise the buffer goes out as it is, then the rest. */
    readonly exceeded: (reason: string) => void,
  ) {
    this.remaining = context.maxEntries;
  }

  /** Takes room for one entry; otherwise why not (nothing taken). */
  take(): string | undefined {
    const { maxEntries, buffers, holder } = this.context;
    if (maxEntries > 0 && this.remaining <= 0) return `more than ${maxEntries} entries to sort (limits.maxSortEntries)`;
    const full = buffers?.take(holder);
    if (full !== undefined) return `too many entries held for sorting (${full}); try again later`;
    this.remaining--;
    return undefined;
  }

  /** Gives back the room of `n` entries (sent on, or let go); `maxEntries` counts the entries of the search, sent or not. */
  release(n: number): void {
    this.context.buffers?.release(this.context.holder, n);
  }
}

/** One source sorted in a buffer, which counts against the budget shared by all sources. */
async function* sortBounded(
  source: NamedStream,
  order: EntryOrder,
  budget: SortBudget,
  sees: ((entry: Entry) => boolean) | undefined,
): AsyncGenerator<Sorted, void, undefined> {
  const iterator = source.stream[Symbol.asyncIterator]();
  const pull = (): Promise<IteratorResult<Entry>> =>
    iterator.next().catch((err: unknown) => {
      throw forestError(source.forest, err);
    });
  const buffer: Sorted[] = [];
  let overflow = false;
  // Entries in the buffer, and the one last sent on until the merge asks for the next (it holds it
  // until then); the rest is given back when the generator ends, however it ends.
  let held = 0;
  let count = 0;
  try {
    for (let next = await pull(); !next.done; next = await pull()) {
      if (source.counts === undefined || source.counts(next.value)) count++;
      if (sees && !sees(next.value)) continue; // takes no room: see SearchRequest.sees
      const item = order.decorate(next.value);
      if (overflow) {
        yield item;
        continue;
      }
      const full = budget.take();
      if (full !== undefined) {
        budget.exceeded(full);
        overflow = true;
        for (const sorted of takeSorted(buffer, order.compare)) {
          yield sorted;
          held--;
          budget.release(1);
        }
        yield item;
      } else {
        held++;
        buffer.push(item);
      }
    }
    source.complete?.(count);
    for (const sorted of takeSorted(buffer, order.compare)) {
      yield sorted;
      held--;
      budget.release(1);
    }
  } finally {
    budget.release(held);
    void iterator.return?.()?.catch(() => undefined);
  }
}

/**
 * The buffer's entries in order, each taken out of it as it goes, so that the buffer keeps no
 * entry already sent on: a paged sort parked between pages holds only the entries still to send.
 */
function* takeSorted(buffer: Sorted[], compare: (a: Sorted, b: Sorted) => number): Generator<Sorted, void, undefined> {
  // Stable, then reversed, so that popping gives ties in the sources' order.
  buffer.sort(compare).reverse();
  for (let item = buffer.pop(); item !== undefined; item = buffer.pop()) yield item;
}

/** k-way merge of sorted streams: holds one entry per stream; ties keep the sources' order. */
async function* mergeSorted(
  sources: readonly AsyncIterator<Sorted>[],
  compare: (a: Sorted, b: Sorted) => number,
): AsyncGenerator<Entry, void, undefined> {
  try {
    // The first pulls run concurrently: each source fills its buffer at the same time.
    const heads = await Promise.all(sources.map((s) => s.next()));
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (!h.done && (best < 0 || compare(h.value, (heads[best] as IteratorYieldResult<Sorted>).value) < 0)) best = i;
      }
      if (best < 0) return;
      yield (heads[best] as IteratorYieldResult<Sorted>).value.entry;
      heads[best] = await sources[best].next();
    }
  } finally {
    for (const s of sources) void s.return?.()?.catch(() => undefined);
  }
}
