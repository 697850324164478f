import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { BindThrottle, type BindAttempt, type FailureOutcome, type Throttle, type ThrottledAttempt, type ThrottleSettings } from './bind-throttle.js';

/**
 * The failed-bind throttle shared by the workers of serve.workers: the primary holds the one
 * BindThrottle (ThrottleHost), and each worker's authenticator reserves and settles its attempts
 * there (ThrottleClient), one IPC round trip per reservation and per failure. A limit of 10
 * failures is 10 across all workers, and a bind waiting for a turn waits for attempts in any worker.
 */

/** From a worker to the primary. */
export type ThrottleRequest =
  | { readonly canopy: 'throttle-attempt'; readonly id: number; readonly address: string; readonly account: string }
  /** The bind was given up while waiting for its turn. */
  | { readonly canopy: 'throttle-abort'; readonly id: number }
  | { readonly canopy: 'throttle-settle'; readonly id: number; readonly outcome: 'succeeded' | 'failed' | 'undecided' };

/** From the primary to a worker. */
export type ThrottleAnswer =
  | { readonly canopy: 'throttle-granted'; readonly id: number }
  | { readonly canopy: 'throttle-refused'; readonly id: number; readonly message: string }
  | ({ readonly canopy: 'throttle-failed'; readonly id: number } & FailureOutcome);

/** The worker's side: a Throttle whose counts live in the primary. */
export class ThrottleClient implements Throttle {
  private next = 0;
  /** Reservations waiting for the primary's answer. */
  private readonly waiting = new Map<number, { resolve(a: ThrottledAttempt): void; reject(e: Error): void }>();
  /** Failures reported, waiting for the delay the primary sets. */
  private readonly failures = new Map<number, (o: FailureOutcome) => void>();

  constructor(private readonly send: (message: ThrottleRequest) => void) {}

  attempt(address: string, account: string, signal: AbortSignal): Promise<ThrottledAttempt> {
    signal.throwIfAborted();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const abort = (): void => {
        this.waiting.delete(id);
        this.send({ canopy: 'throttle-abort', id });
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', abort, { once: true });
      const settled = (): void => signal.removeEventListener('abort', abort);
      this.waiting.set(id, {
        resolve: (a) => {
          settled();
          resolve(a);
        },
        reject: (e) => {
          settled();
          reject(e);
        },
      });
      this.send({ canopy: 'throttle-attempt', id, address, account });
    });
  }

  received(message: ThrottleAnswer): void {
    const { id } = message;
    if (message.canopy === 'throttle-failed') {
      this.failures.get(id)?.({ delayMs: message.delayMs, limitReached: message.limitReached });
      this.failures.delete(id);
      return;
    }
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    if (message.canopy === 'throttle-refused') return waiter?.reject(new LdapError(ResultCode.invalidCredentials, message.message));
    // Granted after the bind was given up (the answers crossed): the reservation is handed back.
    if (!waiter) return this.send({ canopy: 'throttle-settle', id, outcome: 'undecided' });
    waiter.resolve({
      succeeded: () => this.send({ canopy: 'throttle-settle', id, outcome: 'succeeded' }),
      undecided: () => this.send({ canopy: 'throttle-settle', id, outcome: 'undecided' }),
      failed: () =>
        new Promise<FailureOutcome>((resolve) => {
          this.failures.set(id, resolve);
          this.send({ canopy: 'throttle-settle', id, outcome: 'failed' });
        }),
    });
  }
}

/** The primary's side: the one BindThrottle, and the attempts each worker holds in it. */
export class ThrottleHost {
  private throttle: BindThrottle;
  private settingsKey: string;
  /** Per worker: its reservations, waiting (an abort controller) or held (the attempt). */
  private readonly held = new Map<number, Map<number, { readonly abort: AbortController; attempt?: BindAttempt }>>();

  constructor(
    settings: ThrottleSettings,
    private readonly send: (worker: number, message: ThrottleAnswer) => void,
  ) {
    this.throttle = new BindThrottle(settings);
    this.settingsKey = JSON.stringify(settings);
  }

  /**
   * A reloaded configuration: changed throttle settings start new counts (as a reload does in one
   * process); unchanged ones keep them. Attempts held settle in the throttle that granted them.
   */
  configure(settings: ThrottleSettings): void {
    const key = JSON.stringify(settings);
    if (key === this.settingsKey) return;
    this.throttle = new BindThrottle(settings);
    this.settingsKey = key;
  }

  received(worker: number, message: ThrottleRequest): void {
    let mine = this.held.get(worker);
    if (!mine) this.held.set(worker, (mine = new Map()));
    const { id } = message;
    switch (message.canopy) {
      case 'throttle-attempt': {
        const entry: { readonly abort: AbortController; attempt?: BindAttempt } = { abort: new AbortController() };
        mine.set(id, entry);
        this.throttle.attempt(message.address, message.account, entry.abort.signal).then(
          (attempt) => {
            entry.attempt = attempt;
            this.send(worker, { canopy: 'throttle-granted', id });
          },
          (err: unknown) => {
            mine.delete(id);
            if (err instanceof LdapError) this.send(worker, { canopy: 'throttle-refused', id, message: err.message });
          },
        );
        break;
      }
      case 'throttle-abort':
        // Still waiting: given up. Already granted: the worker hands it back with a settle.
        if (!mine.get(id)?.attempt) mine.get(id)?.abort.abort(new Error('bind given up'));
        break;
      case 'throttle-settle': {
        const attempt = mine.get(id)?.attempt;
        mine.delete(id);
        if (!attempt) return;
        if (message.outcome === 'failed') this.send(worker, { canopy: 'throttle-failed', id, ...attempt.failed() });
        else attempt[message.outcome]();
        break;
      }
    }
  }

  /** A worker ended: its waiting binds are given up, and the attempts it held count as unchecked. */
  ended(worker: number): void {
    for (const entry of this.held.get(worker)?.values() ?? []) {
      if (entry.attempt) entry.attempt.undecided();
      else entry.abort.abort(new Error('worker ended'));
    }
    this.held.delete(worker);
  }
}
