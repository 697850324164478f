import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import type { ServerSelector } from './server-selector.js';
import type { UpstreamConnection } from './upstream-connection.js';

export interface PoolOptions {
  /** Most connections open at once (busy, idle or being opened). */
  readonly size: number;
  /** An idle connection is closed after this long; 0 keeps idle connections open. */
  readonly idleMs: number;
  /**
   * Longest wait for a free connection before failing with busy (51). Paged searches hold their
   * connection between pages, so more open paged searches than connections would otherwise wait
   * for each other forever.
   */
  readonly waitMs?: number;
  /** Told the number of connections lent out whenever it changes (the pool-in-use gauge). */
  readonly inUse?: { set(value: number): void };
}

export interface PoolStats {
  readonly open: number;
  readonly busy: number;
  readonly idleServers: readonly number[];
}

interface Idle {
  readonly connection: UpstreamConnection;
  readonly timer: NodeJS.Timeout | undefined;
}

/**
 * The forest's service connections. Each is lent to one operation at a time (a paged search
 * holds its connection from first page to last), opened lazily on the best reachable server,
 * and given up when its server is marked down or a better server is back (failback).
 */
export class ConnectionPool {
  private readonly idle: Idle[] = [];
  private readonly waiting = new Set<() => void>();
  private count = 0;
  private closed = false;

  constructor(
    private readonly selector: ServerSelector,
    private readonly open: (serverIndex: number) => Promise<UpstreamConnection>,
    private readonly options: PoolOptions,
  ) {}

  /** Connections open or being opened, how many are lent out, and the servers of the idle ones (tests, metrics). */
  stats(): PoolStats {
    return { open: this.count, busy: this.count - this.idle.length, idleServers: this.idle.map((i) => i.connection.serverIndex) };
  }

  /** Lends a connection; waits (up to waitMs) while all are busy. Rejects when the signal aborts or no server answers. */
  async acquire(signal: AbortSignal): Promise<UpstreamConnection> {
    const waitMs = this.options.waitMs;
    const deadline = waitMs === undefined ? Infinity : Date.now() + waitMs;
    for (;;) {
      signal.throwIfAborted();
      if (this.closed) throw new LdapError(ResultCode.unavailable, 'forest connection pool is closed');
      const connection = this.takeIdle() ?? (this.count < this.options.size ? await this.openNew() : undefined);
      if (connection) {
        this.report();
        return connection;
      }
      await this.turn(signal, deadline);
    }
  }

  /** Takes a connection back. One that is not reusable (lost, mid-paging, failed) is closed. */
  release(connection: UpstreamConnection, reusable: boolean): void {
    if (!reusable || !connection.reusable || this.closed || this.selector.shouldLeave(connection.serverIndex)) {
      this.discard(connection);
    } else {
      const timer = this.options.idleMs > 0 ? setTimeout(() => this.expire(connection), this.options.idleMs).unref() : undefined;
      this.idle.push({ connection, timer });
    }
    this.report();
    this.wakeOne();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const { connection, timer } of this.idle.splice(0)) {
      clearTimeout(timer);
      this.discard(connection);
    }
    this.report();
    for (const wake of [...this.waiting]) wake();
  }

  private takeIdle(): UpstreamConnection | undefined {
    for (let item = this.idle.pop(); item; item = this.idle.pop()) {
      clearTimeout(item.timer);
      if (item.connection.reusable && !this.selector.shouldLeave(item.connection.serverIndex)) return item.connection;
      this.discard(item.connection);
    }
    return undefined;
  }

  private async openNew(): Promise<UpstreamConnection> {
    this.count++;
    try {
      return (await this.selector.firstReachable(this.open)).value;
    } catch (err) {
      this.count--;
      this.wakeOne();
      throw err;
    }
  }

  private discard(connection: UpstreamConnection): void {
    this.count--;
    connection.close();
  }

  private expire(connection: UpstreamConnection): void {
    const i = this.idle.findIndex((item) => item.connection === connection);
    if (i < 0) return;
    this.idle.splice(i, 1);
    this.discard(connection);
  }

  /** Resolves when a connection may be free (the caller looks again); rejects with busy at the deadline. */
  private turn(signal: AbortSignal, deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const stop = (): void => {
        this.waiting.delete(wake);
        signal.removeEventListener('abort', onAbort);
        clearTimeout(timer);
      };
      const wake = (): void => {
        stop();
        resolve();
      };
      const onAbort = (): void => {
        stop();
        reject(signal.reason as Error);
      };
      const onTimeout = (): void => {
        stop();
        reject(new LdapError(ResultCode.busy, `all ${this.options.size} pooled connections stayed busy for ${this.options.waitMs} ms`));
      };
      const timer = deadline === Infinity ? undefined : setTimeout(onTimeout, Math.max(0, deadline - Date.now()));
      this.waiting.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private report(): void {
    this.options.inUse?.set(this.count - this.idle.length);
  }

  private wakeOne(): void {
    const next = this.waiting.values().next();
    if (!next.done) next.value();
  }
}
