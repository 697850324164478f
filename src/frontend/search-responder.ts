import { answerFromCache } from '../cache/cached-search.js';
import type { ResultCache } from '../cache/result-cache.js';
import type { Directory, OperationContext, SearchRequest, SortRequest } from '../core/directory.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { metrics } from '../observability/metrics.js';
import { searchShape } from '../core/search-shape.js';
import type { SearchTrailer } from '../core/search-trailer.js';
import type { Control } from '../protocol/decoder.js';
import { ControlOid } from '../protocol/controls/oids.js';
import { decodePagedResults, pagedResultsControl, type PagedResults } from '../protocol/controls/paged-results.js';
import { decodeSortRequest, sortResponseControl } from '../protocol/controls/server-side-sort.js';
import { AttributeSelection, encodeSearchEntry, encodeSearchReference } from '../protocol/encoder.js';
import { PagedCursors } from './paged-cursors.js';
import type { SearchOutcome } from './outcome.js';
import { SearchCursor } from './search-cursor.js';

/** Server-side search limits (Active Directory's MaxPageSize, MaxQueryDuration, MaxResultSetsPerConn). 0 = none. */
export interface SearchLimits {
  /** Entries of an unpaged search; more end it with sizeLimitExceeded. */
  readonly maxResultEntries: number;
  /** Larger pages asked for are served at this size. */
  readonly maxPageSize: number;
  /** Per search operation (each page of a paged search). */
  readonly searchTimeMs: number;
  /** Paged searches open at once on one connection. */
  readonly maxCursors: number;
  /** A paged search not continued for this long is released. */
  readonly cursorIdleMs: number;
}

export const NO_SEARCH_LIMITS: SearchLimits = { maxResultEntries: 0, maxPageSize: 0, searchTimeMs: 0, maxCursors: 10, cursorIdleMs: 0 };

/** Where a search's messages go: the connection's socket, with its backpressure. */
export interface SearchOutput {
  /** False when the socket's buffer is full. */
  write(message: Buffer): boolean;
  /** Resolves when the socket wants more, closes, or `signal` aborts. */
  drained(signal: AbortSignal): Promise<void>;
}

/**
 * Asked after each page of a paged search is answered with a cookie (`pages`: how many so far);
 * true drops the client's connection as a crashed server would. The mock directory's fault
 * switches use it; `trailer` is the one the search's stages saw, so it identifies the search.
 */
export type DropAfterPage = (trailer: SearchTrailer, pages: number) => boolean;

interface SearchControls {
  readonly paged?: PagedResults;
  readonly sort?: SortRequest;
}

/**
 * Serves a connection's searches below the root DSE: paged results (RFC 2696) with cursors kept
 * between pages, server-side sort (RFC 2891, done by the router), client and server limits.
 * Entries are pulled from the directory one at a time, only while the socket accepts them.
 */
export class SearchResponder {
  private readonly cursors: PagedCursors;

  constructor(
    private readonly directory: Directory,
    private readonly output: SearchOutput,
    private readonly limits: SearchLimits,
    private readonly dropAfterPage?: DropAfterPage,
    /** The result cache serving now (asked per search); without one every search goes to the directory. */
    private readonly resultCache?: () => ResultCache | undefined,
  ) {
    this.cursors = new PagedCursors(limits.maxCursors, limits.cursorIdleMs);
  }

  /** Open paged searches (tests, metrics). */
  get openCursors(): number {
    return this.cursors.size;
  }

  // Not async: it awaits nothing, and the promise it returns is the search's own (no step more to resolve another with it).
  search(messageId: number, request: SearchRequest, controls: readonly Control[], ctx: OperationContext): Promise<SearchOutcome> {
    const { paged, sort } = searchControls(controls);
    const full = sort ? { ...request, sort } : request;
    const run = (output: SearchOutput): Promise<SearchOutcome> =>
      paged ? this.page(messageId, full, paged, ctx, output) : this.unpaged(messageId, full, ctx, output);
    // Every page after the first of a paged search goes around the cache; a first page is kept only when it is the whole result.
    const firstPage = paged && paged.cookie.length === 0 && paged.size > 0;
    const cache = !paged || firstPage ? this.resultCache?.() : undefined;
    const key = cache?.key(full, ctx, paged && lowest(paged.size, this.limits.maxPageSize));
    return cache && key ? answerFromCache(cache, key, messageId, this.output, ctx.signal, run) : run(this.output);
  }

  private async unpaged(messageId: number, request: SearchRequest, ctx: OperationContext, output: SearchOutput): Promise<SearchOutcome> {
    const cursor = new SearchCursor(this.directory, request, ctx);
    const detach = cursor.attach(ctx.signal, this.timeMs(request));
    const sizeLimit = lowest(request.sizeLimit, this.limits.maxResultEntries);
    try {
      if (await this.send(messageId, cursor, sizeLimit, output)) return this.done(cursor, ResultCode.success);
      const which = sizeLimit === request.sizeLimit ? 'the size limit' : 'limits.maxResultEntries; page the search to read more';
      return this.done(cursor, ResultCode.sizeLimitExceeded, `more than ${sizeLimit} entries (${which})`);
    } catch (err) {
      return this.failed(cursor, err);
    } finally {
      detach();
      cursor.close();
    }
  }

  /** A page was abandoned after it was answered: its paged search ends. */
  abandoned(messageId: number): void {
    this.cursors.abandon(messageId);
  }

  /** Unbind, disconnect or a new bind: every paged search of the connection ends. */
  releaseAll(): void {
    this.cursors.releaseAll();
  }

  /** A reload changed what searches may see: the paged searches open now end, their next page refused with `reason`; returns how many. */
  endPagedSearches(reason: string): number {
    return this.cursors.endAll(reason);
  }

  private async page(messageId: number, request: SearchRequest, paged: PagedResults, ctx: OperationContext, output: SearchOutput): Promise<SearchOutcome> {
    const fingerprint = fingerprintOf(request, ctx.boundDn);
    const first = paged.cookie.length === 0;
    if (first && paged.size === 0) return { code: ResultCode.success, entries: 0, extras: { controls: [pagedResultsControl(EMPTY)] } };
    const { cursor, cookie } = first
      ? this.cursors.open(() => new SearchCursor(this.directory, request, ctx), fingerprint)
      : { cursor: this.cursors.take(paged.cookie, fingerprint), cookie: paged.cookie };
    if (paged.size === 0) {
      // RFC 2696 §3: size 0 with a cookie abandons the paged search.
      this.cursors.release(cookie);
      return this.done(cursor, ResultCode.success, undefined, EMPTY, 0);
    }
    cursor.lastMessageId = messageId;
    cursor.paging.at = performance.now();
    const before = cursor.sent;
    const pageSize = lowest(paged.size, this.limits.maxPageSize);
    // The client's sizeLimit counts over the whole paged search (RFC 2696 §3).
    const allowed = request.sizeLimit > 0 ? Math.min(pageSize, request.sizeLimit - cursor.sent) : pageSize;
    const detach = cursor.attach(ctx.signal, this.timeMs(request));
    try {
      if (await this.send(messageId, cursor, allowed, output)) {
        this.cursors.release(cookie);
        return this.done(cursor, ResultCode.success, undefined, EMPTY, cursor.sent - before);
      }
      if (request.sizeLimit > 0 && cursor.sent >= request.sizeLimit) {
        this.cursors.release(cookie);
        return this.done(cursor, ResultCode.sizeLimitExceeded, `more than ${request.sizeLimit} entries (the size limit)`, EMPTY, cursor.sent - before);
      }
      this.cursors.park(cookie);
      const outcome = this.done(cursor, ResultCode.success, undefined, cookie, cursor.sent - before);
      return this.dropAfterPage?.(cursor.trailer, ++cursor.pages) ? { ...outcome, dropConnection: true } : outcome;
    } catch (err) {
      this.cursors.release(cookie);
      // A sync cut short (a forest failing, the deletion guard): what an alert on failed syncs counts.
      if (err instanceof LdapError) metrics.pagedSearchesFailed.inc({ code: err.code });
      return this.failed(cursor, err, cursor.sent - before);
    } finally {
      detach();
    }
  }

  /**
   * Writes up to `max` entries (0 = all) and tells whether the search has ended; when `max` is
   * reached it pulls one entry ahead, so the last page is known to be the last.
   */
  private async send(messageId: number, cursor: SearchCursor, max: number, output: SearchOutput): Promise<boolean> {
    const { iterator, signal } = cursor;
    const selection = AttributeSelection.compile(cursor.request.attributes, cursor.request.typesOnly);
    let n = 0;
    try {
      if (cursor.head) {
        n++;
        const head = cursor.head;
        cursor.head = undefined;
        if (!output.write(encodeSearchEntry(messageId, head, selection))) await output.drained(signal);
      }
      while (max === 0 || n < max) {
        const next = await iterator.next();
        if (signal.aborted) throw cursor.stopReason();
        if (next.done) return ended(cursor);
        n++;
        if (!output.write(encodeSearchEntry(messageId, next.value, selection))) await output.drained(signal);
      }
      if (signal.aborted) throw cursor.stopReason();
      const next = await iterator.next();
      if (signal.aborted) throw cursor.stopReason();
      if (next.done) return ended(cursor);
      cursor.head = next.value;
      return false;
    } catch (err) {
      // A stopped cursor's own reason (time limit) wins over how the backend reported the abort.
      throw signal.aborted ? cursor.stopReason() : err;
    } finally {
      cursor.sent += n;
      if (!signal.aborted) this.writeReferences(messageId, cursor, output);
    }
  }

  /**
   * Continuation references the stages noted while this operation pulled entries go out before its
   * result. Written without waiting for the socket: they are few (MAX_SEARCH_REFERENCES per search).
   */
  private writeReferences(messageId: number, cursor: SearchCursor, output: SearchOutput): void {
    const { references } = cursor.trailer;
    while (cursor.referencesSent < references.length) output.write(encodeSearchReference(messageId, references[cursor.referencesSent++]));
  }

  private done(cursor: SearchCursor, code: ResultCode, message?: string, cookie?: Buffer, entries = cursor.sent): SearchOutcome {
    const { trailer } = cursor;
    const controls: Control[] = [];
    if (cookie) controls.push(pagedResultsControl(cookie));
    if (cursor.request.sort) controls.push(sortResponseControl(trailer.sortResult ?? ResultCode.success));
    // onForestError: partial — the result names what is missing, never a silent success.
    const partial = trailer.missingForests.length > 0 ? `partial result: ${trailer.missingForests.join('; ')}` : undefined;
    const text = [message, partial, ...trailer.remarks].filter((t) => t !== undefined).join('; ');
    // A sort that could not be done (a bound reached for now, a withheld key) is not kept for others.
    const cacheable = code === ResultCode.success && !text && !cookie?.length && trailer.sortResult === undefined;
    return { code, entries, ...(text && { message: text }), ...(controls.length > 0 && { extras: { controls } }), ...(cacheable && { cacheable }) };
  }

  /** The error result; a sort the client required but that could not be done is RFC 2891's 12. */
  private failed(cursor: SearchCursor, err: unknown, entries = cursor.sent): SearchOutcome {
    if (!(err instanceof LdapError)) throw err;
    const { sort } = cursor.request;
    const sortResult = cursor.trailer.sortResult;
    if (sort?.required && sortResult !== undefined) {
      return {
        code: ResultCode.unavailableCriticalExtension,
        message: err.message,
        entries,
        extras: { controls: [sortResponseControl(sortResult)] },
      };
    }
    const outcome = { ...this.done(cursor, err.code, err.message, undefined, entries), matchedDn: err.matchedDn, ...(err.detail !== undefined && { detail: err.detail }) };
    // RFC 4511 §4.1.10: a referral result carries its URLs (an upstream's, passed on by its forest).
    const referral = err.code === ResultCode.referral ? cursor.trailer.referral : undefined;
    return referral ? { ...outcome, extras: { ...outcome.extras, referral } } : outcome;
  }

  private timeMs(request: SearchRequest): number {
    return lowest(request.timeLimit * 1000, this.limits.searchTimeMs);
  }
}

const EMPTY = Buffer.alloc(0);

function ended(cursor: SearchCursor): true {
  cursor.finished();
  return true;
}

/** The smaller of two limits where 0 means none. */
function lowest(a: number, b: number): number {
  return a === 0 ? b : b === 0 ? a : Math.min(a, b);
}

/** The controls a search understands; others were already refused when critical, or are ignored. */
function searchControls(controls: readonly Control[]): SearchControls {
  let paged: PagedResults | undefined;
  let sort: SortRequest | undefined;
  for (const c of controls) {
    if (c.oid === ControlOid.pagedResults) paged = decodePagedResults(c);
    else if (c.oid === ControlOid.sortRequest) sort = { keys: decodeSortRequest(c), required: c.critical };
  }
  return { ...(paged && { paged }), ...(sort && { sort }) };
}

/** What a continued paged search must repeat: the identity and every field that shapes the result. */
function fingerprintOf(request: SearchRequest, boundDn: string): string {
  return `${boundDn.toLowerCase()}\0${searchShape(request)}`;
}
