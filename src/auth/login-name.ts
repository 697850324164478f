import type { BindDiagnostics } from './bind-diagnostics.js';
import { Dn } from '../core/dn.js';
import type { Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';

/** The forms a simple bind's name takes. */
export type LoginName =
  | { readonly kind: 'dn'; readonly dn: Dn }
  /** `jdoe@vse.lab`: the suffix names the forest. */
  | { readonly kind: 'upn'; readonly upn: string; readonly suffix: string }
  /** `VSE\jdoe`: the NetBIOS domain names the forest, the user is a sAMAccountName. */
  | { readonly kind: 'downLevel'; readonly domain: string; readonly user: string }
  /** `jdoe`: a sAMAccountName in any forest. */
  | { readonly kind: 'bare'; readonly user: string };

/**
 * The account a bind name resolved to: the key its failed binds are counted under (the same for
 * every spelling of it), and the check of a password, which rejects with invalidCredentials when
 * the password is wrong or the name leads to no account that may log in.
 */
export interface LoginAccount {
  readonly key: string;
  /** The forest holding the entry; absent for local accounts and names that lead to no entry. */
  readonly forest?: string;
  /** How a refused check is explained to the client; absent: one generic message. */
  readonly diagnostics?: BindDiagnostics;
  verify(password: Buffer): Promise<Identity>;
  /**
   * The identity when something other than a password proved the name (a verified client
   * certificate, SASL EXTERNAL): the same refusals as `verify` but the password's. Absent: only a
   * password proves this account.
   */
  accept?(): Promise<Identity>;
}

/** Reads a bind name; a name with `=` is a DN and must parse as one (invalidDNSyntax otherwise). */
export function parseLoginName(name: string): LoginName {
  if (name.includes('=')) return { kind: 'dn', dn: Dn.parse(name) };
  const slash = name.indexOf('\\');
  if (slash > 0 && slash < name.length - 1) return { kind: 'downLevel', domain: name.slice(0, slash), user: name.slice(slash + 1) };
  const at = name.lastIndexOf('@');
  if (at > 0 && at < name.length - 1) return { kind: 'upn', upn: name, suffix: name.slice(at + 1).toLowerCase() };
  if (slash >= 0 || at >= 0) throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
  return { kind: 'bare', user: name };
}

/** The key of a name that leads to no single account: its spelling, whatever its case. */
export function spellingKey(login: LoginName): string {
  switch (login.kind) {
    case 'dn':
      return `dn:${login.dn.key}`;
    case 'upn':
      return `upn:${login.upn.toLowerCase()}`;
    case 'downLevel':
      return `nt:${login.domain.toLowerCase()}\\${login.user.toLowerCase()}`;
    case 'bare':
      return `nt:${login.user.toLowerCase()}`;
  }
}
