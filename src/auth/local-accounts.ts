import type { AccountConfig } from '../config/auth-schema.js';
import { AdLogonReason, adLogonMessage } from '../core/ad-logon.js';
import { Dn } from '../core/dn.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { LoginAccount } from './login-name.js';
import { parseScryptHash, unmatchableHash, verifyPassword, type ScryptHash } from '../core/scrypt-hash.js';

/** Canopy's own principals (an application's service account), checked against scrypt hashes. */
export class LocalAccounts {
  private readonly byKey: ReadonlyMap<string, { dn: Dn; hash: ScryptHash }>;
  /**
   * Checked for DNs that are no account, so that an unknown name costs what a wrong password
   * costs; without accounts there is nothing to tell apart, and no scrypt to spend.
   */
  private readonly unknown: ScryptHash | undefined;

  constructor(accounts: readonly AccountConfig[]) {
    this.byKey = new Map(
      accounts.map((a) => {
        const dn = Dn.parse(a.dn);
        // Validated at load: the hash parses.
        return [dn.key, { dn, hash: parseScryptHash(a.passwordHash)! }];
      }),
    );
    const first = this.byKey.values().next().value;
    this.unknown = first && unmatchableHash(first.hash);
  }

  /** Whether `dn` names an account (by its canonical key). */
  has(dn: Dn): boolean {
    return this.byKey.has(dn.key);
  }

  /** The account `dn` names (by its canonical key), or an unknown one whose check always fails. */
  resolve(dn: Dn): LoginAccount {
    const account = this.byKey.get(dn.key);
    return {
      key: `account:${dn.key}`,
      verify: async (password) => {
        const hash = account?.hash ?? this.unknown;
        const right = hash !== undefined && (await verifyPassword(hash, password));
        // AD's logon status says which for the metric; the client hears only invalid credentials.
        if (!account || !right) throw new LdapError(ResultCode.invalidCredentials, adLogonMessage(account ? AdLogonReason.wrongPassword : AdLogonReason.noSuchUser));
        return { kind: 'account', dn: account.dn };
      },
      accept: async () => {
        if (!account) throw new LdapError(ResultCode.invalidCredentials, adLogonMessage(AdLogonReason.noSuchUser));
        return { kind: 'account', dn: account.dn };
      },
    };
  }
}
