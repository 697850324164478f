import { LdapError } from '../../core/ldap-error.js';
import type { Logger } from '../../observability/logger.js';
import { metrics } from '../../observability/metrics.js';
import { ResultCode } from '../../core/result-codes.js';
import { describeFailure, isServerFailure } from './errors.js';

export interface BackoffOptions {
  /** Wait after a server's first failure before it is tried again; doubles per further failure. */
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 2_000, maxMs: 60_000 };

interface ServerState {
  readonly url: string;
  failures: number;
  retryAt: number;
  lastError?: string;
  readonly up: { set(value: number): void };
  readonly errors: { inc(): void };
}

/**
 * The servers of one forest in configured order. A server that fails is skipped until its
 * backoff ends; the first server that is not backing off is always preferred, so the first
 * server wins again once it answers (failback).
 */
export class ServerSelector {
  private readonly servers: ServerState[];
  /** The server that last answered: a different one answering next is a failover (or failback). */
  private active: number | undefined;

  constructor(
    private readonly forest: string,
    urls: readonly string[],
    private readonly logger: Logger,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {
    this.servers = urls.map((url) => ({
      url,
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
    const now = this.now();
    if (this.servers[index].retryAt > now) return true;
    for (let i = 0; i < index; i++) if (this.servers[i].retryAt <= now) return true;
    return false;
  }

  markDown(index: number, err: unknown): void {
    const s = this.servers[index];
    s.failures++;
    s.lastError = describeFailure(err);
    const waitMs = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (s.failures - 1));
    s.retryAt = this.now() + waitMs;
    s.errors.inc();
    s.up.set(0);
    this.logger.warn({ forest: this.forest, server: s.url, reason: s.lastError, retryInMs: waitMs }, 'upstream server marked down');
  }

  markUp(index: number): void {
    const s = this.servers[index];
    if (s.failures > 0) this.logger.info({ forest: this.forest, server: s.url }, 'upstream server answers again');
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
    return new LdapError(ResultCode.unavailable, `forest "${this.forest}": no server reachable (${reasons})`);
  }
}
