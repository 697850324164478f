import { Attribute, Change, ResultCodeError } from 'ldapts';
import type { LdapForestConfig } from '../../config/schema.js';
import {
  noteReferences,
  type Directory,
  type Modification,
  type ModifyDnRequest,
  type OperationContext,
  type PasswordModifyRequest,
  type SearchRequest,
} from '../../core/directory.js';
import { Dn } from '../../core/dn.js';
import type { AttributeValue, Entry } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import type { ForestReadiness } from '../../core/readiness.js';
import { ResultCode } from '../../core/result-codes.js';
import type { Logger } from '../../observability/logger.js';
import { metrics } from '../../observability/metrics.js';
import { ConnectionPool } from './connection-pool.js';
import { BinaryAttributes } from './entry-from-ber.js';
import { describeFailure, isServerFailure, upstreamError } from './errors.js';
import { toLdaptsFilter } from './filter-to-ldapts.js';
import {
  isUnicodePwd,
  passwordMethod,
  passwordModifyValue,
  PASSWORD_MODIFY_OID,
  unicodePwdChanges,
  type PasswordMethod,
} from './password-change.js';
import { CachedProbe } from './readiness.js';
import { RecoveryProbe } from './recovery-probe.js';
import { DEFAULT_BACKOFF, ServerSelector, type BackoffOptions } from './server-selector.js';
import { ServiceCredentials } from './service-credentials.js';
import { serverTls } from './tls-options.js';
import { ConnectionLost, PagedSearch, UpstreamConnection, type ConnectOptions, type PagedSearchOptions } from './upstream-connection.js';
import { UpstreamPages } from './upstream-pages.js';
import { UserConnection } from './user-connection.js';

/** Longest a readiness or recovery probe waits for a server to connect, bind (and read the base). */
const PROBE_TIMEOUT_MS = 2000;
/** How long a readiness answer is reused: scrapes and probes never hammer the servers. */
const PROBE_CACHE_MS = 2000;

/** Knobs that are not configuration: tests shorten the backoff. */
export interface LdapForestOptions {
  readonly backoff?: BackoffOptions;
}

/** Opens (lazily: no connection until the first request) a forest served by real LDAP servers. */
export function openLdapForest(config: LdapForestConfig, logger: Logger, options: LdapForestOptions = {}): LdapDirectory {
  return new LdapDirectory(config, logger, options);
}

/**
 * A forest reached over LDAP with ldapts. Reads and writes use pooled connections bound as the
 * service account; user binds use a connection of their own. Every search pages upstream and
 * streams page by page on one connection.
 */
export class LdapDirectory implements Directory {
  private readonly base: Dn;
  private readonly servers: readonly ConnectOptions[];
  private readonly selector: ServerSelector;
  private readonly pool: ConnectionPool;
  private readonly binaryAttributes: BinaryAttributes;
  /** Per server: operations sent to it. */
  private readonly requests: readonly { inc(): void }[];
  private readonly readiness = new CachedProbe(() => this.probe(), PROBE_CACHE_MS);
  private readonly credentials: ServiceCredentials;
  private readonly recovery: RecoveryProbe;
  /** How the forest takes password changes, once a server's root DSE told. */
  private passwordChange: PasswordMethod | undefined;
  /** Users' own connections held in client sessions: closed with the forest (a reload that replaces it, shutdown). */
  private readonly userConnections = new Set<UserConnection>();

  constructor(
    private readonly config: LdapForestConfig,
    private readonly logger: Logger,
    options: LdapForestOptions = {},
  ) {
    this.base = Dn.parse(config.base);
    this.servers = config.servers.map((url) => ({
      url,
      tls: serverTls(config.tls, url),
      connectMs: config.timeouts.connectMs,
      operationMs: config.timeouts.operationMs,
    }));
    this.selector = new ServerSelector(config.name, config.servers, logger, options.backoff ?? DEFAULT_BACKOFF);
    this.credentials = new ServiceCredentials(config.name, config.bind, logger, (refused) => this.selector.setServiceRefused(refused));
    this.recovery = new RecoveryProbe(this.selector, (i) => this.checkServer(i));
    this.pool = new ConnectionPool(this.selector, (i) => this.openService(i), {
      ...config.pool,
      waitMs: config.timeouts.operationMs,
      inUse: metrics.upstreamPoolInUse.labels(config.name),
    });
    this.requests = config.servers.map((url) => metrics.upstreamRequests.labels(config.name, url));
    this.binaryAttributes = new BinaryAttributes(config.binaryAttributes);
    if (!config.tls.rejectUnauthorized) {
      logger.warn({ forest: config.name }, 'upstream TLS certificates are not verified (tls.rejectUnauthorized: false)');
    }
    const plain = this.servers.filter((s) => s.tls.mode === 'none').map((s) => s.url);
    if (plain.length > 0 && (config.tls.ca !== undefined || config.tls.servername !== undefined)) {
      logger.warn({ forest: config.name, servers: plain }, 'tls settings do not apply to ldap:// servers without startTls');
    }
  }

  namingContexts(): readonly Dn[] {
    return [this.base];
  }

  /** Pool occupancy, for tests and metrics. */
  poolStats(): { open: number; busy: number; idleServers: string[] } {
    const stats = this.pool.stats();
    return { open: stats.open, busy: stats.busy, idleServers: stats.idleServers.map((i) => this.selector.url(i)) };
  }

  async *search(request: SearchRequest, ctx: OperationContext): AsyncGenerator<Entry> {
    const { signal } = ctx;
    signal.throwIfAborted();
    const options: PagedSearchOptions = {
      scope: request.scope,
      filter: toLdaptsFilter(request.filter),
      attributes: [...request.attributes],
      timeLimit: request.timeLimit,
      pageSize: this.config.pageSize,
    };
    let delivered = false;
    for (let attempt = 1; ; attempt++) {
      const connection = await this.pool.acquire(signal);
      this.requests[connection.serverIndex].inc();
      const pages = new UpstreamPages(connection, new PagedSearch(request.base.text, options, this.binaryAttributes), signal);
      try {
        for (let page = await pages.next(); page; page = await pages.next()) {
          this.forwardReferences(connection.takeReferences(), ctx);
          // Half-way through a page, the next one is asked for (at most one page ahead).
          const half = page.length >> 1;
          for (let i = 0; i < page.length; i++) {
            if (i === half) pages.readAhead();
            const entry = page[i];
            if (entry instanceof LdapError) throw entry;
            delivered = true;
            yield entry;
          }
        }
        this.forwardReferences(connection.takeReferences(), ctx);
        return;
      } catch (err) {
        signal.throwIfAborted();
        if (!isServerFailure(err)) {
          const error = upstreamError(err, connection.lastResult);
          if (error.code !== ResultCode.referral) throw error;
          this.referralResult(error, connection.lastResult?.referral, ctx);
          return;
        }
        // A pooled connection found closed before sending says nothing about the server.
        if (!(err instanceof ConnectionLost)) this.selector.markDown(connection.serverIndex, err);
        // Paging state lives on the failed connection: after entries went out, resuming
        // elsewhere would repeat or drop entries, so the search fails instead.
        if (delivered || attempt > 1) {
          const when = delivered ? 'after entries were sent' : 'on the retry';
          throw new LdapError(
            ResultCode.unavailable,
            `forest "${this.config.name}": ${this.selector.url(connection.serverIndex)} failed during the search ${when} (${describeFailure(err)})`,
          );
        }
      } finally {
        connection.takeReferences(); // a failed search's must not reach the next one on this connection
        // A connection goes back to the pool only if no page request is outstanding on it.
        this.pool.release(connection, !pages.outstanding);
      }
    }
  }

  bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    return this.bindName(dn.text, password, ctx);
  }

  /** A bind with any name the server accepts (Active Directory takes a UPN), on a connection of its own. */
  async bindName(name: string, password: Buffer, ctx: OperationContext): Promise<void> {
    // RFC 4513 §5.1.2: a name with an empty password is an unauthenticated bind; never forward it.
    if (password.length === 0) throw new LdapError(ResultCode.invalidCredentials, 'empty password: unauthenticated bind refused');
    ctx.signal.throwIfAborted();
    const credentials = { dn: name, password: password.toString('utf8') };
    const { value: connection } = await this.selector.firstReachable((i) => {
      this.requests[i].inc();
      return UpstreamConnection.open(this.servers[i], i, credentials);
    });
    // A client's login keeps its authenticated connection for the session: its writes go there.
    if (ctx.session && !ctx.signal.aborted) {
      const held = new UserConnection(connection, () => this.userConnections.delete(held));
      this.userConnections.add(held);
      ctx.session.hold(this, held);
    } else {
      connection.close();
    }
  }

  add(entry: Entry, ctx: OperationContext): Promise<void> {
    const attributes = Array.from(entry.attributes(), (a) => ldaptsAttribute(a.name, a.values));
    const password = attributes.some((a) => isUnicodePwd(a.type));
    return this.write('add', ctx, (c) => {
      if (password) this.requireEncrypted(c);
      return c.client.add(entry.dn.text, attributes);
    });
  }

  modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    const ldaptsChanges = changes.map(
      (m) => new Change({ operation: m.operation, modification: ldaptsAttribute(m.attribute.name, m.attribute.values) }),
    );
    const password = changes.some((m) => isUnicodePwd(m.attribute.name));
    return this.write('modify', ctx, (c) => {
      if (password) this.requireEncrypted(c);
      return c.client.modify(dn.text, ldaptsChanges);
    });
  }

  delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.write('delete', ctx, (c) => c.client.del(dn.text));
  }

  modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    return this.write('modifyDN', ctx, (c) =>
      c.modifyDn(request.dn.text, request.newRdn, request.deleteOldRdn, request.newSuperior?.text),
    );
  }

  compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.read('compare', ctx, (c) => c.compare(dn.text, attribute, bytes));
  }

  /**
   * RFC 3062 where the server offers it; Active Directory, which does not, gets a modify of
   * unicodePwd (over an encrypted connection only); other servers refuse.
   */
  passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    return this.write('password modify', ctx, async (c) => {
      const method = await this.passwordMethod(c);
      if (method === 'exop') {
        await c.client.exop(PASSWORD_MODIFY_OID, passwordModifyValue(request));
      } else if (method === 'unicodePwd') {
        this.requireEncrypted(c);
        await c.client.modify(request.user.text, unicodePwdChanges(ctx.asUser ? request.oldPassword : undefined, request.newPassword));
      } else {
        throw new LdapError(ResultCode.unwillingToPerform, `forest "${this.config.name}" supports no password change (RFC 3062 or unicodePwd)`);
      }
    });
  }

  /** How the forest takes password changes, read from a server's root DSE once. */
  private async passwordMethod(c: UpstreamConnection): Promise<PasswordMethod> {
    try {
      this.passwordChange ??= await passwordMethod(c.client);
      return this.passwordChange;
    } catch (err) {
      // Nothing was changed yet: a failure here is an outage, never an unknown outcome.
      throw new LdapError(ResultCode.unavailable, `forest "${this.config.name}": reading the root DSE of ${this.selector.url(c.serverIndex)} failed (${describeFailure(err)})`);
    }
  }

  /** Passwords in unicodePwd cross the network only encrypted (Active Directory insists too). */
  private requireEncrypted(c: UpstreamConnection): void {
    if (this.servers[c.serverIndex].tls.mode !== 'none') return;
    throw new LdapError(
      ResultCode.unwillingToPerform,
      `forest "${this.config.name}": unicodePwd is written only over an encrypted upstream connection (ldaps:// or tls.startTls), and ${this.selector.url(c.serverIndex)} is not one`,
    );
  }

  /**
   * Whether a server of the forest answers (readiness): the first server the selector offers must
   * take the service bind and read the base within a short timeout. Probes go through the
   * selector, so a dead server is marked down (and a recovered one up) even while no client asks.
   */
  ready(): Promise<ForestReadiness> {
    return this.readiness.get();
  }

  /** Why the forest's service account is refused (and not bound with), if it is: for `canopy doctor`. */
  serviceAccountRefused(): string | undefined {
    return this.credentials.refused?.message;
  }

  /** A reload that keeps this forest: a refused service account is tried once more. */
  retryServiceAccount(): void {
    this.credentials.retry();
  }

  async close(): Promise<void> {
    this.recovery.close();
    this.credentials.close();
    for (const held of [...this.userConnections]) held.close();
    await this.pool.close();
  }

  /**
   * Runs one write on a pooled service connection, or on the user's own when it writes as itself.
   * It is sent once: a connection that fails after sending leaves the outcome unknown, and
   * retrying elsewhere could apply it twice.
   */
  private write<T>(what: string, ctx: OperationContext, send: (c: UpstreamConnection) => Promise<T>): Promise<T> {
    if (ctx.asUser) return this.writeAsUser(what, ctx, send);
    return this.onPool(ctx, send, (err, connection, attempt) => {
      if (err instanceof ConnectionLost && attempt === 1) return 'retry'; // never sent: safe to send once more
      this.selector.markDown(connection.serverIndex, err);
      // busy/unavailable are answers: the server did nothing, and the client hears its code.
      if (err instanceof ResultCodeError) return upstreamError(err, connection.lastResult);
      return this.unknownOutcome(what, connection, err);
    });
  }

  /**
   * A read other than a search (compare) on a pooled service connection: like a search, it is
   * retried once on the next server when its server fails, since sending it again changes nothing.
   */
  private read<T>(what: string, ctx: OperationContext, send: (c: UpstreamConnection) => Promise<T>): Promise<T> {
    return this.onPool(ctx, send, (err, connection, attempt) => {
      if (!(err instanceof ConnectionLost)) this.selector.markDown(connection.serverIndex, err);
      if (attempt === 1) return 'retry';
      if (err instanceof ResultCodeError) return upstreamError(err, connection.lastResult);
      return new LdapError(
        ResultCode.unavailable,
        `forest "${this.config.name}": ${what} failed on ${this.selector.url(connection.serverIndex)} after a retry (${describeFailure(err)})`,
      );
    });
  }

  /**
   * One operation on a pooled service connection. A server failure (the connection lost, busy,
   * unavailable) is handed to `failed`, which says whether to try again on a fresh connection or
   * what the client gets; any other error is the upstream's answer.
   */
  private async onPool<T>(
    ctx: OperationContext,
    send: (c: UpstreamConnection) => Promise<T>,
    failed: (err: unknown, connection: UpstreamConnection, attempt: number) => 'retry' | LdapError,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const connection = await this.pool.acquire(ctx.signal);
      this.requests[connection.serverIndex].inc();
      let reusable = true;
      try {
        return await send(connection);
      } catch (err) {
        if (!isServerFailure(err)) throw upstreamError(err, connection.lastResult);
        reusable = false;
        const outcome = failed(err, connection, attempt);
        if (outcome !== 'retry') throw outcome;
      } finally {
        this.pool.release(connection, reusable);
      }
    }
  }

  /** A write on the connection the user's bind authenticated (held in its session). */
  private async writeAsUser<T>(what: string, ctx: OperationContext, send: (c: UpstreamConnection) => Promise<T>): Promise<T> {
    const held = ctx.session?.get<UserConnection>(this);
    const lost = (): LdapError =>
      new LdapError(ResultCode.unavailable, `forest "${this.config.name}": the upstream connection of this login was closed; bind again to write`);
    if (!held?.connection.connected) throw lost();
    return held.run(async (connection) => {
      ctx.signal.throwIfAborted();
      this.requests[connection.serverIndex].inc();
      try {
        return await send(connection);
      } catch (err) {
        if (!isServerFailure(err) || err instanceof ResultCodeError) throw upstreamError(err, connection.lastResult);
        if (err instanceof ConnectionLost) throw lost(); // never sent
        this.selector.markDown(connection.serverIndex, err);
        throw this.unknownOutcome(what, connection, err);
      }
    });
  }

  /**
   * A write whose connection failed after it was sent: the server may or may not have applied it.
   * `other`, not `unavailable`/`busy`, which tell a client that nothing was done.
   */
  private unknownOutcome(what: string, connection: UpstreamConnection, err: unknown): LdapError {
    return new LdapError(
      ResultCode.other,
      `forest "${this.config.name}": ${what} sent to ${this.selector.url(connection.serverIndex)} but the connection failed (${describeFailure(err)}); result unknown: the write may or may not have been applied`,
    );
  }

  private async probe(): Promise<void> {
    await this.selector.firstReachable(async (i) => {
      this.requests[i].inc();
      const connection = await this.openService(i, this.probeOptions(i));
      try {
        await connection.client.search(this.base.text, { scope: 'base', attributes: ['1.1'] });
      } catch (err) {
        throw isServerFailure(err) ? err : upstreamError(err, connection.lastResult);
      } finally {
        connection.close();
      }
    });
  }

  /**
   * The recovery probe of a server marked down: connect and bind. A refused service account is
   * never bound with again, so then an anonymous bind shows whether the server answers.
   */
  private async checkServer(index: number): Promise<void> {
    const server = this.probeOptions(index);
    const connection = this.credentials.refused ? await UpstreamConnection.open(server, index) : await this.openService(index, server);
    connection.close();
  }

  private probeOptions(index: number): ConnectOptions {
    const server = this.servers[index];
    return { ...server, connectMs: Math.min(server.connectMs, PROBE_TIMEOUT_MS), operationMs: Math.min(server.operationMs, PROBE_TIMEOUT_MS) };
  }

  /** A connection bound as the service account; unavailable (52), without a bind, while that account is refused. */
  private async openService(index: number, server: ConnectOptions = this.servers[index]): Promise<UpstreamConnection> {
    const credentials = this.credentials.current();
    try {
      return await UpstreamConnection.open(server, index, credentials);
    } catch (err) {
      // A refused service bind is the forest's configuration problem, not the client's credentials.
      if (err instanceof LdapError) throw this.credentials.bindFailed(credentials, this.servers[index].url, err);
      throw err;
    }
  }

  /** Continuation references are never chased: `pass` hands them on as the upstream sent them, `drop` discards them. */
  private forwardReferences(references: readonly string[][], ctx: OperationContext): void {
    if (references.length === 0) return;
    if (this.config.referrals === 'pass') noteReferences(ctx.notes, references);
    else this.logger.debug({ forest: this.config.name, references: references.length }, 'upstream continuation references dropped');
  }

  /**
   * A referral result (the search's base lies in a part of the tree the server refers elsewhere)
   * is never chased either. With `pass` the client gets it, with the upstream's URLs; with `drop`
   * the search ends as a success whose diagnostic message says what happened, never silently.
   */
  private referralResult(error: LdapError, urls: readonly string[] | undefined, ctx: OperationContext): void {
    if (this.config.referrals === 'pass' && urls) {
      if (ctx.notes) ctx.notes.referral = urls;
      throw error;
    }
    if (ctx.notes) (ctx.notes.remarks ??= []).push(`forest "${this.config.name}" answered with a referral; not followed`);
  }
}

function ldaptsAttribute(type: string, values: readonly AttributeValue[]): Attribute {
  // ldapts writes each value by its own type, so text and bytes may share one attribute.
  return new Attribute({ type, values: values as string[] });
}
