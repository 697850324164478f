import { Dn } from '../core/dn.js';
import type { Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { attributeKey } from '../core/schema.js';
import { isUnicodePwd } from '../core/unicode-pwd.js';
import { ExtendedOid } from '../protocol/tags.js';
import type { LdapRequest } from '../protocol/decoder.js';

/** slapd's words for the same refusal, which its clients may know. */
const RESTRICTED = 'Operations are restricted to bind/unbind/abandon/StartTLS/modify password';

/**
 * OpenLDAP's ppolicy restriction of a login whose password an administrator reset under
 * pwdMustChange: until the user changes it, the connection may bind, ask who it is and change its
 * own password (Password Modify, or a modify of its own entry's password alone); anything else is
 * insufficientAccessRights. Unbind, abandon and StartTLS never get here. Undefined: allowed.
 */
export function resetRestriction(identity: Identity, request: LdapRequest): LdapError | undefined {
  if (identity.kind !== 'user' || identity.mustChangePassword !== true) return undefined;
  return allowed(identity.dn, request) ? undefined : new LdapError(ResultCode.insufficientAccessRights, RESTRICTED);
}

function allowed(own: Dn | undefined, request: LdapRequest): boolean {
  switch (request.op) {
    case 'bind':
      return true;
    case 'extended':
      if (request.oid === ExtendedOid.whoAmI) return true;
      if (!request.passwordModify) return false;
      return request.passwordModify.userIdentity === undefined || names(request.passwordModify.userIdentity, own);
    case 'modify':
      return (
        request.dn instanceof Dn &&
        own?.equals(request.dn) === true &&
        request.changes.every((c) => attributeKey(c.attribute.name) === 'userpassword' || isUnicodePwd(c.attribute.name))
      );
    default:
      return false;
  }
}

function names(userIdentity: string, own: Dn | undefined): boolean {
  try {
    return own?.equals(Dn.parse(userIdentity)) === true;
  } catch {
    return false;
  }
}
