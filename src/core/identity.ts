import type { Dn } from './dn.js';
import type { PolicyNotes } from './password-policy.js';
import type { SessionResources } from './session-resources.js';

/**
 * Who a connection is bound as. Access rules and Who Am I read it; the bound DN alone cannot tell
 * a local service account from a forest user, nor name the forest that checked the password.
 */
export type Identity =
  | { readonly kind: 'anonymous' }
  /** An account defined in Canopy's configuration (like AD LDS's own principals). */
  | { readonly kind: 'account'; readonly dn: Dn }
  /**
   * A user whose password a forest checked. `dn` is the virtual DN; it is absent only when the
   * forest checked a UPN natively and the entry could not be looked up afterwards.
   */
  | {
      readonly kind: 'user';
      readonly forest: string;
      readonly dn?: Dn;
      readonly login: string;
      /**
       * Logged in with a password an administrator set that must be changed (OpenLDAP's pwdReset
       * under pwdMustChange): until the user changes it, the connection may do nothing else.
       */
      readonly mustChangePassword?: true;
    };

export const ANONYMOUS: Identity = { kind: 'anonymous' };

/** How a bound identity proved itself: a password (simple bind), or a client certificate's subject (SASL EXTERNAL). */
export type BindProof = { readonly method: 'simple' } | { readonly method: 'external'; readonly subject: string };

/**
 * A reload's verdict on an identity bound before it: true when it no longer stands (its local
 * account removed, its password hash or the certificate mapping that led to it changed).
 */
export type Revocation = (identity: Identity, proof: BindProof) => boolean;

/** A UPN as one account's key, however spelled: the forest compares UPNs ignoring case (and AD its Unicode forms). */
export function foldedUpn(upn: string): string {
  return upn.normalize('NFKC').toLowerCase();
}

/** The RFC 4532 authorization identity: `dn:<DN>`, `u:<login>`, or empty for anonymous. */
export function authzId(identity: Identity): string {
  switch (identity.kind) {
    case 'anonymous':
      return '';
    case 'account':
      return `dn:${identity.dn.text}`;
    case 'user':
      return identity.dn ? `dn:${identity.dn.text}` : `u:${identity.login}`;
  }
}

/**
 * Checks a simple bind's credentials. The front end calls it for every named bind; it knows
 * nothing of forests. Rejects with an LdapError (invalidCredentials, confidentialityRequired, …).
 */
export interface Authenticator {
  authenticate(request: BindCredentials): Promise<Identity>;
  /**
   * SASL EXTERNAL: the identity a verified TLS client certificate's subject maps to. Rejects with
   * invalidCredentials when it maps to no account that may log in, or `authorization` is another.
   */
  authenticateCertificate(request: CertificateCredentials): Promise<Identity>;
  /**
   * Checks the old password of a password change sent by a client not bound as that user, as a
   * login (throttled, a wrong one counted as a failed login), except that a right password which
   * the forest refuses only because it must change (AD's 773, 532) proves it too.
   */
  provePassword(request: BindCredentials): Promise<PasswordProof>;
}

export interface CertificateCredentials {
  /** The verified client certificate's subject, as an LDAP DN string (RFC 4514). */
  readonly subject: string;
  /** The authorization identity the client asserted (`dn:<DN>`); absent: the certificate's own. */
  readonly authorization?: Dn;
  /** The client's address, for throttling. */
  readonly peer: string;
  readonly signal: AbortSignal;
  readonly connectionId: number;
  readonly session?: SessionResources;
}

/** What a proven old password allows. */
export type PasswordProof =
  /** It logs the user in: the change is made as this identity (with what the forest kept in the request's session). */
  | { readonly kind: 'login'; readonly identity: Identity }
  /**
   * It is right, but the forest refuses logins until it changes: the change goes to the forest
   * with the forest's service account, which checks the old password again (AD's delete-and-add).
   */
  | { readonly kind: 'mustChange' };

export interface BindCredentials {
  /** The bind name as the client sent it: a DN, `user@upn.suffix`, `DOMAIN\user` or a bare name. */
  readonly name: string;
  readonly password: Buffer;
  /** The client's address, for throttling. */
  readonly peer: string;
  /** Whether the connection is protected by TLS (LDAPS or StartTLS). */
  readonly secure: boolean;
  readonly signal: AbortSignal;
  readonly connectionId: number;
  /** The client connection's session: a forest that checks the password may keep the user's authenticated connection there. */
  readonly session?: SessionResources;
  /** Present when the client asked for the password policy control: the account's state goes there. */
  readonly policy?: PolicyNotes;
}
