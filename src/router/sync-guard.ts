import { hash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { OperationContext, SearchRequest } from '../core/directory.js';
import { filterToLogString, filterToString } from '../core/filter-text.js';
import { ANONYMOUS, type Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { Logger } from '../observability/logger.js';
import { capLogged } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';

/**
 * The sync deletion guard. A directory-synchronising application treats a user missing from a
 * sync as deleted; an outage already ends in an error, but a forest can also answer completely and
 * successfully with far fewer entries (an OU moved, lost read rights, an edited filter). So for each
 * sync-shaped search (identity, base, scope, filter) and forest, the count of the last complete
 * and successful result is kept as its reference; a complete result that falls below it by more
 * than both thresholds ends the search with an error instead, and its count waits as pending
 * until an operator accepts it (`canopy guard accept`). Counts only: no value of an entry is kept.
 */
export interface SyncGuardSettings {
  readonly enabled: boolean;
  /** Fewest entries a result must have to become a reference (small lookups are not syncs). */
  readonly minEntries: number;
  readonly maxDropPercent: number;
  readonly maxDropCount: number;
  /** Where references survive restarts; without it they live in memory only. */
  readonly stateFile?: string;
  /** Most shapes remembered; the least recently seen is forgotten first. */
  readonly maxShapes: number;
}

/** A count and when it was seen (ISO 8601). */
export interface SeenCount {
  readonly count: number;
  readonly at: string;
}

export interface GuardedForest {
  reference?: SeenCount;
  /** A drop past the thresholds, waiting to be accepted. */
  pending?: SeenCount;
  trips: number;
  lastTrip?: string;
}

/** What a shape is, for people: the filter's password values are masked and long filters cut. */
export interface ShapeDescription {
  readonly identity: string;
  readonly base: string;
  readonly scope: string;
  readonly filter: string;
}

export interface GuardedShape {
  readonly description: ShapeDescription;
  lastSeen: string;
  readonly forests: Record<string, GuardedForest>;
}

/** The state file's content. */
export interface GuardState {
  readonly version: 1;
  readonly shapes: Record<string, GuardedShape>;
}

/** The request `canopy guard accept` leaves beside the state file for a running server. */
export interface AcceptRequest {
  /** One forest's pending counts; absent: every forest's. */
  readonly forest?: string;
}

/**
 * What one sync decision changed: one shape's record for one forest. With serve.workers, a worker
 * sends it to the primary, which holds the references, and the primary passes it on to every worker.
 */
export interface GuardChange {
  readonly key: string;
  readonly description: ShapeDescription;
  readonly lastSeen: string;
  readonly forest: string;
  readonly record: GuardedForest;
}

/** A search the guard watches: whose it is, its key, and what to say about it (key and description made only when needed). */
export interface WatchedSearch {
  readonly identity: string;
  readonly key: string;
  describe(): ShapeDescription;
}

/**
 * A watched search, its key and description made only when asked (a class, not an object literal
 * with a getter: that one made its accessor anew for every search).
 */
class WatchedShape implements WatchedSearch {
  private hashed: string | undefined;

  constructor(
    readonly identity: string,
    private readonly request: SearchRequest,
  ) {}

  get key(): string {
    const { request } = this;
    // crypto.hash, the one-shot digest: a third of createHash's cost, paid by the searches that need it (see complete).
    return (this.hashed ??= hash('sha256', `${this.identity}\n${request.base.key}\n${request.scope}\n${filterToString(request.filter)}`, 'base64url'));
  }

  // Only a new reference or a trip needs the text: most searches are lookups that never do.
  describe(): ShapeDescription {
    const { request } = this;
    return { identity: this.identity, base: request.base.text, scope: request.scope, filter: capLogged(filterToLogString(request.filter)) };
  }
}

export class SyncGuard {
  private state: GuardState;
  /**
   * The identities some shape is kept for (possibly a few more, never fewer): a search of any other
   * identity that ends below minEntries has no reference to compare with, and needs no key.
   */
  private holders = new Set<string>();
  private saveTimer?: NodeJS.Timeout;

  /**
   * With `share`, this is a worker's copy of the references the primary holds (serve.workers): it
   * starts empty until `replace` gives it the primary's, reads and writes no state file (the primary
   * alone does), and hands each decision's change to `share` for the primary to keep and pass on.
   */
  constructor(
    private settings: SyncGuardSettings,
    private readonly logger: Logger,
    private readonly share?: (change: GuardChange) => void,
  ) {
    this.state = loadState(this.file, logger);
    this.findHolders();
  }

  /** The state file this guard reads and writes: none for a worker's copy. */
  private get file(): string | undefined {
    return this.share ? undefined : this.settings.stateFile;
  }

  /** A reload's new settings; a new state file is read, the references in memory are kept otherwise. */
  configure(settings: SyncGuardSettings): void {
    const moved = settings.stateFile !== this.settings.stateFile;
    this.flush();
    this.settings = settings;
    if (moved && !this.share) this.state = loadState(this.file, this.logger);
    this.findHolders();
  }

  /** A change decided elsewhere (another worker, through the primary), kept as if decided here. */
  merge(change: GuardChange): void {
    const shape = (this.state.shapes[change.key] ??= { description: change.description, lastSeen: change.lastSeen, forests: {} });
    this.holders.add(shape.description.identity);
    if (change.lastSeen > shape.lastSeen) shape.lastSeen = change.lastSeen;
    shape.forests[change.forest] = structuredClone(change.record);
    this.forgetOldest();
    this.save();
  }

  /** The primary's whole state, for a worker's copy: at its start, after an accept or a new state file. */
  replace(state: GuardState): void {
    this.state = structuredClone(state);
    this.findHolders();
  }

  /** The search as the guard knows it, or undefined when it is not sync-shaped (or the guard is off). */
  watch(request: SearchRequest, ctx: OperationContext): WatchedSearch | undefined {
    if (!this.settings.enabled || request.scope === 'base' || request.sizeLimit !== 0) return undefined;
    return new WatchedShape(identityKey(ctx.identity ?? ANONYMOUS), request);
  }

  /**
   * A forest's part of a watched search ended complete and successful with `count` entries: the
   * error to end the search with when that is a drop past the thresholds, else undefined.
   */
  complete(search: WatchedSearch, forest: string, count: number): LdapError | undefined {
    // Most watched searches are lookups of a few entries, never kept: nothing more to do for them.
    if (count < this.settings.minEntries && !this.holders.has(search.identity)) return undefined;
    let shape = this.state.shapes[search.key];
    if (shape === undefined && count < this.settings.minEntries) return undefined;
    const now = new Date().toISOString();
    if (shape === undefined) {
      shape = { description: search.describe(), lastSeen: now, forests: {} };
      this.state.shapes[search.key] = shape;
      this.holders.add(search.identity);
      this.forgetOldest();
    }
    shape.lastSeen = now;
    const record = (shape.forests[forest] ??= { trips: 0 });
    const reference = record.reference;
    if (reference === undefined || !this.isDrop(reference.count, count)) {
      if (reference !== undefined || count >= this.settings.minEntries) {
        record.reference = { count, at: now };
        delete record.pending;
      }
      this.changed(search.key, shape, forest);
      return undefined;
    }
    record.pending = { count, at: now };
    record.trips++;
    record.lastTrip = now;
    this.changed(search.key, shape, forest);
    metrics.syncGuardTrips.inc({ forest });
    this.logger.warn(
      { forest, ...shape.description, reference: reference.count, referenceAt: reference.at, count },
      'sync guard: a complete result fell far below the last one; the search fails instead of reading as deletions',
    );
    const dropped = reference.count - count;
    return new LdapError(
      ResultCode.unavailable,
      `sync guard: forest "${forest}" returned ${count} entries where the last complete result (${reference.at}) had ` +
        `${reference.count} (${dropped} fewer, ${Math.round((dropped * 100) / reference.count)}%); ` +
        `missing entries are not deletions until an operator accepts the change: canopy guard accept --forest ${forest}`,
    );
  }

  /** Makes pending counts the references: every forest's, or one forest's. Returns how many. */
  accept(request: AcceptRequest): number {
    const accepted = acceptPending(this.state, request);
    this.logger.info({ forest: request.forest ?? '(all)', accepted }, 'sync guard: pending counts accepted as references');
    this.save();
    this.flush();
    return accepted;
  }

  /** Applies an accept request left by `canopy guard accept` (SIGUSR2), then removes it. */
  acceptFromFile(): void {
    const file = acceptRequestFile(this.file);
    if (file === undefined) return;
    let request: AcceptRequest;
    try {
      request = JSON.parse(readFileSync(file, 'utf8')) as AcceptRequest;
    } catch (err) {
      this.logger.warn({ file, code: (err as NodeJS.ErrnoException).code }, 'sync guard: no readable accept request');
      return;
    }
    this.accept(request);
    rmSync(file, { force: true });
  }

  /** The state, for `canopy guard list`, doctor and tests. */
  snapshot(): GuardState {
    return structuredClone(this.state);
  }

  /** Writes pending changes now (reload, shutdown). */
  flush(): void {
    if (this.saveTimer === undefined) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    saveState(this.file, this.state, this.logger);
  }

  private changed(key: string, shape: GuardedShape, forest: string): void {
    this.save();
    this.share?.({ key, description: shape.description, lastSeen: shape.lastSeen, forest, record: structuredClone(shape.forests[forest]) });
  }

  private isDrop(reference: number, count: number): boolean {
    const dropped = reference - count;
    return dropped > this.settings.maxDropCount && dropped * 100 > reference * this.settings.maxDropPercent;
  }

  /** Syncs end in bursts of a few searches: one write covers them. */
  private save(): void {
    if (this.file === undefined || this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      saveState(this.file, this.state, this.logger);
    }, 200);
    this.saveTimer.unref();
  }

  /**
   * Past maxShapes, the identity with the most shapes gives up its least recently seen: one
   * client's many searches never push out another's few (a daily sync is always the least recently
   * seen, and a real drop would pass unnoticed once its reference was gone).
   */
  private forgetOldest(): void {
    const { shapes } = this.state;
    const keys = Object.keys(shapes);
    if (keys.length <= this.settings.maxShapes) return;
    const held = new Map<string, { count: number; oldest: string }>();
    for (const key of keys) {
      const who = shapes[key].description.identity;
      const holder = held.get(who);
      if (!holder) held.set(who, { count: 1, oldest: key });
      else {
        holder.count++;
        if (shapes[key].lastSeen < shapes[holder.oldest].lastSeen) holder.oldest = key;
      }
    }
    let most: { count: number; oldest: string } | undefined;
    for (const holder of held.values()) {
      if (!most || holder.count > most.count || (holder.count === most.count && shapes[holder.oldest].lastSeen < shapes[most.oldest].lastSeen)) most = holder;
    }
    delete shapes[most!.oldest];
    this.findHolders();
  }

  private findHolders(): void {
    this.holders = new Set(Object.values(this.state.shapes).map((shape) => shape.description.identity));
  }
}

/** Every (search shape, forest) the state holds a record for. */
export function* guardRecords(state: GuardState): Generator<{ shape: GuardedShape; forest: string; record: GuardedForest }> {
  for (const shape of Object.values(state.shapes)) {
    for (const [forest, record] of Object.entries(shape.forests)) yield { shape, forest, record };
  }
}

/** Makes the pending counts of `state` (one forest's, or all) its references; returns how many. */
export function acceptPending(state: GuardState, request: AcceptRequest): number {
  let accepted = 0;
  for (const { forest, record } of guardRecords(state)) {
    if (record.pending === undefined || (request.forest !== undefined && request.forest !== forest)) continue;
    record.reference = record.pending;
    delete record.pending;
    accepted++;
  }
  return accepted;
}

/** Identities' keys: an identity (immutable) is the session's for all its searches, each of which asks. */
const identityKeys = new WeakMap<Identity, string>();

/** Who searched, as the shape names it: references are per identity. */
function identityKey(identity: Identity): string {
  let key = identityKeys.get(identity);
  if (key === undefined) identityKeys.set(identity, (key = keyOf(identity)));
  return key;
}

function keyOf(identity: Identity): string {
  switch (identity.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'account':
      return `dn:${identity.dn.key}`;
    case 'user':
      return identity.dn ? `dn:${identity.dn.key}` : `u:${identity.forest}:${identity.login.toLowerCase()}`;
  }
}

/** Where `canopy guard accept` leaves its request for the running server. */
export function acceptRequestFile(stateFile: string | undefined): string | undefined {
  return stateFile === undefined ? undefined : `${stateFile}.accept`;
}

/** The state in a file; a missing one is empty, a corrupt one is empty with a warning. */
export function loadState(file: string | undefined, logger?: Logger): GuardState {
  const empty: GuardState = { version: 1, shapes: {} };
  if (file === undefined) return empty;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      logger?.warn({ file, code: (err as NodeJS.ErrnoException).code }, 'sync guard: cannot read the state file; starting without references');
    }
    return empty;
  }
  try {
    const state = JSON.parse(text) as GuardState;
    if (state?.version !== 1 || typeof state.shapes !== 'object' || state.shapes === null) throw new Error('not a sync guard state');
    return state;
  } catch {
    logger?.warn({ file }, 'sync guard: the state file is corrupt; starting without references');
    return empty;
  }
}

/** Written whole to a temporary file and renamed over the old one: a crash leaves one or the other. */
export function saveState(file: string | undefined, state: GuardState, logger?: Logger): void {
  if (file === undefined) return;
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  } catch (err) {
    logger?.error({ file, code: (err as NodeJS.ErrnoException).code }, 'sync guard: cannot write the state file; references stay in memory');
    rmSync(temporary, { force: true });
  }
}
