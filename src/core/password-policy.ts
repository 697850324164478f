/**
 * The password policy response control's content (draft-behera-ldap-password-policy §6.2): what a
 * bind, modify or Password Modify learned about the account's password, filled by whichever layer
 * knows (a forest's policy, Active Directory's reason for refusing a bind) and sent by the front
 * end to a client that asked for it with the request control.
 */
export const PolicyError = {
  passwordExpired: 0,
  accountLocked: 1,
  changeAfterReset: 2,
  passwordModNotAllowed: 3,
  mustSupplyOldPassword: 4,
  insufficientPasswordQuality: 5,
  passwordTooShort: 6,
  passwordTooYoung: 7,
  passwordInHistory: 8,
} as const;

export type PolicyError = (typeof PolicyError)[keyof typeof PolicyError];

export interface PolicyState {
  /** Seconds until the password expires (a warning on a successful bind). */
  timeBeforeExpiration?: number;
  /** Binds left with an expired password. */
  graceAuthNsRemaining?: number;
  error?: PolicyError;
}

/** Where an operation records its password policy state; the front end creates one per bind and password change. */
export interface PolicyNotes {
  state?: PolicyState;
}
