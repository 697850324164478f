import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { secretText } from '../../config/load.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode, resultName } from '../../core/result-codes.js';
import type { Logger } from '../../observability/logger.js';
import { metrics } from '../../observability/metrics.js';
import type { Credentials } from './upstream-connection.js';

/** How often a watched password file is looked at (a stat; it is read only when that changed). */
export const PASSWORD_FILE_POLL_MS = 1000;

/** A forest's `bind` as loaded: the password read, and the file it came from, if any. */
export interface ServiceBind {
  readonly dn: string;
  readonly password?: string;
  readonly passwordFile?: string;
}

/**
 * The credentials of a forest's service account, and whether the directory refused them. A
 * refused password is a configuration error, not an outage: binding with it again and again (for
 * every request and readiness probe) would lock the account out in Active Directory. So after one
 * refusal (invalidCredentials) no bind is tried with that password: it is logged at error once,
 * the `canopy_upstream_service_bind_refused` gauge is 1, and `current` throws unavailable (52)
 * naming the account and what to do. A reload (the operator may have fixed the account in the
 * directory) or a new password in `bind.passwordFile`, watched here, lifts the refusal.
 */
export class ServiceCredentials {
  private credentials: Credentials | undefined;
  private refusal: LdapError | undefined;
  private readonly refusedGauge: { set(value: number): void };
  private readonly onFileChange = (now: Stats, before: Stats): void => void this.fileChanged(now, before);

  constructor(
    private readonly forest: string,
    private readonly bind: ServiceBind | undefined,
    private readonly logger: Logger,
    /** Told when the refusal starts (true) and ends (false). */
    private readonly onRefused: (refused: boolean) => void = () => undefined,
  ) {
    this.credentials = bind && { dn: bind.dn, password: bind.password ?? '' };
    this.refusedGauge = metrics.upstreamServiceBindRefused.labels(forest);
    this.refusedGauge.set(0);
    if (bind?.passwordFile !== undefined) {
      watchFile(bind.passwordFile, { interval: PASSWORD_FILE_POLL_MS, persistent: false }, this.onFileChange);
    }
  }

  /** The credentials to bind with (undefined: anonymous). Throws unavailable while they are refused. */
  current(): Credentials | undefined {
    if (this.refusal) throw this.refusal;
    return this.credentials;
  }

  /** The refusal, while the service account's password is refused. */
  get refused(): LdapError | undefined {
    return this.refusal;
  }

  /**
   * What the client hears when the service bind with `used` to `server` failed with `err`. An
   * invalidCredentials refusal of the password still configured starts the refusal.
   */
  bindFailed(used: Credentials | undefined, server: string, err: LdapError): LdapError {
    if (err.code !== ResultCode.invalidCredentials || used === undefined || used !== this.credentials) {
      return new LdapError(ResultCode.unavailable, `forest "${this.forest}": its service account could not bind (${resultName(err.code)} (${err.code}))`, '', this.forest, `server ${server}: ${err.message}`);
    }
    if (!this.refusal) {
      const fix = this.bind?.passwordFile === undefined
        ? 'fix the password (bind.password, or the account in the directory), then reload the configuration'
        : `write the right password to ${this.bind.passwordFile} (taken within seconds, no reload needed), or fix the account in the directory and reload the configuration`;
      // Clients learn that the forest's own account is refused; the account, server and fix are for operators.
      this.refusal = new LdapError(
        ResultCode.unavailable,
        `forest "${this.forest}": its service account was refused; no further binds are tried with this password until an operator fixes it`,
        '',
        this.forest,
        `the service account ${used.dn} was refused by ${server} (${err.message}); no further binds are tried with this password, so that the account is not locked out: ${fix}`,
      );
      this.logger.error({ forest: this.forest, server, account: used.dn, reason: err.message }, 'service account refused: no further binds with this password');
      this.refusedGauge.set(1);
      this.onRefused(true);
    }
    return this.refusal;
  }

  /** Lifts a refusal: the next service bind is tried (once) with the password as it is now. */
  retry(): void {
    if (!this.refusal) return;
    this.refusal = undefined;
    this.refusedGauge.set(0);
    this.onRefused(false);
  }

  close(): void {
    if (this.bind?.passwordFile !== undefined) unwatchFile(this.bind.passwordFile, this.onFileChange);
  }

  private async fileChanged(now: Stats, before: Stats): Promise<void> {
    const file = this.bind?.passwordFile;
    if (file === undefined || !this.credentials || now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    let password: string;
    try {
      password = secretText(await readFile(file, 'utf8'));
    } catch (err) {
      this.logger.warn({ forest: this.forest, file, reason: (err as NodeJS.ErrnoException).code ?? 'error' }, 'service account password file unreadable; the password read before stays');
      return;
    }
    if (password === this.credentials.password) return;
    this.credentials = { dn: this.credentials.dn, password };
    this.logger.info({ forest: this.forest, file }, 'service account password file changed: the new password is used');
    this.retry();
  }
}
