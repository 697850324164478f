import { LdapError } from '../../core/ldap-error.js';
import { KeyedQuota } from '../../core/keyed-quota.js';
import { ResultCode } from '../../core/result-codes.js';
import type { ServerSelector } from './server-selector.js';
import type { UpstreamConnection } from './upstream-connection.js';

export interface PoolOptions {
  /** Most connections open at once (busy, idle or being opened). */
  readonly size: number;
  /** Most operations outstanding on one connection at once (1: one operation per connection). */
  readonly perConnection: number;
  /** An idle connection is closed after this long; 0 keeps idle connections open. */
  readonly idleMs: number;
  /** Longest wait for room on a connection before failing with busy (51); waits without end when absent. */
  readonly waitMs?: number;
  /** Most paged-search cursors one identity may hold open in this pool at once. */
  readonly cursorsPerHolder?: number;
  /**
   * When every connection holds a paged search, an identity holding none takes the connection of
   * one that asked for no page this long (ms), ending it (see reclaim); none is taken when absent.
   */
  readonly reclaimCursorAfterMs?: number;
  /** Named in busy messages ("forest X"). */
  readonly name: string;
  /** The forest the pool serves, which its errors name. */
  readonly forest?: string;
  /** Told the number of connections with an operation outstanding whenever it changes (the pool-in-use gauge). */
  readonly inUse?: { set(value: number): void };
}

export interface PoolStats {
  readonly open: number;
  /** Connections with at least one operation outstanding. */
  readonly busy: number;
  readonly operations: number;
  readonly cursors: number;
  readonly idleServers: readonly number[];
}

/**
 * What a lease is for. An `operation` shares a connection with others; a `cursor` (an upstream
 * paged search, whose cookie lives on its connection until the last page) also shares it, but
 * never with another cursor: a server keeps one paged search per connection (slapd forgets the
 * first cookie when a second paged search starts; Active Directory keeps its cookie per connection).
 */
export type LeaseKind = 'operation' | 'cursor';

/** A lease waiting for room, in the order they came. */
interface Waiter {
  readonly kind: LeaseKind;
  /** When it gives up with busy (Date.now()); Infinity without waitMs. */
  readonly deadline: number;
  /** Ends the wait: with a slot already claimed for it, or with none to look again itself. */
  wake(slot: Slot | undefined): void;
  /** Ends the wait with busy: its deadline passed. */
  expire(): void;
}

/** What a paged search tells the pool of itself: when it was last active (performance.now()), and how to tell it that its connection was taken. */
export interface CursorOwner {
  lastActive(): number;
  end(): void;
}

interface CursorLease {
  readonly holder: string;
  readonly owner: CursorOwner;
}

interface Slot {
  readonly connection: UpstreamConnection;
  operations: number;
  cursor: boolean;
  /** The paged search holding the connection, when one does. */
  lease?: CursorLease;
  /** When its last operation ended (performance.now()): an idle connection leaves idleMs after. */
  idleSince: number;
}

/**
 * A forest's connections to one kind of work, opened lazily on the best reachable server. Each
 * carries up to `perConnection` operations at once (answers matched by message ID); a new
 * connection is opened when every open one is full and `size` allows. A
 * connection leaves when its server is marked down, a better server is back (failback), or it
 * stops being reusable, as soon as its last operation ends.
 */
export class ConnectionPool {
  private readonly slots = new Map<UpstreamConnection, Slot>();
  private opening = 0;
  private readonly waiting = new Set<Waiter>();
  /** Paged searches open per holder (no cap over all: one per connection caps them). */
  private readonly cursorsByHolder: KeyedQuota<string>;
  private closed = false;
  /**
   * One timer closes the idle connections that have been idle for idleMs: a timer per
   * connection, set at every release and cleared at every lease, cost each bind two of them.
   */
  private idleSweep: NodeJS.Timeout | undefined;
  /** One timer for the waiting leases' deadlines, due at the earliest (a timer per wait cost each one two timer updates). */
  private waitTimer: NodeJS.Timeout | undefined;
  private waitTimerDue = Infinity;
  /** The in-use figure last reported: the gauge is set only when it changes. */
  private reportedBusy = -1;

  constructor(
    private readonly selector: ServerSelector,
    private readonly open: (serverIndex: number) => Promise<UpstreamConnection>,
    private readonly options: PoolOptions,
  ) {
    this.cursorsByHolder = new KeyedQuota(options.cursorsPerHolder ?? 0, 0);
  }

  stats(): PoolStats {
    let busy = 0;
    let operations = 0;
    let cursors = 0;
    const idleServers: number[] = [];
    for (const slot of this.slots.values()) {
      operations += slot.operations;
      if (slot.cursor) cursors++;
      if (slot.operations > 0) busy++;
      else idleServers.push(slot.connection.serverIndex);
    }
    return { open: this.slots.size + this.opening, busy, operations, cursors, idleServers };
  }

  /**
   * Lends a connection for one operation or one cursor; waits (up to waitMs) while every
   * connection is full. Rejects when the signal aborts, no server answers, or `holder` already
   * holds its share of cursors (busy, at once: waiting would not free its own cursors).
   */
  acquire(signal: AbortSignal, kind: LeaseKind = 'operation', holder = '', owner?: CursorOwner): Promise<UpstreamConnection> {
    if (kind === 'cursor') return this.acquireCursor(signal, holder, owner);
    const now = this.acquireNow(signal);
    return now ? Promise.resolve(now) : this.lend(signal, 'operation');
  }

  /**
   * A connection for one operation when one has room now (most leases), else undefined (then
   * `acquire` waits): a caller that takes it this way awaits nothing (two steps per bind, a lookup's and its own).
   */
  acquireNow(signal: AbortSignal): UpstreamConnection | undefined {
    if (signal.aborted || this.closed) return undefined;
    const taken = this.take('operation');
    if (taken === 'open' || !taken) return undefined;
    this.report();
    return taken.connection;
  }

  /** `owner.end` is called if the paged search loses its connection to another identity's (reclaim): its lease is released then. */
  private async acquireCursor(signal: AbortSignal, holder: string, owner: CursorOwner | undefined): Promise<UpstreamConnection> {
    this.takeCursor(holder);
    let connection: UpstreamConnection;
    try {
      connection = await this.lend(signal, 'cursor', holder);
    } catch (err) {
      this.cursorsByHolder.release(holder);
      throw err;
    }
    if (owner) this.slots.get(connection)!.lease = { holder, owner };
    return connection;
  }

  private async lend(signal: AbortSignal, kind: LeaseKind, holder = ''): Promise<UpstreamConnection> {
    const waitMs = this.options.waitMs;
    const deadline = waitMs === undefined ? Infinity : Date.now() + waitMs;
    let reclaimed = false;
    for (;;) {
      signal.throwIfAborted();
      if (this.closed) throw new LdapError(ResultCode.unavailable, `${this.options.name}: connection pool is closed`, '', this.options.forest);
      const taken = this.take(kind);
      if (taken === undefined && kind === 'cursor' && !reclaimed && this.reclaim(holder)) {
        reclaimed = true;
        continue;
      }
      const slot = taken === 'open' ? await this.openNew(kind) : (taken ?? (await this.turn(signal, deadline, kind)));
      if (slot) {
        this.report();
        return slot.connection;
      }
    }
  }

  /**
   * A slot with room for this kind of lease, claimed; 'open' when a new connection should be
   * opened for it instead (none has room, or the one with room holds a paged search that would
   * hold this lease up, and size allows); undefined when it must wait.
   */
  private take(kind: LeaseKind): Slot | 'open' | undefined {
    const picked = this.pick(kind);
    if ((!picked || picked.cursor) && this.slots.size + this.opening < this.options.size) return 'open';
    return picked && this.claim(picked, kind);
  }

  /**
   * Ends a lease. `reusable` false (the connection failed, or a cursor left a paged search open
   * upstream) retires the connection: it takes nothing new and closes once its last operation ends.
   */
  release(connection: UpstreamConnection, reusable: boolean, kind: LeaseKind = 'operation', holder = ''): void {
    const slot = this.slots.get(connection);
    if (!slot) return;
    slot.operations--;
    if (kind === 'cursor') {
      slot.cursor = false;
      slot.lease = undefined;
      this.cursorsByHolder.release(holder);
    }
    if (!reusable) connection.retire();
    if (slot.operations === 0) {
      if (this.leaving(slot)) this.discard(slot);
      else if (this.options.idleMs > 0) {
        slot.idleSince = performance.now();
        this.idleSweep ??= setTimeout(() => this.sweepIdle(), this.options.idleMs).unref();
      }
    }
    this.report();
    this.serveWaiting();
  }

  /**
   * Every connection holds a paged search, and `holder` holds none but the one it asks for: the
   * paged search that asked for no page longest is ended if that was reclaimCursorAfterMs ago or
   * more (among those, one of the identity holding most), so that its connection goes to this one.
   * Its lease is released and its connection retired (the server still holds its search), then its
   * owner told (`end`). Parked paged searches of a few identities thus never keep another's out.
   */
  private reclaim(holder: string): boolean {
    const after = this.options.reclaimCursorAfterMs;
    if (after === undefined || this.cursorsByHolder.held(holder) > 1) return false;
    const now = performance.now();
    const held = (lease: CursorLease): number => this.cursorsByHolder.held(lease.holder);
    let victim: { lease: CursorLease; slot: Slot; since: number } | undefined;
    for (const slot of this.slots.values()) {
      const lease = slot.lease;
      if (!lease || lease.holder === holder) continue;
      const since = lease.owner.lastActive();
      if (now - since < after) continue;
      if (!victim || held(lease) > held(victim.lease) || (held(lease) === held(victim.lease) && since < victim.since)) victim = { lease, slot, since };
    }
    if (!victim) return false;
    this.release(victim.slot.connection, false, 'cursor', victim.lease.holder);
    victim.lease.owner.end();
    return true;
  }

  /** Every connection takes nothing new: idle ones close now, busy ones once their last operation ends. */
  retireAll(): void {
    for (const slot of [...this.slots.values()]) {
      slot.connection.retire();
      if (slot.operations === 0) this.discard(slot);
    }
    this.report();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleSweep);
    this.idleSweep = undefined;
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    this.waitTimerDue = Infinity;
    for (const slot of [...this.slots.values()]) this.discard(slot);
    this.report();
    this.serveWaiting();
  }

  /**
   * Counts a cursor of `holder`; busy (51) when it has its share already, or when it holds one and
   * taking another would leave no cursor connection for the identities holding none while others
   * hold some: parked cursors of a few identities never take a forest's paged searches whole. An
   * identity alone here may use its whole share (a sync with its second paged search).
   */
  private takeCursor(holder: string): void {
    const quota = this.cursorsByHolder;
    const held = quota.held(holder);
    const others = quota.held() - held;
    if (held > 0 && others > 0 && this.options.size - quota.held() <= 1) {
      throw new LdapError(
        ResultCode.busy,
        `${this.options.name}: the last connection for a paged search is kept for identities holding none, and ${holder} holds ${held}; finish or abandon one first`,
        '',
        this.options.forest,
      );
    }
    if (quota.take(holder) === undefined) return;
    throw new LdapError(
      ResultCode.busy,
      `${this.options.name}: ${holder} already holds ${quota.perKey} open paged searches here (the most one identity may); finish or abandon one first`,
      '',
      this.options.forest,
    );
  }

  /**
   * The busiest connection with room for this kind of lease, one holding no paged search first
   * (its pages would hold the others up on the same stream); closes idle ones that should leave.
   * Packing matters: requests sent on one connection in one turn of the event loop leave in one
   * write, and a write to a socket is most of Canopy's own CPU per upstream request.
   */
  private pick(kind: LeaseKind): Slot | undefined {
    const { perConnection } = this.options;
    let best: Slot | undefined;
    for (const slot of this.slots.values()) {
      // Full ones first: asking the selector whether a busy connection should leave cost each bind a call per connection.
      if (slot.operations >= perConnection || (kind === 'cursor' && slot.cursor)) continue;
      if (this.leaving(slot)) {
        if (slot.operations === 0) this.discard(slot);
        continue;
      }
      if (!best || (slot.cursor === best.cursor ? slot.operations > best.operations : best.cursor)) best = slot;
    }
    return best;
  }

  private leaving(slot: Slot): boolean {
    return this.closed || !slot.connection.reusable || this.selector.shouldLeave(slot.connection.serverIndex);
  }

  /** A lease of `slot` for this kind of work. */
  private claim(slot: Slot, kind: LeaseKind): Slot {
    slot.operations++;
    if (kind === 'cursor') slot.cursor = true;
    return slot;
  }

  /**
   * A new connection, already leased to the caller: others woken meanwhile (or picking while the
   * caller resumes) must not take it too, which would put two binds on one bind connection.
   */
  private async openNew(kind: LeaseKind): Promise<Slot> {
    this.opening++;
    try {
      const connection = (await this.selector.firstReachable(this.open)).value;
      const slot: Slot = { connection, operations: 1, cursor: kind === 'cursor', idleSince: 0 };
      if (this.closed) {
        connection.close();
        throw new LdapError(ResultCode.unavailable, `${this.options.name}: connection pool is closed`, '', this.options.forest);
      }
      this.slots.set(connection, slot);
      return slot;
    } finally {
      this.opening--;
      this.serveWaiting();
    }
  }

  private discard(slot: Slot): void {
    this.slots.delete(slot.connection);
    slot.connection.close();
  }

  /** Closes the connections idle for idleMs, and comes back when the next idle one is due. */
  private sweepIdle(): void {
    this.idleSweep = undefined;
    const now = performance.now();
    let next = Infinity;
    for (const slot of [...this.slots.values()]) {
      if (slot.operations > 0) continue;
      const due = slot.idleSince + this.options.idleMs;
      if (due <= now) this.discard(slot);
      else next = Math.min(next, due);
    }
    if (next !== Infinity) this.idleSweep = setTimeout(() => this.sweepIdle(), Math.max(1, Math.ceil(next - now))).unref();
    this.report();
  }

  /**
   * Waits in line for room: resolves with a slot claimed for this lease when one is handed over,
   * or with none when the caller should look again (it may open a connection, or the pool closed);
   * rejects with busy at the deadline.
   */
  private turn(signal: AbortSignal, deadline: number, kind: LeaseKind): Promise<Slot | undefined> {
    return new Promise((resolve, reject) => {
      const stop = (): void => {
        this.waiting.delete(waiter);
        signal.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        kind,
        deadline,
        wake: (slot) => {
          stop();
          resolve(slot);
        },
        expire: () => {
          stop();
          const what =
            kind === 'cursor'
              ? `all ${this.options.size} connections held an open paged search`
              : `all ${this.options.size} connections carried ${this.options.perConnection} operations`;
          reject(new LdapError(ResultCode.busy, `${this.options.name}: ${what} for ${this.options.waitMs} ms`, '', this.options.forest));
        },
      };
      const onAbort = (): void => {
        stop();
        reject(signal.reason as Error);
      };
      this.waiting.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      if (deadline < this.waitTimerDue) this.armWaitTimer(deadline);
    });
  }

  /**
   * Unreferenced: a lease waits only while every connection is busy or being opened, and their
   * sockets keep the process running.
   */
  private armWaitTimer(due: number): void {
    clearTimeout(this.waitTimer);
    this.waitTimerDue = due;
    this.waitTimer = setTimeout(() => this.expireWaits(), Math.max(1, due - Date.now())).unref();
  }

  /** Fails the waiting leases whose deadline passed with busy, and comes back at the next deadline. */
  private expireWaits(): void {
    this.waitTimer = undefined;
    this.waitTimerDue = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const waiter of this.waiting) {
      if (waiter.deadline <= now) waiter.expire();
      else next = Math.min(next, waiter.deadline);
    }
    if (next !== Infinity) this.armWaitTimer(next);
  }

  private report(): void {
    if (!this.options.inUse) return;
    let busy = 0;
    for (const slot of this.slots.values()) if (slot.operations > 0) busy++;
    if (busy === this.reportedBusy) return;
    this.reportedBusy = busy;
    this.options.inUse.set(busy);
  }

  /**
   * Hands the room there is to the waiting leases, first come first served, each woken once with
   * its slot: waking them all to race for one freed slot cost every release a new wait (a
   * promise, a timer, an abort listener) per waiter, most of a busy bind pool's CPU.
   */
  private serveWaiting(): void {
    for (const waiter of this.waiting) {
      if (this.closed) {
        waiter.wake(undefined); // it looks again, and finds the pool closed
        continue;
      }
      const taken = this.take(waiter.kind);
      if (taken === 'open') {
        waiter.wake(undefined); // it opens a connection itself; the next waiter's turn comes when that one is open
        return;
      }
      if (taken) waiter.wake(taken);
      else if (waiter.kind === 'operation') return; // no connection has room for any lease
    }
  }
}
