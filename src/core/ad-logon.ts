/**
 * Active Directory's reasons for refusing a simple bind, as its diagnostic message carries them
 * (`80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563`):
 * the `data` field is the Windows logon status. Clients such as Keycloak read it to tell "must
 * change password" from "wrong password".
 */
import { PolicyError } from './password-policy.js';

export const AdLogonReason = {
  /** No such user (ERROR_NO_SUCH_USER). */
  noSuchUser: '525',
  /** Wrong password (ERROR_LOGON_FAILURE). */
  wrongPassword: '52e',
  /** Not permitted to log on at this time (ERROR_INVALID_LOGON_HOURS). */
  logonHours: '530',
  /** Not permitted to log on at this workstation (ERROR_INVALID_WORKSTATION). */
  workstation: '531',
  /** Password expired (ERROR_PASSWORD_EXPIRED). */
  passwordExpired: '532',
  /** Account disabled (ERROR_ACCOUNT_DISABLED). */
  accountDisabled: '533',
  /** Account expired (ERROR_ACCOUNT_EXPIRED). */
  accountExpired: '701',
  /** Password must be changed before the first logon (ERROR_PASSWORD_MUST_CHANGE). */
  mustChangePassword: '773',
  /** Account locked out (ERROR_ACCOUNT_LOCKED_OUT). */
  lockedOut: '775',
} as const;

export type AdLogonReason = (typeof AdLogonReason)[keyof typeof AdLogonReason];

/**
 * Reasons AD gives only about an existing account: passed on to clients. 525 and 52e are not:
 * telling them apart says which accounts exist.
 */
const DISCLOSED: ReadonlySet<string> = new Set<string>([
  AdLogonReason.logonHours,
  AdLogonReason.workstation,
  AdLogonReason.passwordExpired,
  AdLogonReason.accountDisabled,
  AdLogonReason.accountExpired,
  AdLogonReason.mustChangePassword,
  AdLogonReason.lockedOut,
]);

/** The bind refusal's diagnostic message exactly as a Windows Server 2016+ domain controller writes it. */
export function adLogonMessage(reason: AdLogonReason): string {
  return `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${reason}, v4563`;
}

/** The reason in an AD bind refusal's message (undefined for other messages); for Canopy's own use. */
export function adLogonReasonOf(message: string): AdLogonReason | undefined {
  const m = /AcceptSecurityContext error, data ([0-9a-f]+),/i.exec(message);
  return m?.[1].toLowerCase() as AdLogonReason | undefined;
}

/** The reason in an AD bind refusal's message, when it is one a client may learn; undefined otherwise. */
export function disclosedAdReason(message: string): AdLogonReason | undefined {
  const reason = adLogonReasonOf(message);
  return reason !== undefined && DISCLOSED.has(reason) ? reason : undefined;
}

/** The password policy control's error for an AD reason that has one. */
export function policyErrorOf(reason: AdLogonReason): PolicyError | undefined {
  switch (reason) {
    case AdLogonReason.lockedOut:
      return PolicyError.accountLocked;
    case AdLogonReason.passwordExpired:
      return PolicyError.passwordExpired;
    case AdLogonReason.mustChangePassword:
      return PolicyError.changeAfterReset;
    default:
      return undefined;
  }
}
