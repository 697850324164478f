import { hash } from 'node:crypto';
import type { SecurityConfig } from '../config/auth-schema.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';

export type ThrottleSettings = SecurityConfig['throttle'];

/** One account's window (from its first failure): failures so far, attempts being checked now, binds waiting for a turn. */
interface AccountWindow {
  start: number;
  failures: number;
  pending: number;
  readonly waiters: Set<() => void>;
}

interface AddressWindow {
  start: number;
  failures: number;
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
 * Where the authenticator reserves its attempts: a BindThrottle in this process, or, with workers
 * (serve.workers), the primary's, asked over IPC, whose report of a failure arrives later.
 */
export interface Throttle {
  attempt(address: string, account: string, signal: AbortSignal): Promise<ThrottledAttempt>;
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
 * Failed binds counted per account (whatever name spelled it) and per source address, in fixed
 * windows. An attempt takes its place in the account's count BEFORE its password is checked, so
 * binds in parallel or pipelined cannot check more passwords than the limit: past it, a bind waits
 * for an attempt in progress to end, and once the failures reach the limit, binds are refused
 * unchecked until the window passes (the same answer whether the password was right or not).
 *
 * After `slowAfter` failures of an account its failed binds are answered only after `delayMs`.
 * An address past its own maximum (every login of a search-then-bind application comes from the
 * application's address) does not lock names out: only accounts that have already failed
 * `slowAfter` times (at least once) are refused from it, and its failed binds are slowed; an
 * account without failures is still checked. Successful binds are never slowed.
 */
export class BindThrottle implements Throttle {
  private readonly addresses = new Map<string, AddressWindow>();
  private readonly accounts = new Map<string, AccountWindow>();
  private sweepAt = SWEEP_AT;

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Reserves an attempt at `account` from `address`; waits while the attempts in progress would
   * reach the limit; rejects with invalidCredentials when the account is refused, or with the
   * signal's reason when the bind is given up while waiting.
   */
  async attempt(address: string, account: string, signal: AbortSignal): Promise<BindAttempt> {
    const key = boundedKey(account);
    for (;;) {
      signal.throwIfAborted();
      const w = this.account(key);
      const limit = this.limitFrom(address);
      if (w.failures >= limit) throw this.refusal(w, address);
      if (w.failures + w.pending < limit) {
        w.pending++;
        return this.reserved(w, key, address);
      }
      await turn(w, signal);
    }
  }

  /** The per-account limit for binds from `address`: lower once the address is past its own maximum. */
  private limitFrom(address: string): number {
    const { maxFailuresPerAccount, maxFailuresPerAddress, slowAfter } = this.settings;
    const a = this.address(address);
    if (!a || a.failures < maxFailuresPerAddress) return maxFailuresPerAccount;
    return Math.min(maxFailuresPerAccount, Math.max(1, slowAfter));
  }

  private reserved(w: AccountWindow, key: string, address: string): BindAttempt {
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
        settle();
      },
      failed: () => {
        if (w.failures === 0) w.start = this.now(); // the window opens with the first failure
        w.failures++;
        settle();
        const a = this.countAddress(address);
        const slowed = w.failures > this.settings.slowAfter || a.failures >= this.settings.maxFailuresPerAddress;
        return { delayMs: slowed ? this.settings.delayMs : 0, limitReached: w.failures >= this.limitFrom(address) };
      },
      undecided: settle,
    };
  }

  private refusal(w: AccountWindow, address: string): LdapError {
    const ms = this.settings.windowSeconds * 1000;
    const accountEnds = w.start + ms;
    // Below the account's own maximum, the refusal ends with either window.
    const a = this.address(address);
    const until = w.failures >= this.settings.maxFailuresPerAccount || !a ? accountEnds : Math.min(accountEnds, a.start + ms);
    const seconds = Math.max(1, Math.ceil((until - this.now()) / 1000));
    return new LdapError(ResultCode.invalidCredentials, `too many failed binds: try again in ${seconds} s`);
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

  private address(address: string): AddressWindow | undefined {
    const a = this.addresses.get(address);
    if (a && this.expired(a.start)) {
      this.addresses.delete(address);
      return undefined;
    }
    return a;
  }

  private countAddress(address: string): AddressWindow {
    const a = this.address(address);
    if (a) {
      a.failures++;
      return a;
    }
    this.makeRoom();
    const fresh = { start: this.now(), failures: 1 };
    this.addresses.set(address, fresh);
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
    if (this.accounts.size + this.addresses.size >= this.sweepAt) {
      this.sweep();
      this.sweepAt = Math.max(SWEEP_AT, 2 * (this.accounts.size + this.addresses.size));
    }
    if (this.accounts.size >= MAX_WINDOWS) {
      for (const [k, w] of this.accounts) {
        if (w.pending === 0 && w.waiters.size === 0) {
          this.accounts.delete(k);
          break;
        }
      }
    }
    if (this.addresses.size >= MAX_WINDOWS) this.addresses.delete(this.addresses.keys().next().value!);
  }

  private sweep(): void {
    for (const [k, w] of this.accounts) if (w.pending === 0 && w.waiters.size === 0 && (w.failures === 0 || this.expired(w.start))) this.accounts.delete(k);
    for (const k of [...this.addresses.keys()]) this.address(k);
  }

  /** Windows held, for tests of the bound. */
  get size(): { readonly accounts: number; readonly addresses: number } {
    return { accounts: this.accounts.size, addresses: this.addresses.size };
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

/** Account keys hold names as clients sent them (up to a message's size): counted under a digest. */
function boundedKey(key: string): string {
  // crypto.hash: the one-shot digest, without createHash's object per call (one per bind here).
  return key.length <= 64 ? key : `#${hash('sha256', key, 'base64')}`;
}
