import {
  BindThrottle,
  type BindAttempt,
  type BindKeys,
  type FailureOutcome,
  type Reservation,
  type Throttle,
  type ThrottledAttempt,
  type ThrottleRefusal,
  type ThrottleSettings,
} from './bind-throttle.js';

/**
 * The failed-bind throttle shared by the workers of serve.workers: the primary holds the one
 * BindThrottle (ThrottleHost), and each worker's authenticator reserves and settles its attempts
 * there (ThrottleClient), one IPC round trip per reservation and per failure. A limit of 10
 * failures is 10 across all workers, and a bind waiting for a turn waits for attempts in any worker.
 */

/** From a worker to the primary. */
export type ThrottleRequest =
  | ({ readonly canopy: 'throttle-attempt'; readonly id: number; readonly address: string } & BindKeys)
  /** The bind was given up while waiting for its turn. */
  | { readonly canopy: 'throttle-abort'; readonly id: number }
  | { readonly canopy: 'throttle-settle'; readonly id: number; readonly outcome: 'succeeded' | 'failed' | 'undecided' };

/** From the primary to a worker. */
export type ThrottleAnswer =
  | { readonly canopy: 'throttle-granted'; readonly id: number }
  /** Refused unchecked: the worker waits `delayMs` and answers as for a wrong password. */
  | ({ readonly canopy: 'throttle-refused'; readonly id: number } & ThrottleRefusal)
  | ({ readonly canopy: 'throttle-failed'; readonly id: number } & FailureOutcome);

/** The worker's side: a Throttle whose counts live in the primary. */
export class ThrottleClient implements Throttle {
  private next = 0;
  /** Reservations waiting for the primary's answer. */
  private readonly waiting = new Map<number, { resolve(r: Reservation<ThrottledAttempt>): void; reject(e: Error): void }>();
  /** Failures reported, waiting for the delay the primary sets. */
  private readonly failures = new Map<number, (o: FailureOutcome) => void>();

  constructor(private readonly send: (message: ThrottleRequest) => void) {}

  attempt(address: string, keys: BindKeys, signal: AbortSignal): Promise<Reservation<ThrottledAttempt>> {
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
      this.send({ canopy: 'throttle-attempt', id, address, account: keys.account, spelling: keys.spelling });
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
    if (message.canopy === 'throttle-refused') return waiter?.resolve({ refused: { delayMs: message.delayMs, retryInSeconds: message.retryInSeconds } });
    // Granted after the bind was given up (the answers crossed): the reservation is handed back.
    if (!waiter) return this.send({ canopy: 'throttle-settle', id, outcome: 'undecided' });
    waiter.resolve({
      granted: {
        succeeded: () => this.send({ canopy: 'throttle-settle', id, outcome: 'succeeded' }),
        undecided: () => this.send({ canopy: 'throttle-settle', id, outcome: 'undecided' }),
        failed: () =>
          new Promise<FailureOutcome>((resolve) => {
            this.failures.set(id, resolve);
            this.send({ canopy: 'throttle-settle', id, outcome: 'failed' });
          }),
      },
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
        this.throttle.attempt(message.address, { account: message.account, spelling: message.spelling }, entry.abort.signal).then(
          ({ granted, refused }) => {
            if (refused) {
              mine.delete(id);
              this.send(worker, { canopy: 'throttle-refused', id, ...refused });
              return;
            }
            entry.attempt = granted;
            this.send(worker, { canopy: 'throttle-granted', id });
          },
          // Given up while waiting (the worker's abort, or the worker ended): nothing to answer.
          () => mine.delete(id),
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
