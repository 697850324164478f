import type { SecurityConfig } from '../config/auth-schema.js';
import type { ForestConfig } from '../config/schema.js';
import { adLogonMessage, disclosedAdReason, policyErrorOf } from '../core/ad-logon.js';
import { LdapError } from '../core/ldap-error.js';
import type { PolicyNotes } from '../core/password-policy.js';
import { ResultCode } from '../core/result-codes.js';

/** How a forest's refusals of a login are explained to the client (`security.bindDiagnostics`). */
export type BindDiagnostics = 'ad' | 'generic';

/**
 * The configured setting, else `ad` for a forest that is Active Directory: a memory forest with AD's
 * profile, or an ldap forest with a NetBIOS domain name (down-level logins exist only in AD).
 */
export function bindDiagnosticsOf(security: SecurityConfig, forest: ForestConfig): BindDiagnostics {
  if (security.bindDiagnostics) return security.bindDiagnostics;
  const ad = forest.backend === 'memory' ? forest.profile === 'ad' : forest.netbiosName !== undefined;
  return ad ? 'ad' : 'generic';
}

/**
 * What the client hears when a forest refused the password check. Under `ad`, a reason AD gives
 * only about an existing account (locked, disabled, expired, must change) keeps AD's message,
 * rebuilt here so that nothing else of the upstream's text (server names, DSIDs) gets out, and
 * becomes the password policy control's error where it has one. Everything else, unknown user and
 * wrong password alike, is one invalidCredentials message.
 */
export function bindRefusal(err: unknown, diagnostics: BindDiagnostics | undefined, policy: PolicyNotes | undefined): LdapError {
  const reason = diagnostics === 'ad' && err instanceof LdapError ? disclosedAdReason(err.message) : undefined;
  if (reason === undefined) return new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
  const error = policyErrorOf(reason);
  if (policy && error !== undefined) policy.state = { ...policy.state, error };
  return new LdapError(ResultCode.invalidCredentials, adLogonMessage(reason));
}
