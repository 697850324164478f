/**
 * Local accounts' passwords are checked by scrypt on libuv's small thread pool (an unknown DN by a
 * dummy hash, so that it costs what a wrong password costs): one client address checks one at a
 * time, so a flood of binds with fresh names from one address cannot hold the pool while other
 * clients' logins wait behind it.
 */
import { describe, expect, it } from 'vitest';
import { CanopyAuthenticator } from '../../src/auth/authenticator.js';
import { ForestLogins } from '../../src/auth/forest-logins.js';
import { LocalAccounts } from '../../src/auth/local-accounts.js';
import { securitySchema } from '../../src/config/auth-schema.js';
import type { Dn } from '../../src/core/dn.js';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { createLogger } from '../../src/observability/logger.js';
import type { LoginAccount } from '../../src/auth/login-name.js';

const SERVICE = 'cn=sync,ou=accounts,dc=corp,dc=example';
const PASSWORD = 'Sync-Passw0rd!';

describe('local accounts: password checks per client address', () => {
  it('one address checks one password at a time; another address is checked meanwhile', async () => {
    // Counts the checks under way per address (told by the name: the flood's names are cn=nobodyN).
    let flooding = 0;
    let most = 0;
    class CountingAccounts extends LocalAccounts {
      override resolve(dn: Dn): LoginAccount {
        const account = super.resolve(dn);
        const flood = dn.text.startsWith('cn=nobody');
        return {
          ...account,
          verify: async (password) => {
            if (flood) most = Math.max(most, ++flooding);
            try {
              return await account.verify(password);
            } finally {
              if (flood) flooding--;
            }
          },
        };
      }
    }
    const logger = createLogger('silent');
    const accounts = new CountingAccounts([{ dn: SERVICE, passwordHash: await hashPassword(PASSWORD) }]);
    const auth = new CanopyAuthenticator(securitySchema.parse({ throttle: { delayMs: 0 } }), accounts, new ForestLogins([], logger), logger);
    const bind = (name: string, password: string, peer: string) =>
      auth.authenticate({ name, password: Buffer.from(password), peer, secure: false, signal: new AbortController().signal, connectionId: 1 });
    const order: string[] = [];
    const flood = Array.from({ length: 8 }, (_, i) =>
      bind(`cn=nobody${i},ou=accounts,dc=corp,dc=example`, 'wrong', '127.0.0.1').then(
        () => order.push('flood: accepted'),
        () => order.push('flood'),
      ),
    );
    const login = bind(SERVICE, PASSWORD, '127.0.0.2').then(() => order.push('login'));
    await Promise.all([...flood, login]);
    expect(most).toBe(1);
    expect(order.filter((o) => o === 'flood')).toHaveLength(8);
    // The other address's login did not wait for the flood's eight checks in a row.
    expect(order.indexOf('login')).toBeLessThan(4);
  });
});
