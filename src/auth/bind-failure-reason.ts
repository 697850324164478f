import { AdLogonReason, adLogonReasonOf } from '../core/ad-logon.js';
import { LdapError } from '../core/ldap-error.js';

/**
 * The `reason` of `canopy_binds_failed_total` for a refused password check. Refusals carry AD's
 * logon status (Canopy's own refusals use it too), which the client hears only as far as
 * `security.bindDiagnostics` allows; the metric has it all, so an alert can tell a lockout wave
 * from typos. A refusal without one (another directory) is a wrong password.
 */
export function bindFailureReason(err: unknown): string {
  const reason = err instanceof LdapError ? adLogonReasonOf(err.message) : undefined;
  switch (reason) {
    case AdLogonReason.noSuchUser:
      return 'unknown_user';
    case AdLogonReason.lockedOut:
      return 'locked_out';
    case AdLogonReason.accountDisabled:
      return 'disabled';
    case AdLogonReason.accountExpired:
      return 'account_expired';
    case AdLogonReason.passwordExpired:
      return 'password_expired';
    case AdLogonReason.mustChangePassword:
      return 'must_change_password';
    case AdLogonReason.logonHours:
    case AdLogonReason.workstation:
      return 'not_permitted';
    default:
      return 'wrong_password';
  }
}
