import { LRUCache } from 'lru-cache';
import type { CacheConfig } from '../config/schema.js';
import { holderOf, type OperationContext, type SearchRequest } from '../core/directory.js';
import type { Dn } from '../core/dn.js';
import type { Filter } from '../core/filter.js';
import { ANONYMOUS, type Identity } from '../core/identity.js';
import type { ResultCode } from '../core/result-codes.js';
import { searchShape } from '../core/search-shape.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { protocolOpStart, type ResultExtras } from '../protocol/encoder.js';

/** A forest as the cache sees it: where it appears in the virtual tree, and whether its results may be kept. */
export interface CachedForest {
  readonly name: string;
  readonly mount: Dn;
  readonly cache: boolean;
}

export interface ResultCacheOptions {
  /** Without maxBytesPerIdentity, one identity may fill the whole cache (the configuration's default is a fifth). */
  readonly settings: Omit<CacheConfig, 'enabled' | 'maxBytesPerIdentity'> & { readonly maxBytesPerIdentity?: number };
  readonly forests: readonly CachedForest[];
  /** The access view of an identity (AccessPolicy.viewKey): who may share a cached result. */
  readonly viewKey: (identity: Identity) => string;
  readonly logger: Logger;
  /** The clock, in milliseconds (tests move it); performance.now by default. */
  readonly now?: () => number;
}

/** Where a cacheable search's result is kept, and what must not change before it is stored. */
export interface CacheKey {
  readonly text: string;
  /** The forests the search region touches. */
  readonly forests: readonly string[];
  /** Writes to those forests counted when the search started: a result read across a write is not kept. */
  readonly writes: number;
  /** Whose share of the cache the result fills when kept (holderOf: a canonical DN, a login, an anonymous client's address). */
  readonly holder: string;
}

/** The SearchResultDone of a kept result (always a success). */
export interface KeptOutcome {
  readonly code: ResultCode;
  readonly entries: number;
  readonly extras?: ResultExtras;
}

export interface CachedResult {
  /** The protocolOps of the result's entries and references, in order, back to back: each goes out again behind a new envelope. */
  readonly ops: Buffer;
  readonly outcome: KeptOutcome;
  readonly forests: readonly string[];
  readonly bytes: number;
  /** The identity whose search kept it: its share bears the bytes. */
  readonly holder: string;
  readonly storedAt: number;
  /** Served as is until storedAt + freshMs; after that only while a forest is unavailable (staleIfErrorSeconds). */
  readonly freshMs: number;
}

type EvictionReason = 'size' | 'expired' | 'write';
const EVICTION: Partial<Record<LRUCache.DisposeReason, EvictionReason>> = { evict: 'size', expire: 'expired', delete: 'write' };

/**
 * What a kept result costs besides its encoded entries and its key: its objects, its buffer's own
 * allocation, the LRU's and the per-forest index's slots (measured with Node 24: about 500 bytes).
 */
const OVERHEAD_BYTES = 512;

/**
 * An attribute description (RFC 4512: a name or an OID, with options) spelled without the
 * characters the key's text uses around it (`(`, `)`, `=`, `:`, `,`, NUL, …).
 */
const DESCRIPTION = /^[A-Za-z0-9][\w.-]*(?:;[\w-]+)*$/;
/** A requested attribute: a description, `*`, `+`, or one with AD's range option (`member;range=0-*`). */
const REQUESTED = /^(?:[*+]|[A-Za-z0-9][\w.-]*(?:;[\w-]+|;range=\d+-(?:\d+|\*))*)$/i;

/**
 * Search results after rewriting and access filtering, encoded, in an LRU bounded by bytes. Keyed
 * by the request's shape, its limits and the identity's access view, so clients with different
 * rights never share an answer; tagged with the forests the search touched, so a write through
 * Canopy evicts every result that could hold the written entry. Each identity's kept results fill
 * at most its share of the bytes; past it its own oldest go, not others' (whose stale results may
 * have to stand in for an unavailable forest).
 */
export class ResultCache {
  readonly maxEntriesPerResult: number;
  readonly maxBytes: number;
  private readonly maxBytesPerIdentity: number;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly staleMs: number;
  private readonly forests: readonly CachedForest[];
  private readonly viewKey: (identity: Identity) => string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly lru: LRUCache<string, CachedResult>;
  /** Keys of the kept results touching each forest. */
  private readonly byForest = new Map<string, Set<string>>();
  /** Each identity's kept results, least recently used first, and their bytes: its share (maxBytesPerIdentity). */
  private readonly byHolder = new Map<string, { bytes: number; readonly keys: Set<string> }>();
  /** Writes seen per forest. */
  private readonly writes = new Map<string, number>();
  /** The next configuration's cache, once this one is retired: writes still running here evict there too. */
  private successor?: ResultCache;
  private readonly counts = { hits: 0, misses: 0, staleServed: 0, evicted: { size: 0, expired: 0, write: 0 } };
  private closed = false;
  /** Bytes the searches running now have recorded to keep (see record): a copy of their answers. */
  private recording = 0;
  /** Set while makeRoom evicts: the deletion is a size eviction (an identity's share), not a write's. */
  private evictingShare = false;

  constructor(options: ResultCacheOptions) {
    const s = options.settings;
    this.maxEntriesPerResult = s.maxEntriesPerResult;
    this.maxBytes = s.maxBytes;
    this.maxBytesPerIdentity = Math.min(s.maxBytes, s.maxBytesPerIdentity ?? s.maxBytes);
    this.ttlMs = s.ttlSeconds * 1000;
    this.negativeTtlMs = s.negativeTtlSeconds * 1000;
    this.staleMs = s.staleIfErrorSeconds * 1000;
    this.forests = options.forests;
    this.viewKey = options.viewKey;
    this.logger = options.logger;
    const now = options.now ?? (() => performance.now());
    this.now = now;
    this.lru = new LRUCache<string, CachedResult>({
      maxSize: s.maxBytes,
      sizeCalculation: (r) => r.bytes,
      perf: { now },
      // The clock is read on every check, so an expiry is never seen late (the default caches it for 1 ms).
      ttlResolution: 0,
      dispose: this.disposed,
    });
  }

  /**
   * The key of a search the cache may answer; undefined when it must go around the cache: a forest
   * with `cache: false`, or attribute names the key's text could not tell from another request's.
   */
  key(request: SearchRequest, ctx: OperationContext, pageSize?: number): CacheKey | undefined {
    const { base } = request;
    const touched = this.forests.filter((f) => f.mount.isWithin(base) || base.isWithin(f.mount));
    if (touched.some((f) => !f.cache) || !spellable(request)) return undefined;
    const forests = touched.map((f) => f.name);
    const view = this.viewKey(ctx.identity ?? ANONYMOUS);
    const text = [view, request.sizeLimit, pageSize ?? '', request.sort?.required ?? '', searchShape(request)].join('\0');
    return { text, forests, writes: this.writesTo(forests), holder: holderOf(ctx) };
  }

  /** The kept result, fresh or one that may stand in for an unavailable forest (staleIfErrorSeconds); counts a hit or a miss. */
  lookup(key: CacheKey): { readonly result: CachedResult; readonly fresh: boolean } | undefined {
    const result = this.lru.get(key.text);
    if (result) this.used(result.holder, key.text);
    const fresh = result !== undefined && this.now() - result.storedAt < result.freshMs;
    if (fresh) {
      this.counts.hits++;
      metrics.cacheHits.inc();
    } else {
      this.counts.misses++;
      metrics.cacheMisses.inc();
    }
    return result && (fresh || this.mayStandIn(key, result)) ? { result, fresh } : undefined;
  }

  /**
   * Whether a result past its TTL may still answer for an unavailable forest: no write evicted it
   * and it is within staleIfErrorSeconds, now (the forests may have taken long to fail).
   */
  mayStandIn(key: CacheKey, result: CachedResult): boolean {
    return this.lru.peek(key.text) === result && this.now() - result.storedAt < result.freshMs + this.staleMs;
  }

  /**
   * Room for `bytes` more of a running search's record, to keep when it ends whole: false when the
   * searches running now have recorded maxBytes together, so that many searches at once (one
   * client pipelining large ones) hold no unbounded copy of their answers. Given back with
   * `recorded` when the search ends, kept or not.
   */
  record(bytes: number): boolean {
    if (this.recording + bytes > this.maxBytes) return false;
    this.recording += bytes;
    return true;
  }

  recorded(bytes: number): void {
    this.recording -= bytes;
  }

  /** Keeps a whole, successful result: `messages` as the search wrote them (any message ID). */
  store(key: CacheKey, messages: readonly Buffer[], outcome: KeptOutcome): void {
    if (this.closed || this.writesTo(key.forests) !== key.writes) return;
    const freshMs = messages.length === 0 ? this.negativeTtlMs : this.ttlMs;
    if (freshMs === 0) return;
    let opBytes = 0;
    for (const m of messages) opBytes += m.length - protocolOpStart(m);
    const bytes = opBytes + key.text.length + OVERHEAD_BYTES;
    if (bytes > this.maxBytesPerIdentity) return;
    // A result kept again stays in the share of the identity that kept it first: another identity of
    // the same view renewing it must not make it its own, then push it out of its own share.
    const replaced = this.lru.peek(key.text, { allowStale: true });
    const holder = replaced?.holder ?? key.holder;
    // The result it replaces leaves the same share: only the difference needs room.
    this.makeRoom(holder, bytes - (replaced?.bytes ?? 0));
    // One allocation of exactly this size, outside Node's shared buffer pool: a kept result holds only its own bytes.
    const ops = Buffer.allocUnsafeSlow(opBytes);
    let off = 0;
    for (const m of messages) off += m.copy(ops, off, protocolOpStart(m));
    const result: CachedResult = {
      ops,
      outcome: { code: outcome.code, entries: outcome.entries, ...(outcome.extras && { extras: outcome.extras }) },
      forests: key.forests,
      bytes,
      holder,
      storedAt: this.now(),
      freshMs,
    };
    this.lru.set(key.text, result, { ttl: freshMs + this.staleMs });
    metrics.cacheResults.inc();
    metrics.cacheBytes.inc(bytes);
    for (const f of key.forests) {
      let keys = this.byForest.get(f);
      if (!keys) this.byForest.set(f, (keys = new Set()));
      keys.add(key.text);
    }
    let mine = this.byHolder.get(holder);
    if (!mine) this.byHolder.set(holder, (mine = { bytes: 0, keys: new Set() }));
    mine.bytes += bytes;
    mine.keys.add(key.text);
  }

  /** A kept result was asked for: last in its holder's order, as in the LRU's. */
  private used(holder: string, key: string): void {
    const keys = this.byHolder.get(holder)?.keys;
    if (keys?.delete(key)) keys.add(key);
  }

  /** Evicts `holder`'s own least recently used results until `bytes` more fit in its share. */
  private makeRoom(holder: string, bytes: number): void {
    const mine = this.byHolder.get(holder);
    if (!mine || this.maxBytesPerIdentity >= this.maxBytes) return;
    for (const k of mine.keys) {
      if (mine.bytes + bytes <= this.maxBytesPerIdentity) return;
      this.evictingShare = true;
      this.lru.delete(k);
      this.evictingShare = false;
    }
  }

  /** A write to `dn` went through Canopy: every result touching its forest goes, and searches running across it are not kept. */
  invalidate(dn: Dn): void {
    for (const f of this.forests) {
      if (!dn.isWithin(f.mount) && !f.mount.isWithin(dn)) continue;
      this.writes.set(f.name, (this.writes.get(f.name) ?? 0) + 1);
      const keys = this.byForest.get(f.name);
      if (keys) for (const k of [...keys]) this.lru.delete(k);
    }
    this.successor?.invalidate(dn);
  }

  /**
   * A reload: the new configuration's cache serves from now on. This one lets its results go at once
   * (searches still running on the old configuration keep nothing), and passes on to `successor`
   * the writes still running on the old configuration: the new cache may have kept what they change.
   */
  retire(successor: ResultCache | undefined): void {
    this.successor = successor;
    this.close();
  }

  /** A stale result was served because the forests answered unavailable or busy. */
  servedStale(result: CachedResult, reason: string | undefined): void {
    this.counts.staleServed++;
    metrics.cacheStaleServed.inc();
    const ageSeconds = Math.round((this.now() - result.storedAt) / 1000);
    this.logger.warn({ forests: result.forests, ageSeconds, reason }, 'stale cached result served: a forest is unavailable');
  }

  /** Hits, misses, evictions, results and bytes: what the summary log line reports. */
  summary() {
    return { ...this.counts, evicted: { ...this.counts.evicted }, results: this.lru.size, bytes: this.lru.calculatedSize };
  }

  /** Logs the summary and lets every result go. */
  close(): void {
    if (this.closed) return;
    this.logger.info(this.summary(), 'result cache');
    this.closed = true;
    this.lru.clear();
  }

  private writesTo(forests: readonly string[]): number {
    let n = 0;
    for (const f of forests) n += this.writes.get(f) ?? 0;
    return n;
  }

  private readonly disposed = (result: CachedResult, key: string, reason: LRUCache.DisposeReason): void => {
    for (const f of result.forests) this.byForest.get(f)?.delete(key);
    const holder = this.byHolder.get(result.holder);
    if (holder?.keys.delete(key)) {
      holder.bytes -= result.bytes;
      if (holder.keys.size === 0) this.byHolder.delete(result.holder);
    }
    metrics.cacheResults.dec();
    metrics.cacheBytes.dec(result.bytes);
    const why = this.evictingShare ? 'size' : EVICTION[reason];
    if (this.closed || why === undefined) return;
    this.counts.evicted[why]++;
    metrics.cacheEvictions.inc({ reason: why });
  };
}

/** Whether every attribute name the request carries is one the key's text spells unambiguously. */
function spellable(request: SearchRequest): boolean {
  return (
    request.attributes.every((a) => REQUESTED.test(a)) &&
    (request.sort?.keys.every((k) => DESCRIPTION.test(k.attribute) && (k.orderingRule === undefined || DESCRIPTION.test(k.orderingRule))) ?? true) &&
    plainFilter(request.filter)
  );
}

function plainFilter(filter: Filter): boolean {
  switch (filter.type) {
    case 'and':
    case 'or':
      return filter.filters.every(plainFilter);
    case 'not':
      return plainFilter(filter.filter);
    case 'extensible':
      return (filter.attribute === undefined || DESCRIPTION.test(filter.attribute)) && (filter.rule === undefined || DESCRIPTION.test(filter.rule));
    default:
      return DESCRIPTION.test(filter.attribute);
  }
}
