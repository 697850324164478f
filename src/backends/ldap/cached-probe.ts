import { LdapError, loggedMessage } from '../../core/ldap-error.js';
import type { ForestReadiness } from '../../core/readiness.js';

/**
 * A readiness probe whose answer is reused for `ttlMs`, with one probe running at a time, so that
 * frequent scrapes of `/readyz` cost the upstream servers at most one probe per period.
 */
export class CachedProbe {
  private last: { readonly at: number; readonly value: ForestReadiness } | undefined;
  private running: Promise<ForestReadiness> | undefined;

  constructor(
    private readonly probe: () => Promise<void>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<ForestReadiness> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return Promise.resolve(this.last.value);
    this.running ??= this.probe()
      .then(
        (): ForestReadiness => ({ ready: true }),
        (err: unknown): ForestReadiness => ({ ready: false, reason: err instanceof LdapError ? loggedMessage(err) : err instanceof Error ? err.message : String(err) }),
      )
      .then((value) => {
        this.last = { at: this.now(), value };
        this.running = undefined;
        return value;
      });
    return this.running;
  }
}
