import { hash } from 'node:crypto';
import type { SecurityConfig } from '../config/auth-schema.js';

export type ThrottleSettings = SecurityConfig['throttle'];

/** One account's window (from its first failure): failures so far, attempts being checked now, binds waiting for a turn. */
interface AccountWindow {
  start: number;
  failures: number;
  pending: number;
  readonly waiters: Set<() => void>;
}

/** A login name's (as spelled) or an address's window: failures so far, from the first. */
interface CountWindow {
  start: number;
  failures: number;
}

/**
 * What a bind is counted under: `account`, the account the name resolved to (the same for every
 * spelling of it), which bears the refusal limit; `spelling`, the name as the client spelled it
 * (normalised, `spellingKey`), which decides the slow-down, so that no delay depends on whether
 * the name resolved.
 */
export interface BindKeys {
  readonly account: string;
  readonly spelling: string;
}

/** What the authenticator reports about an attempt it was allowed to check. */
export interface BindAttempt {
  /** The password was right: the account's failures are cleared (like AD's badPwdCount). */
  succeeded(): void;
  /** The password was wrong (or may have been checked): how long (ms) the answer waits, and whether the account is now refused. */
  failed(): { readonly delayMs: number; readonly limitReached: boolean };
  /** Nothing was checked (the directory was unavailable): the attempt does not count. */
  undecided(): void;
}

/** What a failed attempt's answer waits for. */
export type FailureOutcome = ReturnType<BindAttempt['failed']>;

/**
 * A bind refused unchecked: it counts as a failure of its spelling and address and waits
 * `delayMs`, what a failure of that spelling would wait, before it is answered as a failure is.
 * `retryInSeconds` (when the account's window ends) is for the log only: a client told it would
 * learn that the name resolved to an account.
 */
export interface ThrottleRefusal {
  readonly delayMs: number;
  readonly retryInSeconds: number;
}

/** A reservation: an attempt to check, or a refusal. */
export type Reservation<A> = { readonly granted: A; readonly refused?: undefined } | { readonly granted?: undefined; readonly refused: ThrottleRefusal };

/**
 * Where the authenticator reserves its attempts: a BindThrottle in this process, or, with workers
 * (serve.workers), the primary's, asked over IPC, whose report of a failure arrives later.
 */
export interface Throttle {
  attempt(address: string, keys: BindKeys, signal: AbortSignal): Promise<Reservation<ThrottledAttempt>>;
}

export interface ThrottledAttempt extends Omit<BindAttempt, 'failed'> {
  failed(): FailureOutcome | Promise<FailureOutcome>;
}

/** Windows kept before expired ones are swept out. */
const SWEEP_AT = 10_000;
/**
 * Most windows kept of each kind, whatever a flood of fresh names or addresses does to them: past
 * it the oldest idle ones go first (a few MiB at most). Forgetting a failing name early gives that
 * name back its tries; a flood that evicts a victim's window must itself fail 100,000 times.
 */
export const MAX_WINDOWS = 100_000;

/**
 * Failed binds counted per account (whatever name spelled it), per login name as spelled, and per
 * source address, in fixed windows. An attempt takes its place in the account's count BEFORE its
 * password is checked, so binds in parallel or pipelined cannot check more passwords than the
 * limit: past it, a bind waits for an attempt in progress to end, and once the failures reach the
 * limit, binds are refused unchecked until the window passes (the same answer whether the password
 * was right or not).
 *
 * A failed bind is answered only after `delayMs` once its spelling has failed more than
 * `slowAfter` times, or its address is past its maximum. The delay is never decided by the
 * account: a name that resolves to nothing is counted under its spelling, so an account's count
 * shared across spellings would slow `DOMAIN\name` after failures of `name@suffix` only when
 * the name exists. For the same reason a refusal is no distinct answer: it counts as a failure of
 * its spelling and address, and waits what that failure would wait (the authenticator answers it
 * as a wrong password).
 *
 * An address past its own maximum (every login of a search-then-bind application comes from the
 * application's address) does not lock names out: only accounts that have already failed
 * `slowAfter` times (at least once) are refused from it, and its failed binds are slowed; an
 * account without failures is still checked. Successful binds are never slowed.
 */
export class BindThrottle implements Throttle {
  private readonly addresses = new Map<string, CountWindow>();
  private readonly spellings = new Map<string, CountWindow>();
  private readonly accounts = new Map<string, AccountWindow>();
  private sweepAt = SWEEP_AT;

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Reserves an attempt at `keys.account` from `address`; waits while the attempts in progress
   * would reach the limit; answers a refusal (counted as a failure of the spelling) when the
   * account is refused, and rejects with the signal's reason when the bind is given up while waiting.
   */
  async attempt(address: string, keys: BindKeys, signal: AbortSignal): Promise<Reservation<BindAttempt>> {
    const key = boundedKey(keys.account);
    for (;;) {
      signal.throwIfAborted();
      const w = this.account(key);
      const limit = this.limitFrom(address);
      if (w.failures >= limit) return { refused: this.refusal(w, boundedKey(keys.spelling), address) };
      if (w.failures + w.pending < limit) {
        w.pending++;
        return { granted: this.reserved(w, key, keys.spelling, address) };
      }
      await turn(w, signal);
    }
  }

  /** The per-account limit for binds from `address`: lower once the address is past its own maximum. */
  private limitFrom(address: string): number {
    const { maxFailuresPerAccount, maxFailuresPerAddress, slowAfter } = this.settings;
    const a = this.window(this.addresses, address);
    if (!a || a.failures < maxFailuresPerAddress) return maxFailuresPerAccount;
    return Math.min(maxFailuresPerAccount, Math.max(1, slowAfter));
  }

  /** `spelling` as the client spelled it: digested (boundedKey) only when it is counted, off the path of a right password. */
  private reserved(w: AccountWindow, key: string, spelling: string, address: string): BindAttempt {
    let settled = false;
    const settle = (): void => {
      if (settled) throw new Error('a bind attempt was settled twice');
      settled = true;
      w.pending--;
      for (const wake of [...w.waiters]) wake();
      if (w.failures === 0 && w.pending === 0 && w.waiters.size === 0) this.accounts.delete(key);
    };
    return {
      succeeded: () => {
        w.failures = 0;
        if (this.spellings.size > 0) this.spellings.delete(boundedKey(spelling));
        settle();
      },
      failed: () => {
        if (w.failures === 0) w.start = this.now(); // the window opens with the first failure
        w.failures++;
        settle();
        return { delayMs: this.failedDelay(boundedKey(spelling), address), limitReached: w.failures >= this.limitFrom(address) };
      },
      undecided: settle,
    };
  }

  /**
   * A failure of `spelling` from `address`, counted in both: how long its answer waits. By the
   * spelling, never the account, so that the delay is the same whether the name resolved or not.
   */
  private failedDelay(spelling: string, address: string): number {
    const s = this.count(this.spellings, spelling);
    const a = this.count(this.addresses, address);
    const slowed = s.failures > this.settings.slowAfter || a.failures >= this.settings.maxFailuresPerAddress;
    return slowed ? this.settings.delayMs : 0;
  }

  /**
   * A bind refused unchecked: counted and delayed as a failure of its spelling (a client must not
   * tell a refusal from a wrong password, or it would learn that the name is an account's).
   */
  private refusal(w: AccountWindow, spelling: string, address: string): ThrottleRefusal {
    const ms = this.settings.windowSeconds * 1000;
    const accountEnds = w.start + ms;
    // Below the account's own maximum, the refusal ends with either window.
    const a = this.window(this.addresses, address);
    const until = w.failures >= this.settings.maxFailuresPerAccount || !a ? accountEnds : Math.min(accountEnds, a.start + ms);
    const retryInSeconds = Math.max(1, Math.ceil((until - this.now()) / 1000));
    return { delayMs: this.failedDelay(spelling, address), retryInSeconds };
  }

  /** The account's current window, a fresh one when it had none or it has passed. */
  private account(key: string): AccountWindow {
    const w = this.accounts.get(key);
    if (w && this.expired(w.start)) {
      w.failures = 0;
      w.start = this.now();
    }
    if (w) return w;
    this.makeRoom();
    const fresh: AccountWindow = { start: this.now(), failures: 0, pending: 0, waiters: new Set() };
    this.accounts.set(key, fresh);
    return fresh;
  }

  /** The current window of `key` in `windows` (addresses or spellings), undefined when it had none or it has passed. */
  private window(windows: Map<string, CountWindow>, key: string): CountWindow | undefined {
    const w = windows.get(key);
    if (w && this.expired(w.start)) {
      windows.delete(key);
      return undefined;
    }
    return w;
  }

  /** One more failure of `key` in `windows`: its window, opened by this failure when it had none. */
  private count(windows: Map<string, CountWindow>, key: string): CountWindow {
    const w = this.window(windows, key);
    if (w) {
      w.failures++;
      return w;
    }
    this.makeRoom();
    const fresh = { start: this.now(), failures: 1 };
    windows.set(key, fresh);
    return fresh;
  }

  private expired(start: number): boolean {
    return this.now() - start >= this.settings.windowSeconds * 1000;
  }

  /**
   * Before a new window: expired ones are swept when the maps have doubled since the last sweep
   * (so a sweep's cost is spread over as many new windows), and at MAX_WINDOWS the oldest idle
   * window goes (a Map iterates in insertion order).
   */
  private makeRoom(): void {
    if (this.windowCount() >= this.sweepAt) {
      this.sweep();
      this.sweepAt = Math.max(SWEEP_AT, 2 * this.windowCount());
    }
    if (this.accounts.size >= MAX_WINDOWS) {
      for (const [k, w] of this.accounts) {
        if (w.pending === 0 && w.waiters.size === 0) {
          this.accounts.delete(k);
          break;
        }
      }
    }
    for (const windows of [this.addresses, this.spellings]) if (windows.size >= MAX_WINDOWS) windows.delete(windows.keys().next().value!);
  }

  private windowCount(): number {
    return this.accounts.size + this.addresses.size + this.spellings.size;
  }

  private sweep(): void {
    for (const [k, w] of this.accounts) if (w.pending === 0 && w.waiters.size === 0 && (w.failures === 0 || this.expired(w.start))) this.accounts.delete(k);
    for (const windows of [this.addresses, this.spellings]) for (const k of [...windows.keys()]) this.window(windows, k);
  }

  /** Windows held, for tests of the bound. */
  get size(): { readonly accounts: number; readonly addresses: number; readonly spellings: number } {
    return { accounts: this.accounts.size, addresses: this.addresses.size, spellings: this.spellings.size };
  }
}

/** Resolves when an attempt at the account ends; rejects when `signal` aborts first. */
function turn(w: AccountWindow, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      w.waiters.delete(done);
      signal.removeEventListener('abort', abort);
      resolve();
    };
    const abort = (): void => {
      w.waiters.delete(done);
      reject(signal.reason as Error);
    };
    w.waiters.add(done);
    signal.addEventListener('abort', abort, { once: true });
  });
}

/** Account and spelling keys hold names as clients sent them (up to a message's size): counted under a digest. */
function boundedKey(key: string): string {
  // crypto.hash: the one-shot digest, without createHash's object per call (one per bind here).
  return key.length <= 64 ? key : `#${hash('sha256', key, 'base64')}`;
}
