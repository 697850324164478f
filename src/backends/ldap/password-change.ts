import { Attribute, BerWriter, Change } from 'ldapts';
import type { PasswordModifyRequest } from '../../core/directory.js';
import { unicodePwdValue } from '../../core/unicode-pwd.js';
import type { UpstreamConnection } from './upstream-connection.js';

/** RFC 3062 Password Modify. */
export const PASSWORD_MODIFY_OID = '1.3.6.1.4.1.4203.1.11.1';
/** Root DSE supportedCapabilities of Active Directory (LDAP_CAP_ACTIVE_DIRECTORY_OID) and AD LDS (…_ADAM_OID). */
const AD_CAPABILITIES = ['1.2.840.113556.1.4.800', '1.2.840.113556.1.4.1851'];

/** How a forest takes a password change: the extended operation, AD's unicodePwd, or not at all. */
export type PasswordMethod = 'exop' | 'unicodePwd' | 'none';

/** What the server's root DSE says it supports. */
export async function passwordMethod(connection: UpstreamConnection): Promise<PasswordMethod> {
  const rootDse = await connection.readEntry('', ['supportedExtension', 'supportedCapabilities']);
  const values = (name: string): string[] => (rootDse?.get(name)?.values ?? []).map(String);
  if (values('supportedExtension').includes(PASSWORD_MODIFY_OID)) return 'exop';
  if (values('supportedCapabilities').some((c) => AD_CAPABILITIES.includes(c))) return 'unicodePwd';
  return 'none';
}

/** PasswdModifyRequestValue ::= SEQUENCE { userIdentity [0], oldPasswd [1], newPasswd [2] }. */
export function passwordModifyValue(request: PasswordModifyRequest): Buffer {
  const writer = new BerWriter();
  writer.startSequence();
  writer.writeString(request.user.text, 0x80);
  if (request.oldPassword) writer.writeBuffer(request.oldPassword, 0x81);
  writer.writeBuffer(request.newPassword, 0x82);
  writer.endSequence();
  return writer.buffer;
}

/**
 * Active Directory's password change: a user changing its own proves the old one (delete old, add
 * new); a reset by an administrator replaces it.
 */
export function unicodePwdChanges(oldPassword: Buffer | undefined, newPassword: Buffer): Change[] {
  const change = (operation: 'add' | 'delete' | 'replace', password: Buffer): Change =>
    new Change({ operation, modification: new Attribute({ type: 'unicodePwd', values: [unicodePwdValue(password)] }) });
  if (oldPassword === undefined) return [change('replace', newPassword)];
  return [change('delete', oldPassword), change('add', newPassword)];
}
