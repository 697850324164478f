import { AdLogonReason } from '../../core/ad-logon.js';
import type { Entry } from '../../core/entry.js';
import { integerValue } from '../../core/matching.js';

/**
 * Active Directory's account states, as a domain controller decides a simple bind: from the user's
 * userAccountControl, accountExpires, pwdLastSet, lockoutTime and badPwdCount, and the domain
 * object's lockoutThreshold, lockoutDuration, lockOutObservationWindow and maxPwdAge. Times are
 * FILETIMEs (100 ns since 1601) and intervals negative 100 ns counts, as AD stores them.
 */

const UF_ACCOUNTDISABLE = 0x2n;
const UF_LOCKOUT = 0x10n;
const UF_DONT_EXPIRE_PASSWD = 0x10000n;
const UF_PASSWORD_EXPIRED = 0x800000n;
/** accountExpires of an account that never expires (0 means the same). */
const NEVER = 0x7fffffffffffffffn;
/** FILETIME of the Unix epoch. */
const EPOCH = 116444736000000000n;

/** A time as AD stores it. */
export function fileTime(ms: number): bigint {
  return BigInt(Math.floor(ms)) * 10000n + EPOCH;
}

function number(entry: Entry | undefined, name: string): bigint | undefined {
  const v = entry?.get(name)?.values[0];
  return v === undefined ? undefined : integerValue(v.toString());
}

/** An interval attribute of the domain object as a positive 100 ns count; 0 when absent or "never". */
function interval(domain: Entry | undefined, name: string): bigint {
  const v = number(domain, name) ?? 0n;
  return v < 0n && v !== -0x8000000000000000n ? -v : 0n;
}

/** When the lockout that began at `lockoutTime` ends (a duration of 0 holds until an administrator unlocks). */
function lockedAt(user: Entry, domain: Entry | undefined, now: bigint): boolean {
  const since = number(user, 'lockoutTime') ?? 0n;
  if (since === 0n) return false;
  const duration = interval(domain, 'lockoutDuration');
  return duration === 0n || now < since + duration;
}

function passwordExpired(user: Entry, domain: Entry | undefined, now: bigint): boolean {
  const maxAge = interval(domain, 'maxPwdAge');
  const set = number(user, 'pwdLastSet') ?? 0n;
  const flags = number(user, 'userAccountControl') ?? 0n;
  return maxAge > 0n && set > 0n && (flags & UF_DONT_EXPIRE_PASSWD) === 0n && now >= set + maxAge;
}

/** msDS-User-Account-Control-Computed: AD's constructed lockout and password-expired flags. */
export function computedAccountControl(user: Entry, domain: Entry | undefined, nowMs: number): string {
  const now = fileTime(nowMs);
  const flags = (lockedAt(user, domain, now) ? UF_LOCKOUT : 0n) | (passwordExpired(user, domain, now) ? UF_PASSWORD_EXPIRED : 0n);
  return String(flags);
}

export interface AdLogon {
  /** Why the bind is refused (the `data` of AD's message); absent when it succeeds. */
  readonly reason?: AdLogonReason;
  /** The user's entry with its logon bookkeeping (badPwdCount, lockoutTime) changed, when it changes. */
  readonly next?: Entry;
}

/**
 * A bind by an existing user, decided in AD's order: a locked account is refused whatever the
 * password (775); a wrong password counts towards the domain's lockoutThreshold (52e); only with
 * the right one does AD say disabled (533), expired (701), must change (773) or password expired (532).
 */
export function adLogon(user: Entry, passwordMatches: boolean, domain: Entry | undefined, nowMs: number): AdLogon {
  const now = fileTime(nowMs);
  if (lockedAt(user, domain, now)) return { reason: AdLogonReason.lockedOut };
  if (!passwordMatches) return { reason: AdLogonReason.wrongPassword, next: withBadPassword(user, domain, now) };
  const reason = refusalWithRightPassword(user, domain, now);
  const clean = (number(user, 'badPwdCount') ?? 0n) === 0n && (number(user, 'lockoutTime') ?? 0n) === 0n;
  if (reason !== undefined || clean) return { ...(reason && { reason }) };
  // A successful logon clears the failure count and an expired lockout.
  const next = user.clone();
  next.set('badPwdCount', ['0']);
  if (next.has('lockoutTime')) next.set('lockoutTime', ['0']);
  return { next };
}

function refusalWithRightPassword(user: Entry, domain: Entry | undefined, now: bigint): AdLogonReason | undefined {
  const flags = number(user, 'userAccountControl') ?? 0n;
  if ((flags & UF_ACCOUNTDISABLE) !== 0n) return AdLogonReason.accountDisabled;
  const expires = number(user, 'accountExpires') ?? 0n;
  if (expires !== 0n && expires !== NEVER && now >= expires) return AdLogonReason.accountExpired;
  if (user.has('pwdLastSet') && number(user, 'pwdLastSet') === 0n) return AdLogonReason.mustChangePassword;
  if (passwordExpired(user, domain, now)) return AdLogonReason.passwordExpired;
  return undefined;
}

/** badPwdCount one higher (from 0 when the last failure is older than the observation window), locked at the threshold. */
function withBadPassword(user: Entry, domain: Entry | undefined, now: bigint): Entry {
  const window = interval(domain, 'lockOutObservationWindow') || interval(domain, 'lockoutDuration');
  const last = number(user, 'badPasswordTime') ?? 0n;
  const previous = window > 0n && now >= last + window ? 0n : (number(user, 'badPwdCount') ?? 0n);
  const count = previous + 1n;
  const next = user.clone();
  next.set('badPwdCount', [String(count)]);
  next.set('badPasswordTime', [String(now)]);
  const threshold = number(domain, 'lockoutThreshold') ?? 0n;
  if (threshold > 0n && count >= threshold) next.set('lockoutTime', [String(now)]);
  return next;
}

/** What a password change does to the account: pwdLastSet is now, a "must change" is met. */
export function withPasswordChanged(user: Entry, nowMs: number): void {
  user.set('pwdLastSet', [String(fileTime(nowMs))]);
}
