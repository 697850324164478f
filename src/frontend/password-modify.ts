import type { Directory, Modification, OperationContext } from '../core/directory.js';
import { Dn } from '../core/dn.js';
import { ANONYMOUS, type Authenticator, type Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { SessionResources } from '../core/session-resources.js';
import { isUnicodePwd, passwordOfUnicodePwd } from '../core/unicode-pwd.js';
import type { PasswordModify } from '../protocol/decoder.js';

/** A password change as a client asks for it, by Password Modify or by AD's unicodePwd delete-and-add. */
export interface PasswordChange {
  /** Whose password: absent for the bound user's own. */
  readonly user?: Dn;
  readonly oldPassword?: Buffer;
  readonly newPassword?: Buffer;
}

/** What a password change needs besides the directory: the logins' checker, and the client for its throttle. */
export interface PasswordChanger {
  readonly directory: Directory;
  readonly authenticator: Authenticator;
  readonly client: { readonly peer: string; readonly secure: boolean };
}

/** The Password Modify extended operation (RFC 3062) as a change: userIdentity must be a DN. */
export function passwordModifyChange(request: PasswordModify): PasswordChange {
  return {
    ...(request.userIdentity !== undefined && { user: named(request.userIdentity) }),
    ...(request.oldPassword && { oldPassword: request.oldPassword }),
    ...(request.newPassword && { newPassword: request.newPassword }),
  };
}

/**
 * A modify that changes a user's own password the way Active Directory takes it, as a change of
 * `dn`'s password: a delete of the old unicodePwd and an add of the new one, each value the
 * password in double quotes, UTF-16LE, and only over TLS (as AD insists). Undefined for any other
 * modify (an administrator's replace of unicodePwd goes to the forest as it is).
 */
export function unicodePwdChange(dn: Dn, changes: readonly Modification[], secure: boolean): PasswordChange | undefined {
  if (changes.length !== 2) return undefined;
  const [remove, add] = changes;
  if (remove.operation !== 'delete' || add.operation !== 'add' || !isUnicodePwd(remove.attribute.name) || !isUnicodePwd(add.attribute.name)) return undefined;
  if (!secure) throw new LdapError(ResultCode.unwillingToPerform, 'unicodePwd is changed only over an encrypted connection (LDAPS or StartTLS)');
  return { user: dn, oldPassword: passwordIn(remove), newPassword: passwordIn(add) };
}

function passwordIn(change: Modification): Buffer {
  const [value, ...more] = change.attribute.values;
  const password = value === undefined || more.length > 0 ? undefined : passwordOfUnicodePwd(typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
  if (password === undefined) throw new LdapError(ResultCode.constraintViolation, 'unicodePwd: one value, the password in double quotes encoded UTF-16LE');
  return password;
}

/**
 * Makes a password change; true when it was the bound user's own (which ends a reset password's
 * restriction). Canopy generates no passwords, so a change without a new one is refused.
 *
 * A client not bound as the user may change the user's password by proving the old one: Canopy
 * checks it as a login (throttled; a wrong one is a failed login and gets invalidCredentials like
 * any), and makes the change as the user. A user whose forest refuses logins until the password
 * changes (AD's 773) can change it so, without an administrator. Passwords are never put into messages.
 */
export async function changePassword(change: PasswordChange, changer: PasswordChanger, ctx: OperationContext): Promise<boolean> {
  const { newPassword, oldPassword } = change;
  if (newPassword === undefined || newPassword.length === 0) {
    throw new LdapError(ResultCode.unwillingToPerform, 'password generation is not supported: send the new password');
  }
  const identity = ctx.identity ?? ANONYMOUS;
  const user = change.user ?? boundUser(identity);
  if (oldPassword === undefined || isSelf(identity, user)) {
    await changer.directory.passwordModify({ user, newPassword, ...(oldPassword && { oldPassword }) }, ctx);
    return isSelf(identity, user);
  }
  const session = new SessionResources(); // what the forest keeps for the proving login, released with the change
  try {
    const proof = await changer.authenticator.provePassword({
      name: user.text,
      password: oldPassword,
      ...changer.client,
      signal: ctx.signal,
      connectionId: ctx.connectionId,
      session,
    });
    if (proof.kind === 'mustChange') {
      await changer.directory.passwordModify({ user, oldPassword, newPassword, oldPasswordProven: true }, ctx);
      return false;
    }
    const owner = proof.identity;
    if (owner.kind !== 'user') throw localAccount();
    await changer.directory.passwordModify({ user, oldPassword, newPassword }, { ...ctx, identity: owner, boundDn: user.text, session });
    return false;
  } finally {
    session.release();
  }
}

function isSelf(identity: Identity, user: Dn): boolean {
  return identity.kind === 'user' && identity.dn?.equals(user) === true;
}

function boundUser(identity: Identity): Dn {
  switch (identity.kind) {
    case 'anonymous':
      throw new LdapError(ResultCode.insufficientAccessRights, 'bind first, or name the user whose password changes');
    case 'account':
      throw localAccount();
    case 'user':
      if (identity.dn) return identity.dn;
      throw new LdapError(ResultCode.unwillingToPerform, 'the entry of this login is not known: name it in userIdentity');
  }
}

function localAccount(): LdapError {
  return new LdapError(ResultCode.unwillingToPerform, "a local account's password is set in Canopy's configuration");
}

function named(userIdentity: string): Dn {
  try {
    return Dn.parse(userIdentity);
  } catch {
    throw new LdapError(ResultCode.unwillingToPerform, 'userIdentity must be the DN of an entry');
  }
}
