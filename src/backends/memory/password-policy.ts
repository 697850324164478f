import type { Dn } from '../../core/dn.js';
import type { AttributeValue, Entry } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { integerValue } from '../../core/matching.js';
import { PolicyError, type PolicyNotes, type PolicyState } from '../../core/password-policy.js';
import { ResultCode } from '../../core/result-codes.js';
import { hashPassword, isHashed } from './password.js';

/**
 * OpenLDAP's ppolicy overlay (draft-behera) in the plain profile: a `pwdPolicy` entry governs the
 * users naming it in `pwdPolicySubentry`, and the others when it is the forest's default,
 * `cn=default,ou=policies,<suffix>` (the usual olcPPolicyDefault). The user's operational state is
 * kept where slapd keeps it: pwdChangedTime, pwdReset, pwdFailureTime, pwdAccountLockedTime,
 * pwdGraceUseTime.
 *
 * slapd's overlay option olcPPolicyHashCleartext (store userPassword written in clear as a hash)
 * has no entry of its own in the mock: a policy entry with `olcPPolicyHashCleartext: TRUE` turns it
 * on for the users that policy governs.
 */

export type Policy = Entry;

/** The policy entry governing `user`, if any. */
export function governingPolicy(user: Entry, suffix: Dn, find: (dn: string) => Entry | undefined): Policy | undefined {
  const named = user.get('pwdPolicySubentry')?.values[0];
  const policy = find(named === undefined ? `cn=default,ou=policies,${suffix.text}` : named.toString());
  return policy?.get('objectClass')?.values.some((v) => v.toString().toLowerCase() === 'pwdpolicy') ? policy : undefined;
}

function number(entry: Entry, name: string): number {
  const v = entry.get(name)?.values[0];
  const n = v === undefined ? undefined : integerValue(v.toString());
  return n === undefined ? 0 : Number(n);
}

function flag(entry: Entry, name: string): boolean {
  return entry.get(name)?.values[0]?.toString().toUpperCase() === 'TRUE';
}

/** GeneralizedTime to milliseconds (`20240131120000Z`, fractions ignored). */
function timeOf(value: string | Buffer): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,]\d+)?Z$/.exec(value.toString());
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0)) : undefined;
}

function times(entry: Entry, name: string): number[] {
  return (entry.get(name)?.values ?? []).flatMap((v) => timeOf(v) ?? []);
}

/** GeneralizedTime in UTC to the second, e.g. `20240131120000Z`, as slapd writes its operational times. */
export function policyTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

export interface PolicyBind {
  /** Set when the bind is refused: invalidCredentials, with the control's error where slapd gives one. */
  readonly refused?: boolean;
  readonly state?: PolicyState;
  /** The user's entry with its policy state changed, when it changes. */
  readonly next?: Entry;
}

function lockedNow(user: Entry, policy: Policy, now: number): boolean {
  const since = times(user, 'pwdAccountLockedTime')[0];
  if (since === undefined || !flag(policy, 'pwdLockout')) return false;
  const duration = number(policy, 'pwdLockoutDuration');
  return duration === 0 || now < since + duration * 1000;
}

/** A bind by a user the policy governs, as slapd's ppolicy decides it. */
export function policyBind(user: Entry, policy: Policy, passwordMatches: boolean, now: number): PolicyBind {
  if (lockedNow(user, policy, now)) return { refused: true, state: { error: PolicyError.accountLocked } };
  if (!passwordMatches) {
    if (!flag(policy, 'pwdLockout')) return { refused: true };
    const next = user.clone();
    const failures = [...(next.get('pwdFailureTime')?.values ?? []), policyTime(now)];
    next.set('pwdFailureTime', failures);
    const max = number(policy, 'pwdMaxFailure');
    if (max > 0 && failures.length >= max) next.set('pwdAccountLockedTime', [policyTime(now)]);
    return { refused: true, next };
  }
  const next = user.clone();
  // A successful bind forgets the failures.
  let changed = user.has('pwdFailureTime') || user.has('pwdAccountLockedTime');
  next.delete('pwdFailureTime');
  next.delete('pwdAccountLockedTime');
  const maxAge = number(policy, 'pwdMaxAge');
  const setAt = times(user, 'pwdChangedTime')[0];
  const age = setAt === undefined ? 0 : (now - setAt) / 1000;
  let state: PolicyState | undefined;
  if (maxAge > 0 && age >= maxAge) {
    // Expired: a grace login while any remain, refused after.
    const used = times(user, 'pwdGraceUseTime').length;
    const remaining = number(policy, 'pwdGraceAuthNLimit') - used;
    if (remaining <= 0) return { refused: true, state: { error: PolicyError.passwordExpired } };
    next.set('pwdGraceUseTime', [...(user.get('pwdGraceUseTime')?.values ?? []), policyTime(now)]);
    changed = true;
    state = { graceAuthNsRemaining: remaining - 1 };
  } else if (maxAge > 0 && age >= maxAge - number(policy, 'pwdExpireWarning') && number(policy, 'pwdExpireWarning') > 0) {
    state = { timeBeforeExpiration: Math.floor(maxAge - age) };
  }
  if (flag(policy, 'pwdMustChange') && flag(user, 'pwdReset')) state = { ...state, error: PolicyError.changeAfterReset };
  return { ...(state && { state }), ...(changed && { next }) };
}

/** Refuses a new password the policy's quality rules reject: constraintViolation with the control's error. */
export function checkNewPassword(policy: Policy, password: Buffer): PolicyState | undefined {
  const quality = number(policy, 'pwdCheckQuality');
  if (quality === 0) return undefined;
  const hashed = isHashed(password);
  // A hashed value cannot be checked: refused only when the policy insists (pwdCheckQuality 2).
  if (hashed) return quality === 2 ? { error: PolicyError.insufficientPasswordQuality } : undefined;
  const min = number(policy, 'pwdMinLength');
  return [...password.toString('utf8')].length < min ? { error: PolicyError.passwordTooShort } : undefined;
}

/**
 * userPassword values an add or modify writes under `policy`, as slapd's ppolicy takes them: each
 * checked for quality (constraintViolation, the control's error in `notes`), and those in clear
 * stored as {SSHA} when the policy hashes clear text.
 */
export function admitPasswords(policy: Policy, values: readonly AttributeValue[], notes: PolicyNotes | undefined): AttributeValue[] {
  for (const value of values) {
    const rejected = checkNewPassword(policy, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
    if (!rejected) continue;
    if (notes) notes.state = rejected;
    throw qualityError(rejected);
  }
  if (!flag(policy, 'olcPPolicyHashCleartext')) return [...values];
  return values.map((value) => (isHashed(value) ? value : hashPassword(value)));
}

export function qualityError(state: PolicyState): LdapError {
  const why = state.error === PolicyError.passwordTooShort ? 'Password fails quality checking policy: too short' : 'Password fails quality checking policy';
  return new LdapError(ResultCode.constraintViolation, why);
}

/**
 * The user's policy state after a password change: pwdChangedTime now, failures and grace logins
 * forgotten, and pwdReset set when an administrator set it under pwdMustChange (cleared when the user did).
 */
export function withPolicyChange(user: Entry, policy: Policy, byOwner: boolean, now: number): void {
  user.set('pwdChangedTime', [policyTime(now)]);
  for (const name of ['pwdFailureTime', 'pwdAccountLockedTime', 'pwdGraceUseTime']) user.delete(name);
  if (!byOwner && flag(policy, 'pwdMustChange')) user.set('pwdReset', ['TRUE']);
  else user.delete('pwdReset');
}
