import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AttributeValue, Entry } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';

/** RFC 2307-style `{SCHEME}base64` password schemes: digest algorithm, its size in bytes, and whether a salt follows the digest. */
const SCHEMES: Readonly<Record<string, { algorithm: string; size: number; salted: boolean }>> = {
  SHA: { algorithm: 'sha1', size: 20, salted: false },
  SSHA: { algorithm: 'sha1', size: 20, salted: true },
  SHA256: { algorithm: 'sha256', size: 32, salted: false },
  SSHA256: { algorithm: 'sha256', size: 32, salted: true },
  SHA512: { algorithm: 'sha512', size: 64, salted: false },
  SSHA512: { algorithm: 'sha512', size: 64, salted: true },
};

export type PasswordScheme = 'SSHA' | 'SSHA256' | 'SSHA512';

/**
 * Checks a password against one stored userPassword value: `{SHA}`/`{SSHA}` (and the SHA-2
 * variants) hashed, anything without a scheme prefix in plain text. Unknown schemes never match.
 */
export function verifyPassword(stored: AttributeValue, password: Buffer): boolean {
  const text = typeof stored === 'string' ? stored : stored.toString('utf8');
  const m = /^\{([A-Za-z0-9-]+)\}(.*)$/s.exec(text);
  if (!m) return constantTimeEquals(Buffer.from(text, 'utf8'), password);
  const scheme = SCHEMES[m[1].toUpperCase()];
  if (!scheme) return false;
  const decoded = Buffer.from(m[2], 'base64');
  const size = scheme.size;
  if (decoded.length < size || (!scheme.salted && decoded.length !== size)) return false;
  const digest = decoded.subarray(0, size);
  const salt = decoded.subarray(size);
  return timingSafeEqual(createHash(scheme.algorithm).update(password).update(salt).digest(), digest);
}

/** Whether a userPassword value is stored hashed (`{SCHEME}…`) rather than in clear. */
export function isHashed(value: AttributeValue): boolean {
  return /^\{[A-Za-z0-9-]+\}/.test(typeof value === 'string' ? value : value.toString('utf8'));
}

/** A salted hash for userPassword (what `canopy hash-password` prints); {SSHA} is what slapd accepts by default. */
export function hashPassword(password: string | Buffer, scheme: PasswordScheme = 'SSHA'): string {
  const { algorithm } = SCHEMES[scheme];
  const salt = randomBytes(8);
  const digest = createHash(algorithm).update(password).update(salt).digest();
  return `{${scheme}}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/**
 * The entry with its password changed (RFC 3062): a given old password must match one stored
 * value (else unwillingToPerform, as slapd answers); the new one replaces every value, hashed.
 */
export function withNewPassword(entry: Entry, oldPassword: Buffer | undefined, newPassword: Buffer): Entry {
  if (oldPassword !== undefined && !(entry.get('userPassword')?.values ?? []).some((v) => verifyPassword(v, oldPassword))) {
    throw new LdapError(ResultCode.unwillingToPerform, 'the old password does not match');
  }
  const next = entry.clone();
  next.set('userPassword', [hashPassword(newPassword)]);
  return next;
}

/** Compares digests so the time taken does not reveal how much of a plain password matched. */
function constantTimeEquals(a: Buffer, b: Buffer): boolean {
  // One-shot digests: no Hash object each, on every simple bind of a clear-text password.
  return timingSafeEqual(hash('sha256', a, 'buffer'), hash('sha256', b, 'buffer'));
}
