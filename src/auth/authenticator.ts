import { setTimeout as sleep } from 'node:timers/promises';
import type { SecurityConfig } from '../config/auth-schema.js';
import type { OperationContext } from '../core/directory.js';
import { AdLogonReason, adLogonMessage, adLogonReasonOf } from '../core/ad-logon.js';
import type { Dn } from '../core/dn.js';
import { KeyedSlots } from '../core/keyed-quota.js';
import type { Authenticator, BindCredentials, CertificateCredentials, Identity, PasswordProof } from '../core/identity.js';
import { LdapError, loggedMessage } from '../core/ldap-error.js';
import { PolicyError, type PolicyNotes } from '../core/password-policy.js';
import type { SessionResources } from '../core/session-resources.js';
import { ResultCode } from '../core/result-codes.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { bindRefusal } from './bind-diagnostics.js';
import { bindFailureReason } from './bind-failure-reason.js';
import { BindThrottle, type Throttle } from './bind-throttle.js';
import type { ForestLogins } from './forest-logins.js';
import type { LocalAccounts } from './local-accounts.js';
import { parseLoginName, spellingKey, type LoginAccount, type LoginName } from './login-name.js';
import { SubjectMapping } from './subject-mapping.js';

/**
 * Canopy's simple binds: the TLS requirement, then the account the name resolves to (a local
 * account by DN, or a forest entry by virtual DN, UPN, down-level or bare name), the throttle's
 * permission to check it, and the check. Every credential failure, a throttled bind's included,
 * reaches the client as the same invalidCredentials after the same delay, so it cannot tell an
 * unknown user from a wrong password (an account's state, locked or expired, only as
 * `security.bindDiagnostics` allows); outages keep their
 * own codes, with a message that names no server (the log has the details). The old password of
 * a password change, and the account a SASL EXTERNAL certificate maps to, go through the same
 * check and throttle.
 */
export class CanopyAuthenticator implements Authenticator {
  private readonly throttle: Throttle;
  /**
   * A local account's password is checked by scrypt on a thread of libuv's small pool (an unknown
   * DN by a dummy hash, so that it takes as long): one check at a time per client address, so one
   * address binding fresh names in a flood cannot hold every thread while other clients wait.
   */
  private readonly localChecks = new KeyedSlots<string>(1);

  constructor(
    private readonly security: SecurityConfig,
    private readonly accounts: LocalAccounts,
    private readonly forests: ForestLogins,
    private readonly logger: Logger,
    private readonly subjects: SubjectMapping = new SubjectMapping([]),
    now?: () => number,
    /** The workers' shared throttle (serve.workers), instead of one of this authenticator's own. */
    throttle?: Throttle,
  ) {
    this.throttle = throttle ?? new BindThrottle(security.throttle, now);
  }

  async authenticate(request: BindCredentials): Promise<Identity> {
    return identityOf(await this.checkPassword(request, false));
  }

  provePassword(request: BindCredentials): Promise<PasswordProof> {
    return this.checkPassword(request, true);
  }

  /**
   * A password login's check. For a password change (`forChange`), a right password the forest
   * refuses only because it must change (AD's 773 and 532: AD lets such a password be changed)
   * proves it too, and is no failed login.
   */
  private async checkPassword(request: BindCredentials, forChange: boolean): Promise<PasswordProof> {
    if (this.security.requireTlsForBind && !request.secure) {
      metrics.bindsFailed.inc({ forest: '', reason: 'tls_required' });
      throw new LdapError(ResultCode[this.security.tlsRequiredResult], 'simple binds require TLS (LDAPS or StartTLS)');
    }
    return this.check(parseLoginName(request.name), request, request.name, {
      prove: (account) => account.verify(request.password),
      refusal: (err, account) => bindRefusal(err, account.diagnostics, request.policy),
      forChange,
    });
  }

  /**
   * SASL EXTERNAL: the certificate's subject maps to a DN (tls.subjectMapping), which must name a
   * local account or an entry that may log in, checked and throttled as the same account's simple
   * binds are. The certificate holder is authenticated already, so refusals say what went wrong.
   */
  async authenticateCertificate(request: CertificateCredentials): Promise<Identity> {
    let dn: Dn;
    try {
      dn = this.subjects.map(request.subject);
    } catch (err) {
      metrics.bindsFailed.inc({ forest: '', reason: 'unknown_user' });
      throw err;
    }
    const mapped = `the certificate subject "${request.subject}" maps to "${dn.text}"`;
    const proof = await this.check({ kind: 'dn', dn }, request, request.subject, {
      prove: async (account) => {
        if (!account.accept) throw new LdapError(ResultCode.invalidCredentials, adLogonMessage(AdLogonReason.noSuchUser));
        const identity = await account.accept();
        const own = identity.kind === 'anonymous' ? undefined : identity.dn;
        // Valid certificate, but not for the identity asserted: counted as not_permitted (as AD's
        // "not from this workstation"), and told apart from unknown accounts by refusal below.
        if (request.authorization && !(own && request.authorization.equals(own))) {
          throw new LdapError(ResultCode.invalidCredentials, adLogonMessage(AdLogonReason.workstation));
        }
        return identity;
      },
      refusal: (err) =>
        new LdapError(
          ResultCode.invalidCredentials,
          bindFailureReason(err) === 'not_permitted'
            ? `SASL EXTERNAL: ${mapped}, which may not act as "${request.authorization?.text}"`
            : `SASL EXTERNAL: ${mapped}, which is no account that may log in`,
        ),
    });
    return identityOf(proof);
  }

  /**
   * The account `login` names, the throttle's permission to check it, and the check (`prove`).
   * Credential failures are counted (metric, throttle), delayed as the throttle says, and answered
   * with `refusal`; a bind the throttle refuses unchecked is delayed and answered as a wrong
   * password (only the log and the metric say it was throttled: the refusal happens only to names
   * that resolved to an account); outages keep their own codes. With `forChange`, a forest's
   * refusal that a password change ends (`changeFixes`) proves the old password: `mustChange`.
   */
  private async check(
    login: LoginName,
    request: { readonly peer: string; readonly signal: AbortSignal; readonly connectionId: number; readonly session?: SessionResources; readonly policy?: PolicyNotes },
    name: string,
    how: { prove(account: LoginAccount): Promise<Identity>; refusal(err: unknown, account: LoginAccount): LdapError; readonly forChange?: boolean },
  ): Promise<PasswordProof> {
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
      throw this.outage(err, name, '');
    }
    const forest = account.forest ?? '';
    const { granted: attempt, refused } = await this.throttle.attempt(request.peer, { account: account.key, spelling: spellingKey(login) }, request.signal);
    if (refused) {
      metrics.bindsThrottled.inc();
      metrics.bindsFailed.inc({ forest, reason: 'throttled' });
      this.logger.info({ peer: request.peer, login: name, retryInSeconds: refused.retryInSeconds }, 'bind refused unchecked: too many failed binds');
      if (refused.delayMs > 0) await sleep(refused.delayMs, undefined, { signal: request.signal });
      throw how.refusal(WRONG_PASSWORD, account);
    }
    let identity: Identity;
    try {
      identity = account.forest === undefined ? await this.checkedLocally(request, () => how.prove(account)) : await how.prove(account);
    } catch (err) {
      const failed = (err instanceof LdapError && err.code === ResultCode.invalidCredentials) || request.signal.aborted;
      if (!failed) {
        attempt.undecided();
        throw this.outage(err, name, forest);
      }
      if (how.forChange && account.forest !== undefined && !request.signal.aborted && changeFixes(err)) {
        attempt.succeeded();
        return { kind: 'mustChange' };
      }
      metrics.bindsFailed.inc({ forest, reason: request.signal.aborted ? 'abandoned' : bindFailureReason(err) });
      // A check given up half way may have reached the directory: it counts.
      const { delayMs, limitReached } = await attempt.failed();
      if (limitReached) this.logger.warn({ peer: request.peer, login: name }, 'failed binds throttled: further binds refused until the window passes');
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: request.signal });
      throw how.refusal(err, account);
    }
    attempt.succeeded();
    if (identity.kind === 'user' && policy.state?.error === PolicyError.changeAfterReset) identity = { ...identity, mustChangePassword: true };
    return { kind: 'login', identity };
  }

  /** `prove` for a local account, in its client address's turn (see localChecks). */
  private async checkedLocally<T>(request: { readonly peer: string; readonly signal: AbortSignal }, prove: () => Promise<T>): Promise<T> {
    const turn = this.localChecks.take(request.peer, request.signal);
    if (turn) await turn;
    try {
      return await prove();
    } finally {
      this.localChecks.give(request.peer);
    }
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
    this.logger.warn({ login, code: err.code, err: loggedMessage(err) }, 'bind could not be checked');
    const message = err.code === ResultCode.busy ? 'the directory is busy: try again' : 'the login could not be checked now: try again later';
    return new LdapError(err.code, message);
  }
}

/** What a throttled bind is answered as: a wrong password (AD's 52e, which no diagnostics disclose). */
const WRONG_PASSWORD = new LdapError(ResultCode.invalidCredentials, adLogonMessage(AdLogonReason.wrongPassword));

/** The identity a login proved; `check` returns mustChange only for a password change. */
function identityOf(proof: PasswordProof): Identity {
  if (proof.kind !== 'login') throw new Error('a login was proven without an identity');
  return proof.identity;
}

/** A refusal of a right password that a password change ends: AD's "must change" (773) and "expired" (532). */
function changeFixes(err: unknown): boolean {
  const reason = err instanceof LdapError ? adLogonReasonOf(err.message) : undefined;
  return reason === AdLogonReason.mustChangePassword || reason === AdLogonReason.passwordExpired;
}
