import { Attribute, Change, PasswordPolicyControl, type Control } from 'ldapts';
import type { LdapForestConfig } from '../../config/schema.js';
import {
  holderOf,
  type Directory,
  type Modification,
  type ModifyDnRequest,
  type OperationContext,
  type PasswordModifyRequest,
  type SearchContext,
  type SearchRequest,
} from '../../core/directory.js';
import { Dn } from '../../core/dn.js';
import type { AttributeValue, Entry } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import type { PolicyError } from '../../core/password-policy.js';
import type { ForestReadiness } from '../../core/readiness.js';
import { ResultCode } from '../../core/result-codes.js';
import type { Logger } from '../../observability/logger.js';
import { metrics } from '../../observability/metrics.js';
import { KeyedQuota, KeyedSlots } from '../../core/keyed-quota.js';
import { ConnectionPool } from './connection-pool.js';
import { BinaryAttributes } from './entry-from-ber.js';
import { clientReason, ConnectionLost, describeFailure, isServerFailure, OperationTimeout, upstreamError, UpstreamRefusal } from './errors.js';
import { toLdaptsFilter } from './filter-to-ldapts.js';
import { isUnicodePwd } from '../../core/unicode-pwd.js';
import {
  passwordMethod,
  passwordModifyValue,
  PASSWORD_MODIFY_OID,
  unicodePwdChanges,
  type PasswordMethod,
} from './password-change.js';
import { CachedProbe } from './cached-probe.js';
import { RecoveryProbe } from './recovery-probe.js';
import { DEFAULT_BACKOFF, ServerSelector, type BackoffOptions } from './server-selector.js';
import { ServiceCredentials } from './service-credentials.js';
import { serverTls } from './tls-options.js';
import {
  checkLdaptsSeam,
  PagedSearch,
  UpstreamConnection,
  type ConnectOptions,
  type PagedSearchOptions,
  type ReceivedEntry,
  type SearchReply,
} from './upstream-connection.js';
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
 * A forest reached over LDAP with ldapts. Reads and writes share pooled connections bound as the
 * service account, many operations on each; user binds run on a small pool of connections bound
 * again for each login. A search is one request when its answer fits in a page, and otherwise
 * pages upstream on a connection holding no other paged search, streaming page by page.
 */
export class LdapDirectory implements Directory {
  private readonly base: Dn;
  private readonly servers: readonly ConnectOptions[];
  private readonly selector: ServerSelector;
  private readonly pool: ConnectionPool;
  /** Connections for user binds only, each bound again per login (never a service connection). */
  private readonly binds: ConnectionPool;
  private readonly binaryAttributes: BinaryAttributes;
  /** Per server: operations sent to it. */
  private readonly requests: readonly { inc(): void }[];
  private readonly readiness = new CachedProbe(() => this.probe(), PROBE_CACHE_MS);
  private readonly credentials: ServiceCredentials;
  private readonly recovery: RecoveryProbe;
  /** Searches under way per identity (pool.searchesPerIdentity). */
  private readonly searching: KeyedSlots<string>;
  /** Servers being checked after a request timed out on them (serverFailed). */
  private readonly verifying = new Set<number>();
  /** How the forest takes password changes, once a server's root DSE told. */
  private passwordChange: PasswordMethod | undefined;
  /** Users' own connections held in client sessions: closed with the forest (a reload that replaces it, shutdown). */
  private readonly userConnections = new Set<UserConnection>();
  /**
   * Logins ended with a write under way, by account (not by spelling: a DN or UPN spelled another
   * way names the same one), until it ends (UserConnection.close): each holds an upstream
   * connection meanwhile, so a client ending logins against a slow forest could pile them up; past
   * MAX_DRAINING an account's further writes are refused busy until they end.
   */
  private readonly draining = new KeyedQuota<string>(0, 0);

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
    checkLdaptsSeam();
    const name = `forest "${config.name}"`;
    // Connections bound before the service account was refused must not go on serving as if it were not.
    this.credentials = new ServiceCredentials(config.name, config.bind, logger, (refused) => refused && this.pool.retireAll());
    this.searching = new KeyedSlots(config.pool.searchesPerIdentity);
    this.recovery = new RecoveryProbe(this.selector, (i) => this.checkServer(i));
    this.pool = new ConnectionPool(this.selector, (i) => this.openService(i), {
      name,
      forest: config.name,
      size: config.pool.size,
      perConnection: config.pool.operationsPerConnection,
      idleMs: config.pool.idleMs,
      cursorsPerHolder: config.pool.pagedSearchesPerIdentity,
      reclaimCursorAfterMs: config.pool.reclaimPagedSearchAfterMs,
      waitMs: config.timeouts.operationMs,
      inUse: metrics.upstreamPoolInUse.tally(config.name),
    });
    this.binds = new ConnectionPool(this.selector, async (i) => this.opened(await UpstreamConnection.open(this.servers[i], i)), {
      name,
      forest: config.name,
      size: config.pool.bindConnections,
      perConnection: 1, // a bind on a connection with other operations outstanding is undefined (RFC 4511 §4.2.1)
      idleMs: config.pool.idleMs,
      waitMs: config.timeouts.operationMs,
    });
    this.requests = config.servers.map((url) => metrics.upstreamRequests.tally(config.name, url));
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

  /** Service pool occupancy, and the bind connections open, for tests and metrics. */
  poolStats(): { open: number; busy: number; operations: number; cursors: number; idleServers: string[]; bindConnections: number } {
    const stats = this.pool.stats();
    return { ...stats, idleServers: stats.idleServers.map((i) => this.selector.url(i)), bindConnections: this.binds.stats().open };
  }

  /**
   * A search as one request on a shared connection when its answer fits in a page (lookups), else
   * paged upstream on one connection from first page to last, at most a page and a half ahead.
   */
  async *search(request: SearchRequest, ctx: SearchContext): AsyncGenerator<Entry> {
    ctx.signal.throwIfAborted();
    const options: PagedSearchOptions = {
      scope: request.scope,
      filter: toLdaptsFilter(request.filter),
      attributes: [...request.attributes],
      // The forest gives up when Canopy does (operationMs), so a search it abandons keeps no server busy.
      timeLimit: upstreamTimeLimit(request.timeLimit, this.config.timeouts.operationMs),
      pageSize: this.config.pageSize,
    };
    const base = request.base.text;
    // A client that sends searches and reads none of their entries would otherwise have every
    // answer held here (85 MiB a connection, measured): one identity's searches take turns.
    const holder = holderOf(ctx);
    // Anonymous clients take turns as one: an address is no identity (anyone may have many).
    const searcher = isAnonymous(ctx) ? ANONYMOUS_SEARCHER : holder;
    const turn = this.searching.take(searcher, ctx.signal);
    if (turn) await turn;
    try {
      // One request on a shared connection, asking for at most a page of entries: most searches (lookups) end here.
      const once = await this.onPool(
        ctx,
        (c) => c.search(base, { ...options, sizeLimit: options.pageSize }, this.binaryAttributes, ctx.signal),
        (err, connection, attempt) => this.readFailed('search', err, connection, attempt, false),
      );
      const whole = this.wholeAnswer(once, ctx);
      if (whole) {
        // Kept as the bytes that arrived until the client reaches each one.
        for (const arrived of whole) {
          const entry = arrived.decode();
          if (entry instanceof LdapError) throw entry;
          yield entry;
        }
        return;
      }
      // Larger than a page: paged here, in the same generator (a delegated one would be one more step per entry).
      const { signal } = ctx;
      let delivered = false;
      for (let attempt = 1; ; attempt++) {
        // Ended by the pool when another identity needs the connection and this search has been
        // idle a while: its client asked for no page, and it asked the forest for none.
        const reclaim = new AbortController();
        let asked = performance.now();
        const owner = { lastActive: () => Math.max(asked, ctx.paging?.at ?? 0), end: () => reclaim.abort(this.reclaimed()) };
        const connection = await this.pool.acquire(signal, 'cursor', holder, owner);
        this.requests[connection.serverIndex].inc();
        const pages = new UpstreamPages(connection, new PagedSearch(base, options, this.binaryAttributes), AbortSignal.any([signal, reclaim.signal]));
        try {
          for (let page = await pages.next(); page; asked = performance.now(), page = await pages.next()) {
            this.forwardReferences(page.references, ctx);
            // Half-way through a page, the next one is asked for (at most one page ahead).
            const half = page.entries.length >> 1;
            for (let i = 0; i < page.entries.length; i++) {
              if (i === half) {
                asked = performance.now();
                pages.readAhead();
              }
              const entry = page.entries[i].decode();
              if (entry instanceof LdapError) throw entry;
              delivered = true;
              yield entry;
            }
          }
          return;
        } catch (err) {
          signal.throwIfAborted();
          // Its connection went to another identity's paged search (the pool released it): no server failed.
          if (reclaim.signal.aborted) throw reclaim.signal.reason;
          if (!isServerFailure(err)) {
            this.searchRefused(err, ctx);
            return;
          }
          const outcome = this.readFailed('search', err, connection, attempt, delivered);
          if (outcome !== 'retry') throw outcome;
        } finally {
          // A paged search left unfinished upstream keeps its cookie on the connection: it takes no more.
          if (!reclaim.signal.aborted) this.pool.release(connection, !pages.unfinished, 'cursor', holder);
        }
      }
    } finally {
      this.searching.give(searcher);
    }
  }

  /** What a paged search whose connection another identity's took answers its next page with. */
  private reclaimed(): LdapError {
    const ms = this.config.pool.reclaimPagedSearchAfterMs;
    const after = ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
    return new LdapError(
      ResultCode.busy,
      `forest "${this.config.name}": this paged search asked for no page for ${after} or more while every connection for paged searches was held, and its connection went to another identity's; start it again`,
      '',
      this.config.name,
    );
  }

  /**
   * The entries of a search sent as one request (a lookup's answer); undefined when the answer is
   * larger than a page: it is then paged (which a shared connection cannot do while another paged
   * search may run on it). Not async: the generator awaits the request itself, one step fewer.
   */
  private wholeAnswer({ reply, entries, references }: SearchReply, ctx: SearchContext): readonly ReceivedEntry[] | undefined {
    if (reply.status === ResultCode.sizeLimitExceeded) return undefined;
    this.forwardReferences(references, ctx);
    if (reply.status !== ResultCode.success) {
      this.searchRefused(new UpstreamRefusal(reply), ctx);
      return [];
    }
    return entries;
  }


  /**
   * A server failure during a read: retried once on the next server, since sending a read again
   * changes nothing, unless entries already went out (resuming elsewhere would repeat or drop
   * entries). The server is marked down unless the connection was found closed before sending.
   */
  private readFailed(what: string, err: unknown, connection: UpstreamConnection, attempt: number, delivered: boolean): 'retry' | LdapError {
    if (!(err instanceof ConnectionLost)) this.serverFailed(connection.serverIndex, err);
    if (!delivered && attempt === 1) return 'retry';
    if (!delivered && err instanceof UpstreamRefusal) return upstreamError(err); // busy or unavailable: its own answer
    const when = delivered ? 'after entries were sent' : 'after a retry';
    return this.serverError(`${what} failed ${when}`, connection.serverIndex, err);
  }

  /** A search the server refused: its code reaches the client, except a referral under `drop`. */
  private searchRefused(err: unknown, ctx: SearchContext): void {
    const error = upstreamError(err);
    if (error.code !== ResultCode.referral) throw error;
    this.referralResult(error, err instanceof UpstreamRefusal ? err.reply.referral : undefined, ctx);
  }

  bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    return this.bindName(dn.text, password, ctx, dn.key);
  }

  /**
   * A bind with any name the server accepts (Active Directory takes a UPN), on a bind connection
   * bound again for this login. A failed server is marked down and the bind tried once more on
   * the next: a bind changes nothing, so sending it again is safe. `account` is the login's
   * account however it is spelled (a DN's key, a UPN folded): what its ended logins count under.
   */
  async bindName(name: string, password: Buffer, ctx: OperationContext, account: string): Promise<void> {
    // RFC 4513 §5.1.2: a name with an empty password is an unauthenticated bind; never forward it.
    if (password.length === 0) throw new LdapError(ResultCode.invalidCredentials, 'empty password: unauthenticated bind refused');
    for (let attempt = 1; ; attempt++) {
      ctx.signal.throwIfAborted();
      const connection = this.binds.acquireNow(ctx.signal) ?? (await this.binds.acquire(ctx.signal));
      this.requests[connection.serverIndex].inc();
      let reusable = true;
      try {
        // A control per bind: ldapts parses the server's answer into the request's control.
        const reply = await connection.bind(name, password, ctx.policy && [new PasswordPolicyControl()]);
        notePolicy(reply.controls, ctx);
        break;
      } catch (err) {
        if (err instanceof UpstreamRefusal) notePolicy(err.reply.controls, ctx);
        if (!isServerFailure(err)) throw upstreamError(err);
        reusable = false;
        if (!(err instanceof ConnectionLost)) this.serverFailed(connection.serverIndex, err);
        if (attempt > 1) {
          throw this.serverError('bind failed after a retry', connection.serverIndex, err);
        }
      } finally {
        this.binds.release(connection, reusable);
      }
    }
    // The login may write as itself later: its connection is opened then, with these credentials.
    if (ctx.session && !ctx.signal.aborted) {
      const held = new UserConnection(name, account, Buffer.from(password), (n, p) => this.openAsUser(n, p), () => {
        this.userConnections.delete(held);
        // A login that never wrote has nothing under way to count.
        if (!held.wrote) return;
        this.draining.take(account);
        void held.ended.then(() => this.draining.release(account));
      });
      this.userConnections.add(held);
      ctx.session.hold(this, held);
    }
  }

  /** A connection bound as a user, on the best reachable server. */
  private async openAsUser(name: string, password: Buffer): Promise<UpstreamConnection> {
    try {
      const { value } = await this.selector.firstReachable((i) => {
        this.requests[i].inc();
        return UpstreamConnection.open(this.servers[i], i, { dn: name, password });
      });
      return value;
    } catch (err) {
      // The password changed (or the account was locked) since the login: nothing was written.
      if (err instanceof LdapError && err.code !== ResultCode.unavailable) {
        throw new LdapError(ResultCode.unavailable, `forest "${this.config.name}": this login's credentials no longer bind upstream (${err.message}); bind again to write`, '', this.config.name);
      }
      throw err;
    }
  }

  add(entry: Entry, ctx: OperationContext): Promise<void> {
    const attributes = Array.from(entry.attributes(), (a) => ldaptsAttribute(a.name, a.values));
    const password = attributes.some((a) => isUnicodePwd(a.type));
    return this.write('add', ctx, (c) => {
      if (password) this.requireEncrypted(c);
      return c.add(entry.dn.text, attributes);
    });
  }

  modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    const ldaptsChanges = changes.map(
      (m) => new Change({ operation: m.operation, modification: ldaptsAttribute(m.attribute.name, m.attribute.values) }),
    );
    const password = changes.some((m) => isUnicodePwd(m.attribute.name));
    return this.write('modify', ctx, (c) => {
      if (password) this.requireEncrypted(c);
      return c.modify(dn.text, ldaptsChanges);
    });
  }

  delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.write('delete', ctx, (c) => c.delete(dn.text));
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
        await c.extended(PASSWORD_MODIFY_OID, passwordModifyValue(request));
      } else if (method === 'unicodePwd') {
        this.requireEncrypted(c);
        // The user's own change proves the old password (delete and add); an administrator's replaces it.
        const own = ctx.asUser !== undefined || request.oldPasswordProven === true;
        await c.modify(request.user.text, unicodePwdChanges(own ? request.oldPassword : undefined, request.newPassword));
      } else {
        throw new LdapError(ResultCode.unwillingToPerform, `forest "${this.config.name}" supports no password change (RFC 3062 or unicodePwd)`, '', this.config.name);
      }
    });
  }

  /** How the forest takes password changes, read from a server's root DSE once. */
  private async passwordMethod(c: UpstreamConnection): Promise<PasswordMethod> {
    try {
      this.passwordChange ??= await passwordMethod(c);
      return this.passwordChange;
    } catch (err) {
      // Nothing was changed yet: a failure here is an outage, never an unknown outcome.
      throw this.serverError('reading the root DSE failed', c.serverIndex, err);
    }
  }

  /** Passwords in unicodePwd cross the network only encrypted (Active Directory insists too). */
  private requireEncrypted(c: UpstreamConnection): void {
    if (this.servers[c.serverIndex].tls.mode !== 'none') return;
    throw new LdapError(
      ResultCode.unwillingToPerform,
      `forest "${this.config.name}": unicodePwd is written only over an encrypted upstream connection (ldaps:// or tls.startTls), and this forest's server is not one`,
      '',
      this.config.name,
      `server ${this.selector.url(c.serverIndex)}`,
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
    await Promise.all([this.pool.close(), this.binds.close()]);
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
      this.serverFailed(connection.serverIndex, err);
      // busy/unavailable are answers: the server did nothing, and the client hears its code.
      if (err instanceof UpstreamRefusal) return upstreamError(err);
      return this.unknownOutcome(what, connection, err);
    });
  }

  /**
   * A read other than a search (compare) on a pooled service connection: like a search, it is
   * retried once on the next server when its server fails, since sending it again changes nothing.
   */
  private read<T>(what: string, ctx: OperationContext, send: (c: UpstreamConnection) => Promise<T>): Promise<T> {
    return this.onPool(ctx, send, (err, connection, attempt) => this.readFailed(what, err, connection, attempt, false));
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
      const connection = this.pool.acquireNow(ctx.signal) ?? (await this.pool.acquire(ctx.signal));
      this.requests[connection.serverIndex].inc();
      let reusable = true;
      try {
        return await send(connection);
      } catch (err) {
        ctx.signal.throwIfAborted(); // abandoned: the connection abandoned it upstream and goes on
        if (!isServerFailure(err)) throw upstreamError(err);
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
    if (!held) throw new LdapError(ResultCode.unavailable, `forest "${this.config.name}": this login holds no upstream session; bind again to write`, '', this.config.name);
    if (this.draining.held(held.account) >= MAX_DRAINING) {
      throw new LdapError(ResultCode.busy, `forest "${this.config.name}": earlier writes of this login are still under way upstream; try again`, '', this.config.name);
    }
    return held.run(async (connection) => {
      ctx.signal.throwIfAborted();
      this.requests[connection.serverIndex].inc();
      try {
        return await send(connection);
      } catch (err) {
        if (!isServerFailure(err) || err instanceof UpstreamRefusal) throw upstreamError(err);
        if (err instanceof ConnectionLost) {
          throw new LdapError(ResultCode.unavailable, `forest "${this.config.name}": the upstream connection of this login was closed; try again`, '', this.config.name);
        }
        this.serverFailed(connection.serverIndex, err);
        throw this.unknownOutcome(what, connection, err);
      }
    });
  }

  /**
   * A write whose connection failed after it was sent: the server may or may not have applied it.
   * `other`, not `unavailable`/`busy`, which tell a client that nothing was done.
   */
  private unknownOutcome(what: string, connection: UpstreamConnection, err: unknown): LdapError {
    return this.serverError(`${what} sent but the connection failed`, connection.serverIndex, err, ResultCode.other, '; result unknown: the write may or may not have been applied');
  }

  /**
   * A server's failure as the client hears it: the forest, what failed and a reason naming no server
   * (clientReason); the server's URL and the socket's error go to the log only (`detail`).
   */
  private serverError(what: string, serverIndex: number, err: unknown, code: ResultCode = ResultCode.unavailable, after = ''): LdapError {
    return new LdapError(
      code,
      `forest "${this.config.name}": ${what} (${clientReason(err)})${after}`,
      '',
      this.config.name,
      `server ${this.selector.url(serverIndex)}: ${describeFailure(err)}`,
    );
  }

  private async probe(): Promise<void> {
    await this.selector.firstReachable(async (i) => {
      this.requests[i].inc();
      const connection = await this.openService(i, this.probeOptions(i));
      try {
        await connection.readEntry(this.base.text, ['1.1']);
      } catch (err) {
        throw isServerFailure(err) ? err : upstreamError(err);
      } finally {
        connection.close();
      }
    });
  }

  /**
   * A request failed on server `index` for want of the server. One that timed out on the last
   * server still up is checked first (a probe: connect and bind): one slow request, a client's
   * search of 100,000 attribute names, say, must not take the forest away from everyone else's
   * logins. Where another server is up, the forest moves there as for any failure, and the
   * recovery probe brings this one back within a second if it answers.
   */
  private serverFailed(index: number, err: unknown): void {
    if (!(err instanceof OperationTimeout) || this.selector.othersUp(index)) return this.selector.markDown(index, err);
    if (this.verifying.has(index)) return;
    this.verifying.add(index);
    this.checkServer(index)
      .catch((probeFailure: unknown) => {
        // Another error (the service account refused) says the server answers: whoever meets it reports it.
        if (isServerFailure(probeFailure)) this.selector.markDown(index, probeFailure);
      })
      .finally(() => this.verifying.delete(index));
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

  /** Publishes the server certificate's expiry a TLS connection saw (for an alert before it expires). */
  private opened(connection: UpstreamConnection): UpstreamConnection {
    const expires = connection.peerCertificateExpiry();
    if (expires !== undefined) metrics.upstreamCertificateExpiry.labels(this.config.name, this.selector.url(connection.serverIndex)).set(expires);
    return connection;
  }

  /** A connection bound as the service account; unavailable (52), without a bind, while that account is refused. */
  private async openService(index: number, server: ConnectOptions = this.servers[index]): Promise<UpstreamConnection> {
    const credentials = this.credentials.current();
    try {
      return this.opened(await UpstreamConnection.open(server, index, credentials));
    } catch (err) {
      // A refused service bind is the forest's configuration problem, not the client's credentials.
      if (err instanceof LdapError) throw this.credentials.bindFailed(credentials, this.servers[index].url, err);
      throw err;
    }
  }

  /** Continuation references are never chased: `pass` hands them on as the upstream sent them, `drop` discards them. */
  private forwardReferences(references: readonly string[][], ctx: SearchContext): void {
    if (references.length === 0) return;
    if (this.config.referrals === 'pass') ctx.trailer.addReferences(references);
    else this.logger.debug({ forest: this.config.name, references: references.length }, 'upstream continuation references dropped');
  }

  /**
   * A referral result (the search's base lies in a part of the tree the server refers elsewhere)
   * is never chased either. With `pass` the client gets it, with the upstream's URLs; with `drop`
   * the search ends as a success whose diagnostic message says what happened, never silently.
   */
  private referralResult(error: LdapError, urls: readonly string[] | undefined, ctx: SearchContext): void {
    if (this.config.referrals === 'pass' && urls) {
      ctx.trailer.referTo(urls);
      throw error;
    }
    ctx.trailer.remark(`forest "${this.config.name}" answered with a referral; not followed`);
  }
}

/** An OpenLDAP forest's password policy response to a user's bind, passed on to a client that asked (draft-behera). */
function notePolicy(controls: readonly Control[], ctx: OperationContext): void {
  const answer = controls.find((c): c is PasswordPolicyControl => c instanceof PasswordPolicyControl)?.value;
  if (!ctx.policy || !answer) return;
  const { timeBeforeExpiration, graceAuthNsRemaining, error } = answer;
  ctx.policy.state = {
    ...(timeBeforeExpiration !== undefined && { timeBeforeExpiration }),
    ...(graceAuthNsRemaining !== undefined && { graceAuthNsRemaining }),
    ...(error !== undefined && { error: error as PolicyError }),
  };
}

/** Ended logins of one account whose write under way may hold an upstream connection at once (see LdapDirectory.draining). */
const MAX_DRAINING = 4;

/** A search's time limit upstream, in seconds: the client's, and never past Canopy's own wait for an answer. */
function upstreamTimeLimit(clientSeconds: number, operationMs: number): number {
  const ours = Math.max(1, Math.ceil(operationMs / 1000));
  return clientSeconds > 0 ? Math.min(clientSeconds, ours) : ours;
}

const ANONYMOUS_SEARCHER = 'anonymous';

/** A client that did not bind (Canopy's own lookups, for logins and the like, carry no identity). */
function isAnonymous(ctx: OperationContext): boolean {
  return ctx.identity?.kind === 'anonymous';
}

function ldaptsAttribute(type: string, values: readonly AttributeValue[]): Attribute {
  // ldapts writes each value by its own type, so text and bytes may share one attribute.
  return new Attribute({ type, values: values as string[] });
}
