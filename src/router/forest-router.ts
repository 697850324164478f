import type { Dn } from '../core/dn.js';
import {
  holderOf,
  type Directory,
  type Modification,
  type ModifyDnRequest,
  type OperationContext,
  type SearchContext,
  type PasswordModifyRequest,
  type SearchRequest,
  type SearchStream,
} from '../core/directory.js';
import type { AttributeValue, Entry } from '../core/entry.js';
import { compileFilter } from '../core/filter-eval.js';
import { isOutage, LdapError, loggedMessage } from '../core/ldap-error.js';
import { normalise } from '../core/matching.js';
import { ResultCode } from '../core/result-codes.js';
import { arrayStream, failedSearch, HookedSearch } from '../core/search-stream.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { DuplicateFilter } from './duplicates.js';
import { concatStreams, ForestStreamError, mergeStreams, type NamedStream } from './merge-streams.js';
import { sortedMerge } from './sort.js';
import type { SyncGuard, WatchedSearch } from './sync-guard.js';
import type { SortBuffers } from './sort-buffers.js';
import { SyntheticTree } from './synthetic-entries.js';

/** A forest as the router sees it: a Directory already speaking the virtual tree at `mount`. */
export interface RoutedForest {
  readonly name: string;
  readonly mount: Dn;
  readonly priority: number;
  readonly directory: Directory;
  /** Whether the forest hides an attribute (attributes.hide): a sort on it is refused. */
  readonly hides?: (attribute: string) => boolean;
}

export interface RouterOptions {
  /** The virtual tree's root; without it each forest is served at its own mount. */
  readonly suffix?: Dn;
  readonly uniqueAttributes: readonly string[];
  readonly onDuplicate: 'all' | 'priority';
  /** `fail`: a failed forest fails the search; `partial`: the others' entries end in success with a diagnostic. */
  readonly onForestError?: 'fail' | 'partial';
  /** Most entries buffered for a server-side sort (0 = no limit). */
  readonly maxSortEntries?: number;
  /** Fails sync-shaped searches whose forests return far fewer entries than last time. */
  readonly guard?: SyncGuard;
  /** The sort buffers of the whole process, bounded per connection, per identity and in all; only maxSortEntries applies when absent. */
  readonly sortBuffers?: SortBuffers;
  readonly logger: Logger;
}

/** The pseudo-forest name of the synthetic entries in a sorted merge. */
const VIRTUAL_TREE = 'virtual tree';

/**
 * Decides which forests an operation touches: by DN for everything but searches above the mounts,
 * which fan out to every forest whose mount lies in scope, concurrently, merged into one stream,
 * together with the synthetic entries (suffix, intermediate containers) no forest backs.
 */
export class ForestRouter implements Directory {
  private readonly synthetic?: SyntheticTree;
  private readonly byPriority: readonly RoutedForest[];

  constructor(
    private readonly forests: readonly RoutedForest[],
    private readonly options: RouterOptions,
  ) {
    if (options.suffix) {
      this.synthetic = new SyntheticTree(
        options.suffix,
        forests.map((f) => f.mount),
      );
    }
    this.byPriority = [...forests].sort((a, b) => a.priority - b.priority);
  }

  namingContexts(): readonly Dn[] {
    return this.options.suffix ? [this.options.suffix] : this.forests.map((f) => f.mount);
  }

  search(request: SearchRequest, ctx: SearchContext): SearchStream {
    const watched = this.options.guard?.watch(request, ctx);
    const owner = this.owner(request.base);
    if (owner) {
      const source: NamedStream = { forest: owner.name, stream: owner.directory.search(this.withAttributes(request, sortAttributes(request)), ctx) };
      if (!request.sort && !watched) return source.stream;
      return this.owned(owner, source, request, ctx, watched);
    }
    const base = this.synthetic?.get(request.base);
    if (!base) return failedSearch(this.missing(request.base, 'search'));
    return this.searchAbove(base, request, ctx, watched);
  }

  async bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    const owner = this.owner(dn);
    // An unknown name fails exactly like a wrong password.
    if (!owner) throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
    return owner.directory.bind(dn, password, ctx);
  }

  async add(entry: Entry, ctx: OperationContext): Promise<void> {
    return this.writer(entry.dn, 'add').directory.add(entry, ctx);
  }

  async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    return this.writer(dn, 'modify').directory.modify(dn, changes, ctx);
  }

  async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.writer(dn, 'delete').directory.delete(dn, ctx);
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    const owner = this.writer(request.dn, 'modifyDN');
    if (request.newSuperior && this.owner(request.newSuperior) !== owner) {
      if (!this.owner(request.newSuperior) && !this.synthetic?.get(request.newSuperior)) {
        throw this.missing(request.newSuperior, 'modifyDN');
      }
      throw new LdapError(ResultCode.affectsMultipleDSAs, 'modifyDN: cannot move an entry to another forest');
    }
    return owner.directory.modifyDn(request, ctx);
  }

  async compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    const owner = this.owner(dn);
    if (owner) return owner.directory.compare(dn, attribute, value, ctx);
    const entry = this.synthetic?.get(dn);
    if (!entry) throw this.missing(dn, 'compare');
    const attr = entry.get(attribute);
    if (!attr) throw new LdapError(ResultCode.noSuchAttribute, `compare: "${dn.text}" has no ${attribute}`);
    const wanted = normalise(attribute, value);
    return attr.values.some((v) => normalise(attribute, v) === wanted);
  }

  async passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    return this.writer(request.user, 'password modify').directory.passwordModify(request, ctx);
  }

  async close(): Promise<void> {
    await Promise.all(this.forests.map((f) => f.directory.close()));
  }

  /** One forest's entries, sorted or counted for the sync guard; its errors stay its own, as in a plain search. */
  private async *owned(
    owner: RoutedForest,
    source: NamedStream,
    request: SearchRequest,
    ctx: SearchContext,
    watched?: WatchedSearch,
  ): AsyncGenerator<Entry, void, undefined> {
    const verdicts: Error[] = [];
    const sources = [this.guarded(source, watched, verdicts, request.sees)];
    try {
      yield* request.sort ? this.sorted(sources, [owner], request, ctx) : concatStreams(sources);
    } catch (err) {
      throw err instanceof ForestStreamError ? err.cause : err;
    }
    if (verdicts.length > 0) throw verdicts[0];
  }

  /** The stream with the guard's count on completion; a drop it refuses lands in `verdicts`, thrown when the search ends. */
  private guarded(
    source: NamedStream,
    watched: WatchedSearch | undefined,
    verdicts: Error[],
    sees: SearchRequest['sees'],
    failed?: ReadonlySet<string>,
  ): NamedStream {
    const guard = this.options.guard;
    if (!guard || !watched) return source;
    return {
      ...source,
      // What the client may see, as its guard remembers it: hidden entries would tell their numbers.
      ...(sees && { counts: sees }),
      complete: (count) => {
        // A forest a partial search went on without did not complete.
        if (failed?.has(source.forest)) return;
        const verdict = guard.complete(watched, source.forest, count);
        if (verdict) verdicts.push(verdict);
      },
    };
  }

  private searchAbove(base: Entry, request: SearchRequest, ctx: SearchContext, watched?: WatchedSearch): SearchStream {
    const matches = compileFilter(request.filter);
    const scoped =
      request.scope === 'base' ? [base] : request.scope === 'one' ? this.synthetic!.childrenOf(base.dn) : this.synthetic!.subtree(base.dn);
    const local = scoped.filter(matches);
    if (request.scope === 'base') return arrayStream(local);

    const below = request.scope === 'one' ? (f: RoutedForest) => f.mount.parent()?.equals(base.dn) === true : (f: RoutedForest) => f.mount.isWithin(base.dn);
    const scope = request.scope === 'one' ? 'base' : 'sub';
    const unique = this.options.onDuplicate === 'priority' ? this.options.uniqueAttributes : [];
    const downstream = this.withAttributes(request, [...unique, ...sortAttributes(request)]);
    const skips = request.skips;
    const forests = (this.options.onDuplicate === 'priority' ? this.byPriority : this.forests).filter((f) => below(f) && !skips?.(f.mount));
    const missing: string[] = [];
    const failed = new Set<string>();
    const verdicts: Error[] = [];
    const sources: NamedStream[] = forests.map((f) => {
      const stream = f.directory.search({ ...downstream, base: f.mount, scope }, ctx);
      const named = { forest: f.name, stream: this.options.onForestError === 'partial' ? this.tolerant(f.name, stream, missing, failed, ctx) : stream };
      return this.guarded(named, watched, verdicts, request.sees, failed);
    });
    // Sequential, in priority order, so the entry kept is always the preferred forest's.
    const streams = unique.length > 0 ? [{ forest: 'priority', stream: this.deduplicated(sources, request.sees) }] : sources;
    const merged = request.sort
      ? this.sorted([{ forest: VIRTUAL_TREE, stream: arrayStream(local) }, ...streams], forests, request, ctx)
      : mergeStreams(streams, local);
    return HookedSearch.of(merged, {
      error: (err) => (err instanceof ForestStreamError ? forestFailure(err.forest, err.cause) : err),
      done: () => {
        // Every forest gone is an outage even in partial mode: an empty success would read as "no users".
        if (forests.length > 0 && missing.length === forests.length) {
          throw new LdapError(ResultCode.unavailable, `every forest failed: ${missing.join('; ')}`);
        }
        if (verdicts.length > 0) throw verdicts.length === 1 ? verdicts[0] : new LdapError(ResultCode.unavailable, verdicts.map((v) => v.message).join('; '));
      },
    });
  }

  private sorted(sources: readonly NamedStream[], forests: readonly RoutedForest[], request: SearchRequest, ctx: SearchContext): SearchStream {
    const sort = request.sort!;
    const hiddenKey = sort.keys.find((k) => forests.some((f) => f.hides?.(k.attribute)))?.attribute;
    const context = {
      maxEntries: this.options.maxSortEntries ?? 0,
      buffers: this.options.sortBuffers,
      holder: { connection: ctx.connectionId, identity: holderOf(ctx) },
      ...(hiddenKey !== undefined && { hiddenKey }),
    };
    return sortedMerge(sources, sort, context, ctx.trailer, request.sees);
  }

  /** Only an entry the client may see claims a unique value: a hidden one would take a visible one's place. */
  private async *deduplicated(sources: readonly NamedStream[], sees: SearchRequest['sees']): AsyncGenerator<Entry, void, undefined> {
    const duplicates = new DuplicateFilter(this.options.uniqueAttributes, this.options.logger);
    for (const s of sources) {
      for await (const e of concatStreams([s])) if ((sees === undefined || sees(e)) && duplicates.admit(e, s.forest)) yield e;
    }
  }

  /**
   * `onForestError: partial`: a forest's outage ends only its own stream; the search goes on and
   * its result names the forest (the search's trailer), with a warning log and a metric.
   */
  private async *tolerant(
    forest: string,
    stream: SearchStream,
    missing: string[],
    failed: Set<string>,
    ctx: SearchContext,
  ): AsyncGenerator<Entry, void, undefined> {
    try {
      yield* stream;
    } catch (err) {
      if (ctx.signal.aborted || !isOutage(err)) throw err;
      const failure = forestFailure(forest, err);
      const reason = failure.message;
      missing.push(reason);
      failed.add(forest);
      ctx.trailer.missingForest(reason);
      metrics.partialSearches.inc({ forest });
      this.options.logger.warn({ forest, reason: failure instanceof LdapError ? loggedMessage(failure) : reason }, 'forest missing from a partial search result (onForestError: partial)');
    }
  }

  /** Attributes the router needs to see in entries; the front end still returns only what was asked. */
  private withAttributes(request: SearchRequest, extra: readonly string[]): SearchRequest {
    if (extra.length === 0) return request;
    const asked = request.attributes.length === 0 ? ['*'] : request.attributes.filter((a) => a !== '1.1');
    return { ...request, attributes: [...asked, ...extra] };
  }

  private owner(dn: Dn): RoutedForest | undefined {
    return this.forests.find((f) => dn.isWithin(f.mount));
  }

  private writer(dn: Dn, operation: string): RoutedForest {
    const owner = this.owner(dn);
    if (owner) return owner;
    if (this.synthetic?.get(dn)) {
      throw new LdapError(ResultCode.unwillingToPerform, `${operation}: "${dn.text}" is a virtual container and cannot be changed`);
    }
    throw this.missing(dn, operation);
  }

  /** noSuchObject with the longest existing virtual DN above `dn` as matchedDN. */
  private missing(dn: Dn, operation: string): LdapError {
    for (let p = dn.parent(); p; p = p.parent()) {
      const e = this.synthetic?.get(p);
      if (e) return new LdapError(ResultCode.noSuchObject, `${operation}: no such object "${dn.text}"`, e.dn.text);
    }
    return new LdapError(ResultCode.noSuchObject, `${operation}: "${dn.text}" is not in any naming context`);
  }
}

/**
 * A forest's failure inside a search ends the whole search with an error naming the forest:
 * an outage must never look like an empty or partial success. Directory answers that are not
 * outages (noSuchObject, limits, …) keep their code.
 */
function forestFailure(forest: string, err: unknown): Error {
  if (!(err instanceof LdapError)) return new LdapError(ResultCode.unavailable, `forest "${forest}" failed: internal error`);
  if (err.forest === forest) return err;
  const code = isOutage(err) ? ResultCode.unavailable : err.code;
  return new LdapError(code, `forest "${forest}": ${err.message}`, err.matchedDn, forest, err.detail);
}

function sortAttributes(request: SearchRequest): string[] {
  return request.sort?.keys.map((k) => k.attribute) ?? [];
}
