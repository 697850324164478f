import { setTimeout as sleep } from 'node:timers/promises';
import type { SecurityConfig } from '../config/auth-schema.js';
import type { OperationContext } from '../core/directory.js';
import { AdLogonReason, adLogonReasonOf } from '../core/ad-logon.js';
import type { Authenticator, BindCredentials, Identity, PasswordProof } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { PolicyError, type PolicyNotes } from '../core/password-policy.js';
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
    const proof = await this.check(request, false);
    if (proof.kind !== 'login') throw new Error('a login was proven without an identity'); // check() returns mustChange only when asked to
    return proof.identity;
  }

  provePassword(request: BindCredentials): Promise<PasswordProof> {
    return this.check(request, true);
  }

  /**
   * The login's check. For a password change (`forChange`), a right password the forest refuses
   * only because it must change (AD's 773 and 532: AD lets such a password be changed) proves it
   * too, and is no failed login.
   */
  private async check(request: BindCredentials, forChange: boolean): Promise<PasswordProof> {
    if (this.security.requireTlsForBind && !request.secure) {
      metrics.bindsFailed.inc({ forest: '', reason: 'tls_required' });
      throw new LdapError(ResultCode[this.security.tlsRequiredResult], 'simple binds require TLS (LDAPS or StartTLS)');
    }
    const login = parseLoginName(request.name);
    // The forest notes the account's policy state even for a client that did not ask: a reset
    // password restricts the session (mustChangePassword).
    const policy: PolicyNotes = request.policy ?? {};
    const ctx = {
      signal: request.signal,
      connectionId: request.connectionId,
      boundDn: '',
      ...(request.session && { session: request.session }),
      policy,
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
      if (forChange && account.forest !== undefined && !request.signal.aborted && changeFixes(err)) {
        attempt.succeeded();
        return { kind: 'mustChange' };
      }
      metrics.bindsFailed.inc({ forest, reason: request.signal.aborted ? 'abandoned' : bindFailureReason(err) });
      // A check given up half way may have reached the directory: it counts.
      const { delayMs, limitReached } = attempt.failed();
      if (limitReached) this.logger.warn({ peer: request.peer, login: request.name }, 'failed binds throttled: further binds refused until the window passes');
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: request.signal });
      throw bindRefusal(err, account.diagnostics, request.policy);
    }
    attempt.succeeded();
    if (identity.kind === 'user' && policy.state?.error === PolicyError.changeAfterReset) identity = { ...identity, mustChangePassword: true };
    return { kind: 'login', identity };
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

/** A refusal of a right password that a password change ends: AD's "must change" (773) and "expired" (532). */
function changeFixes(err: unknown): boolean {
  const reason = err instanceof LdapError ? adLogonReasonOf(err.message) : undefined;
  return reason === AdLogonReason.mustChangePassword || reason === AdLogonReason.passwordExpired;
}
