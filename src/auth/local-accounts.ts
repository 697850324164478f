import type { AccountConfig } from '../config/auth-schema.js';
import { Dn } from '../core/dn.js';
import type { Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { parseScryptHash, verifyPassword } from './scrypt-hash.js';

/** Canopy's own principals (an application's service account), checked against scrypt hashes. */
export class LocalAccounts {
  private readonly byKey: ReadonlyMap<string, { dn: Dn; hash: NonNullable<ReturnType<typeof parseScryptHash>> }>;

  constructor(accounts: readonly AccountConfig[]) {
    this.byKey = new Map(
      accounts.map((a) => {
        const dn = Dn.parse(a.dn);
        // Validated at load: the hash parses.
        return [dn.key, { dn, hash: parseScryptHash(a.passwordHash)! }];
      }),
    );
  }

  has(dn: Dn): boolean {
    return this.byKey.has(dn.key);
  }

  async login(dn: Dn, password: Buffer): Promise<Identity> {
    const account = this.byKey.get(dn.key);
    if (!account || !(await verifyPassword(account.hash, password))) {
      throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
    }
    return { kind: 'account', dn: account.dn };
  }
}
