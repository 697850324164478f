import type { Directory, OperationContext, SearchRequest, SortRequest } from '../core/directory.js';
import { filterToString } from '../core/filter-text.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { Control } from '../protocol/codec.js';
import { ControlOid } from '../protocol/controls/oids.js';
import { decodePagedResults, pagedResultsControl, type PagedResults } from '../protocol/controls/paged-results.js';
import { decodeSortRequest, sortResponseControl } from '../protocol/controls/server-side-sort.js';
import { AttributeSelection, encodeSearchEntry, type ResultExtras } from '../protocol/encoder.js';
import { PagedCursors } from './paged-cursors.js';
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

/** A search's SearchResultDone fields. */
export interface SearchOutcome {
  readonly code: ResultCode;
  readonly message?: string;
  readonly matchedDn?: string;
  readonly extras?: ResultExtras;
  readonly entries: number;
}

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
  ) {
    this.cursors = new PagedCursors(limits.maxCursors, limits.cursorIdleMs);
  }

  /** Open paged searches (tests, metrics). */
  get openCursors(): number {
    return this.cursors.size;
  }

  async search(messageId: number, request: SearchRequest, controls: readonly Control[], ctx: OperationContext): Promise<SearchOutcome> {
    const { paged, sort } = searchControls(controls);
    const full = sort ? { ...request, sort } : request;
    if (paged) return this.page(messageId, full, paged, ctx);
    const cursor = new SearchCursor(this.directory, full, ctx);
    const detach = cursor.attach(ctx.signal, this.timeMs(request));
    const sizeLimit = lowest(request.sizeLimit, this.limits.maxResultEntries);
    try {
      if (await this.send(messageId, cursor, sizeLimit)) return this.done(cursor, ResultCode.success);
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

  private async page(messageId: number, request: SearchRequest, paged: PagedResults, ctx: OperationContext): Promise<SearchOutcome> {
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
    const before = cursor.sent;
    const pageSize = lowest(paged.size, this.limits.maxPageSize);
    // The client's sizeLimit counts over the whole paged search (RFC 2696 §3).
    const allowed = request.sizeLimit > 0 ? Math.min(pageSize, request.sizeLimit - cursor.sent) : pageSize;
    const detach = cursor.attach(ctx.signal, this.timeMs(request));
    try {
      if (await this.send(messageId, cursor, allowed)) {
        this.cursors.release(cookie);
        return this.done(cursor, ResultCode.success, undefined, EMPTY, cursor.sent - before);
      }
      if (request.sizeLimit > 0 && cursor.sent >= request.sizeLimit) {
        this.cursors.release(cookie);
        return this.done(cursor, ResultCode.sizeLimitExceeded, `more than ${request.sizeLimit} entries (the size limit)`, EMPTY, cursor.sent - before);
      }
      this.cursors.park(cookie);
      return this.done(cursor, ResultCode.success, undefined, cookie, cursor.sent - before);
    } catch (err) {
      this.cursors.release(cookie);
      return this.failed(cursor, err, cursor.sent - before);
    } finally {
      detach();
    }
  }

  /**
   * Writes up to `max` entries (0 = all) and tells whether the search has ended; when `max` is
   * reached it pulls one entry ahead, so the last page is known to be the last.
   */
  private async send(messageId: number, cursor: SearchCursor, max: number): Promise<boolean> {
    const { iterator, signal } = cursor;
    const selection = AttributeSelection.compile(cursor.request.attributes, cursor.request.typesOnly);
    let n = 0;
    try {
      if (cursor.head) {
        n++;
        const head = cursor.head;
        cursor.head = undefined;
        if (!this.output.write(encodeSearchEntry(messageId, head, selection))) await this.output.drained(signal);
      }
      while (max === 0 || n < max) {
        const next = await iterator.next();
        if (signal.aborted) throw cursor.stopReason();
        if (next.done) return true;
        n++;
        if (!this.output.write(encodeSearchEntry(messageId, next.value, selection))) await this.output.drained(signal);
      }
      if (signal.aborted) throw cursor.stopReason();
      const next = await iterator.next();
      if (signal.aborted) throw cursor.stopReason();
      if (next.done) return true;
      cursor.head = next.value;
      return false;
    } catch (err) {
      // A stopped cursor's own reason (time limit) wins over how the backend reported the abort.
      throw signal.aborted ? cursor.stopReason() : err;
    } finally {
      cursor.sent += n;
    }
  }

  private done(cursor: SearchCursor, code: ResultCode, message?: string, cookie?: Buffer, entries = cursor.sent): SearchOutcome {
    const { notes } = cursor;
    const controls: Control[] = [];
    if (cookie) controls.push(pagedResultsControl(cookie));
    if (cursor.request.sort) controls.push(sortResponseControl(notes.sortResult ?? ResultCode.success));
    // onForestError: partial — the result names what is missing, never a silent success.
    const partial = notes.missingForests.length > 0 ? `partial result: ${notes.missingForests.join('; ')}` : undefined;
    const text = [message, partial].filter((t) => t !== undefined).join('; ');
    return { code, entries, ...(text && { message: text }), ...(controls.length > 0 && { extras: { controls } }) };
  }

  /** The error result; a sort the client required but that could not be done is RFC 2891's 12. */
  private failed(cursor: SearchCursor, err: unknown, entries = cursor.sent): SearchOutcome {
    if (!(err instanceof LdapError)) throw err;
    const { sort } = cursor.request;
    const sortResult = cursor.notes.sortResult;
    if (sort?.required && sortResult !== undefined) {
      return {
        code: ResultCode.unavailableCriticalExtension,
        message: err.message,
        entries,
        extras: { controls: [sortResponseControl(sortResult)] },
      };
    }
    return { ...this.done(cursor, err.code, err.message, undefined, entries), matchedDn: err.matchedDn };
  }

  private timeMs(request: SearchRequest): number {
    return lowest(request.timeLimit * 1000, this.limits.searchTimeMs);
  }
}

const EMPTY = Buffer.alloc(0);

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
  const sort = request.sort?.keys.map((k) => `${k.attribute.toLowerCase()}:${k.orderingRule ?? ''}:${k.reverse}`).join(',') ?? '';
  return [
    boundDn.toLowerCase(),
    request.base.key,
    request.scope,
    filterToString(request.filter),
    request.attributes.map((a) => a.toLowerCase()).join(','),
    request.typesOnly,
    sort,
  ].join('\0');
}
