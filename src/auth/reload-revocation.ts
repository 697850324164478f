import type { CanopyConfig } from '../config/schema.js';
import { Dn } from '../core/dn.js';
import type { Revocation } from '../core/identity.js';
import { SubjectMapping } from './subject-mapping.js';

/**
 * What a reload from `before` to `after` withdraws from sessions already bound: a local account
 * removed, a local account's password hash changed (for sessions that bound with a password), or
 * `tls.subjectMapping` changed so that a session's certificate subject no longer maps to the account
 * it bound as (SASL EXTERNAL). Undefined when no account was removed or re-hashed and the mapping
 * did not change.
 *
 * A session that outlived earlier reloads proved itself against `before`'s account (each reload
 * judged it, and a bind checked during a reload is judged when it ends), so comparing the two
 * configurations is enough. Forest users and anonymous sessions are never revoked here: their
 * passwords live in the forests.
 */
export function accountRevocation(before: CanopyConfig, after: CanopyConfig): Revocation | undefined {
  const old = passwordHashes(before);
  const now = passwordHashes(after);
  // Accounts added revoke nothing: only those removed or re-hashed.
  const accountsChanged = [...old].some(([key, hash]) => now.get(key) !== hash);
  const mappingChanged = JSON.stringify(before.tls?.subjectMapping ?? []) !== JSON.stringify(after.tls?.subjectMapping ?? []);
  if (!accountsChanged && !mappingChanged) return undefined;
  const mapping = new SubjectMapping(after.tls?.subjectMapping ?? []);
  return (identity, proof) => {
    if (identity.kind !== 'account') return false;
    const key = identity.dn.key;
    const hash = now.get(key);
    if (hash === undefined) return true; // removed
    if (proof.method === 'simple') return old.get(key) !== hash;
    if (!mappingChanged) return false;
    try {
      return mapping.map(proof.subject).key !== key;
    } catch {
      return true; // the subject now maps to no DN at all
    }
  };
}

/** Each local account's password hash, by its DN's canonical key. */
function passwordHashes(config: CanopyConfig): Map<string, string> {
  return new Map(config.accounts.map((a) => [Dn.parse(a.dn).key, a.passwordHash]));
}

/**
 * Whether a reload changes what searches may see, beyond the entries a forest serves: the access
 * rules, or what a forest hides (`attributes.hide`, `attributes.unknown`; a forest removed counts
 * too). Paged searches begun before such a reload cannot finish on the old configuration.
 */
export function visibilityChanged(before: CanopyConfig, after: CanopyConfig): boolean {
  if (JSON.stringify(before.access ?? null) !== JSON.stringify(after.access ?? null)) return true;
  const hidden = (f: CanopyConfig['forests'][number]): string => JSON.stringify([f.attributes.hide, f.attributes.unknown]);
  const next = new Map(after.forests.map((f) => [f.name, hidden(f)]));
  return before.forests.some((f) => next.get(f.name) !== hidden(f));
}
