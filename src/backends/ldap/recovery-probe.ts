import { isServerFailure } from './errors.js';
import type { ServerSelector } from './server-selector.js';

/** How often servers marked down are probed. */
export const RECOVERY_PROBE_MS = 1000;

/**
 * Brings servers marked down back as soon as they answer, rather than when their backoff ends:
 * about every `intervalMs`, while any server of the forest is marked down, each of those is
 * probed (`check`: a cheap connect and bind), and marked up when the probe succeeds. The timer
 * is unref'd, stops once every server is up, and for good on `close`.
 */
export class RecoveryProbe {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;

  constructor(
    private readonly selector: ServerSelector,
    private readonly check: (index: number) => Promise<void>,
    private readonly intervalMs: number = RECOVERY_PROBE_MS,
  ) {
    selector.onDown(() => this.schedule());
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed || this.timer || this.running) return;
    this.timer = setTimeout(() => void this.round(), this.intervalMs).unref();
  }

  private async round(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    try {
      await Promise.all(this.selector.downServers().map((i) => this.probe(i)));
    } finally {
      this.running = false;
    }
    if (this.selector.downServers().length > 0) this.schedule();
  }

  private async probe(index: number): Promise<void> {
    try {
      await this.check(index);
    } catch (err) {
      // Any other error (the service account refused, say) says the server answered, but not
      // that it can serve: it stays down, and whoever made that error reports it.
      if (isServerFailure(err)) this.selector.markDown(index, err);
      return;
    }
    if (!this.closed) this.selector.markUp(index);
  }
}
