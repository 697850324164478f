import { setTimeout as sleep } from 'node:timers/promises';
import type { SecurityConfig } from '../config/auth-schema.js';
import type { OperationContext } from '../core/directory.js';
import type { Authenticator, BindCredentials, Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { bindRefusal } from './bind-diagnostics.js';
import { bindFailureReason } from './bind-failure-reason.js';
import { BindThrottle, type BindAttempt } from './bind-throttle.js';
import type { ForestLogins } from './forest-logins.js';
import type { LocalAccounts } from './local-accounts.js';
import { parseLoginName, type LoginAccount, type LoginName } from './login-name.js';

/**
 * Canopy's simple binds: the TLS requirement, then the account the name resolves to (a local
 * account by DN, or a forest entry by virtual DN, UPN, down-level or bare name), the throttle's
 * permission to check it, and the check. Every credential failure reaches the client as the same
 * invalidCredentials, so it cannot tell an unknown user from a wrong password (an account's state,
 * locked or expired, only as `security.bindDiagnostics` allows); outages keep their
 * own codes, with a message that names no server (the log has the details).
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
      metrics.bindsFailed.inc({ forest: '', reason: 'tls_required' });
      throw new LdapError(ResultCode[this.security.tlsRequiredResult], 'simple binds require TLS (LDAPS or StartTLS)');
    }
    const login = parseLoginName(request.name);
    const ctx = {
      signal: request.signal,
      connectionId: request.connectionId,
      boundDn: '',
      ...(request.session && { session: request.session }),
      ...(request.policy && { policy: request.policy }),
    };
    let account: LoginAccount;
    try {
      account = await this.resolve(login, ctx);
    } catch (err) {
      throw this.outage(err, request.name, '');
    }
    const forest = account.forest ?? '';
    let attempt: BindAttempt;
    try {
      attempt = await this.throttle.attempt(request.peer, account.key, request.signal);
    } catch (err) {
      if (err instanceof LdapError) {
        metrics.bindsThrottled.inc();
        metrics.bindsFailed.inc({ forest, reason: 'throttled' });
      }
      throw err;
    }
    let identity: Identity;
    try {
      identity = await account.verify(request.password);
    } catch (err) {
      const failed = (err instanceof LdapError && err.code === ResultCode.invalidCredentials) || request.signal.aborted;
      if (!failed) {
        attempt.undecided();
        throw this.outage(err, request.name, forest);
      }
      metrics.bindsFailed.inc({ forest, reason: request.signal.aborted ? 'abandoned' : bindFailureReason(err) });
      // A check given up half way may have reached the directory: it counts.
      const { delayMs, limitReached } = attempt.failed();
      if (limitReached) this.logger.warn({ peer: request.peer, login: request.name }, 'failed binds throttled: further binds refused until the window passes');
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: request.signal });
      throw bindRefusal(err, account.diagnostics, request.policy);
    }
    attempt.succeeded();
    return identity;
  }

  /**
   * A local account's DN is its own, even inside a forest (the mock's administrator is the suite's
   * root DN, as on slapd); other DNs in a forest are its entries; any other DN can only be a local account.
   */
  private resolve(login: LoginName, ctx: OperationContext): Promise<LoginAccount> {
    if (login.kind === 'dn' && (this.accounts.has(login.dn) || !this.forests.serves(login.dn))) return Promise.resolve(this.accounts.resolve(login.dn));
    return this.forests.resolve(login, ctx);
  }

  /**
   * What a client learns when its login could not be checked: the code (unavailable, busy, …)
   * without the upstream's URL or socket error, which go to the log.
   */
  private outage(err: unknown, login: string, forest: string): unknown {
    if (!(err instanceof LdapError)) return err;
    metrics.bindsFailed.inc({ forest, reason: 'unavailable' });
    this.logger.warn({ login, code: err.code, err: err.message }, 'bind could not be checked');
    const message = err.code === ResultCode.busy ? 'the directory is busy: try again' : 'the login could not be checked now: try again later';
    return new LdapError(err.code, message);
  }
}
