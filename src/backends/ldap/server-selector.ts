import { LdapError } from '../../core/ldap-error.js';
import type { Logger } from '../../observability/logger.js';
import { metrics } from '../../observability/metrics.js';
import { ResultCode } from '../../core/result-codes.js';
import { describeFailure, isServerFailure } from './errors.js';

export interface BackoffOptions {
  /**
   * Wait after a server fails before requests try it again; doubles each time it fails again
   * once that wait is over. The recovery probe brings it back sooner.
   */
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 2_000, maxMs: 60_000 };

interface ServerState {
  readonly url: string;
  /** Marked down and not answered since (the recovery probe tries it). */
  down: boolean;
  failures: number;
  retryAt: number;
  lastError?: string;
  readonly up: { set(value: number): void };
  readonly errors: { inc(): void };
}

/**
 * The servers of one forest in configured order. A server that fails is skipped until its
 * backoff ends or it answers a probe; the first server that is not backing off is always
 * preferred, so the first server wins again once it answers (failback).
 *
 * One failure event counts once: the requests and pooled connections that fail together when a
 * server dies report it many times within milliseconds, and only the first report (or a failure
 * after the backoff let the server be tried again) grows the backoff and is logged.
 */
export class ServerSelector {
  private readonly servers: ServerState[];
  /** The server that last answered: a different one answering next is a failover (or failback). */
  private active: number | undefined;
  private readonly downListeners: (() => void)[] = [];

  constructor(
    private readonly forest: string,
    urls: readonly string[],
    private readonly logger: Logger,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {
    this.servers = urls.map((url) => ({
      url,
      down: false,
      failures: 0,
      retryAt: 0,
      up: metrics.upstreamServerUp.labels(forest, url),
      errors: metrics.upstreamErrors.labels(forest, url),
    }));
    for (const s of this.servers) s.up.set(1);
  }

  url(index: number): string {
    return this.servers[index].url;
  }

  /** Indexes of the servers worth trying now, best first. */
  candidates(): number[] {
    const now = this.now();
    const out: number[] = [];
    this.servers.forEach((s, i) => {
      if (s.retryAt <= now) out.push(i);
    });
    return out;
  }

  /**
   * True when a connection to server `index` should be closed rather than reused: the server is
   * marked down, or a better one may be tried again (failback).
   */
  shouldLeave(index: number): boolean {
    // The first server, never marked down since it last answered (nearly every pick): no clock to read.
    if (index === 0 && this.servers[0].retryAt === 0) return false;
    const now = this.now();
    if (this.servers[index].retryAt > now) return true;
    for (let i = 0; i < index; i++) if (this.servers[i].retryAt <= now) return true;
    return false;
  }

  /** Whether a server other than `index` is worth trying now. */
  othersUp(index: number): boolean {
    const now = this.now();
    return this.servers.some((s, i) => i !== index && s.retryAt <= now);
  }

  /** Indexes of the servers marked down that have not answered since. */
  downServers(): number[] {
    const out: number[] = [];
    this.servers.forEach((s, i) => {
      if (s.down) out.push(i);
    });
    return out;
  }

  /** `listener` is called whenever a server that was up is marked down. */
  onDown(listener: () => void): void {
    this.downListeners.push(listener);
  }

  markDown(index: number, err: unknown): void {
    const s = this.servers[index];
    const now = this.now();
    s.errors.inc();
    s.lastError = describeFailure(err);
    // Still within its backoff: the same failure reported again (another connection, request or probe).
    if (s.retryAt > now) return;
    // Past it, the server was tried again and failed: a new failure, so it waits longer.
    s.failures++;
    const waitMs = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (s.failures - 1));
    s.retryAt = now + waitMs;
    if (s.down) return;
    s.down = true;
    s.up.set(0);
    this.logger.warn({ forest: this.forest, server: s.url, reason: s.lastError, retryInMs: waitMs }, 'upstream server marked down');
    for (const listener of this.downListeners) listener();
  }

  markUp(index: number): void {
    const s = this.servers[index];
    if (s.down) this.logger.info({ forest: this.forest, server: s.url }, 'upstream server answers again');
    s.down = false;
    s.failures = 0;
    s.retryAt = 0;
    s.lastError = undefined;
    s.up.set(1);
  }

  /**
   * Runs `open` against the candidates in order until one succeeds. Server failures mark the
   * server down and move on; any other error (a refused bind, say) ends the attempt as it is.
   * When none answers: unavailable, naming the forest and each server's reason.
   */
  async firstReachable<T>(open: (index: number) => Promise<T>): Promise<{ index: number; value: T }> {
    for (const index of this.candidates()) {
      try {
        const value = await open(index);
        this.markUp(index);
        this.answeredBy(index);
        return { index, value };
      } catch (err) {
        if (!isServerFailure(err)) throw err;
        this.markDown(index, err);
      }
    }
    throw this.unreachable();
  }

  private answeredBy(index: number): void {
    if (this.active !== undefined && this.active !== index) {
      metrics.upstreamFailovers.labels(this.forest).inc();
      this.logger.info({ forest: this.forest, from: this.servers[this.active].url, to: this.servers[index].url }, 'forest moved to another server');
    }
    this.active = index;
  }

  unreachable(): LdapError {
    const reasons = this.servers.map((s) => `${s.url}: ${s.lastError ?? 'not tried'}`).join('; ');
    // The servers and their errors go to the log, readiness and doctor (detail), not to clients.
    return new LdapError(ResultCode.unavailable, `forest "${this.forest}": no server reachable`, '', this.forest, reasons);
  }
}
