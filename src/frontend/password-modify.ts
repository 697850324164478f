import type { Directory, OperationContext } from '../core/directory.js';
import { Dn } from '../core/dn.js';
import { ANONYMOUS } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { PasswordModify } from '../protocol/decoder.js';

/**
 * The Password Modify extended operation (RFC 3062): whose password (the named user, or the bound
 * one when the client names none), then the directory. Canopy generates no passwords, so a request
 * without a new one is refused. Passwords are never put into messages.
 */
export async function passwordModify(request: PasswordModify, directory: Directory, ctx: OperationContext): Promise<void> {
  const user = request.userIdentity === undefined ? boundUser(ctx) : named(request.userIdentity);
  if (request.newPassword === undefined || request.newPassword.length === 0) {
    throw new LdapError(ResultCode.unwillingToPerform, 'password generation is not supported: send the new password');
  }
  await directory.passwordModify(
    { user, newPassword: request.newPassword, ...(request.oldPassword && { oldPassword: request.oldPassword }) },
    ctx,
  );
}

function boundUser(ctx: OperationContext): Dn {
  const identity = ctx.identity ?? ANONYMOUS;
  switch (identity.kind) {
    case 'anonymous':
      throw new LdapError(ResultCode.insufficientAccessRights, 'bind first, or name the user whose password changes');
    case 'account':
      throw new LdapError(ResultCode.unwillingToPerform, "a local account's password is set in Canopy's configuration");
    case 'user':
      if (identity.dn) return identity.dn;
      throw new LdapError(ResultCode.unwillingToPerform, 'the entry of this login is not known: name it in userIdentity');
  }
}

function named(userIdentity: string): Dn {
  try {
    return Dn.parse(userIdentity);
  } catch {
    throw new LdapError(ResultCode.unwillingToPerform, 'userIdentity must be the DN of an entry');
  }
}
