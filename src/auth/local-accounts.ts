import type { AccountConfig } from '../config/auth-schema.js';
import { Dn } from '../core/dn.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { LoginAccount } from './login-name.js';
import { parseScryptHash, unmatchableHash, verifyPassword, type ScryptHash } from './scrypt-hash.js';

/** Canopy's own principals (an application's service account), checked against scrypt hashes. */
export class LocalAccounts {
  private readonly byKey: ReadonlyMap<string, { dn: Dn; hash: ScryptHash }>;
  /** Checked for DNs that are no account: an unknown name costs what a wrong password costs. */
  private readonly unknown: ScryptHash;

  constructor(accounts: readonly AccountConfig[]) {
    this.byKey = new Map(
      accounts.map((a) => {
        const dn = Dn.parse(a.dn);
        // Validated at load: the hash parses.
        return [dn.key, { dn, hash: parseScryptHash(a.passwordHash)! }];
      }),
    );
    this.unknown = unmatchableHash(this.byKey.values().next().value?.hash);
  }

  /** The account `dn` names (by its canonical key), or an unknown one whose check always fails. */
  resolve(dn: Dn): LoginAccount {
    const account = this.byKey.get(dn.key);
    return {
      key: `account:${dn.key}`,
      verify: async (password) => {
        const right = await verifyPassword(account?.hash ?? this.unknown, password);
        if (!account || !right) throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
        return { kind: 'account', dn: account.dn };
      },
    };
  }
}
