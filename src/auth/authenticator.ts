import { setTimeout as sleep } from 'node:timers/promises';
import type { SecurityConfig } from '../config/auth-schema.js';
import type { Authenticator, BindCredentials, Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { BindThrottle } from './bind-throttle.js';
import type { ForestLogins } from './forest-logins.js';
import type { LocalAccounts } from './local-accounts.js';
import { parseLoginName, throttleKey } from './login-name.js';

/**
 * Canopy's simple binds: the TLS requirement, throttling of failures, then local accounts by DN
 * and forest logins (virtual DN, UPN, down-level or bare name). Every credential failure reaches
 * the client as the same invalidCredentials, so it cannot tell an unknown user from a wrong
 * password; outages keep their own codes.
 */
export class CanopyAuthenticator implements Authenticator {
  private readonly throttle: BindThrottle;

  constructor(
    private readonly security: SecurityConfig,
    private readonly accounts: LocalAccounts,
    private readonly forests: ForestLogins,
    private readonly logger: Logger,
    now?: () => number,
  ) {
    this.throttle = new BindThrottle(security.throttle, now);
  }

  async authenticate(request: BindCredentials): Promise<Identity> {
    if (this.security.requireTlsForBind && !request.secure) {
      throw new LdapError(ResultCode[this.security.tlsRequiredResult], 'simple binds require TLS (LDAPS or StartTLS)');
    }
    const login = parseLoginName(request.name);
    const key = throttleKey(login);
    const wait = this.throttle.blockedFor(request.peer, key);
    if (wait > 0) {
      metrics.bindsThrottled.inc();
      throw new LdapError(ResultCode.invalidCredentials, `too many failed binds for this name or from this address: try again in ${wait} s`);
    }
    const ctx = { signal: request.signal, connectionId: request.connectionId, boundDn: '', ...(request.session && { session: request.session }) };
    try {
      const identity =
        login.kind === 'dn' && this.accounts.has(login.dn)
          ? await this.accounts.login(login.dn, request.password)
          : await this.forests.login(login, request.password, ctx);
      this.throttle.succeeded(key);
      return identity;
    } catch (err) {
      if (!(err instanceof LdapError) || err.code !== ResultCode.invalidCredentials) throw err;
      const delay = this.throttle.failed(request.peer, key);
      if (this.throttle.blockedFor(request.peer, key) > 0) {
        this.logger.warn({ peer: request.peer, login: request.name }, 'failed binds throttled: further binds refused until the window passes');
      }
      if (delay > 0) await sleep(delay, undefined, { signal: request.signal });
      // The upstream's diagnostic text can tell an unknown user from a wrong password (AD's data 525 / 52e).
      throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
    }
  }
}
