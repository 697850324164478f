import { Attribute, Change, ResultCodeError, type SearchOptions, type SearchResult } from 'ldapts';
import type { LdapForestConfig } from '../../config/schema.js';
import type { Directory, Modification, ModifyDnRequest, OperationContext, SearchRequest } from '../../core/directory.js';
import { Dn } from '../../core/dn.js';
import type { AttributeValue, Entry } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import type { Logger } from '../../observability/logger.js';
import { ConnectionPool } from './connection-pool.js';
import { binaryAttributeList, entryFromLdapts } from './entry-from-ldapts.js';
import { describeFailure, isServerFailure, upstreamError } from './errors.js';
import { toLdaptsFilter } from './filter-to-ldapts.js';
import { DEFAULT_BACKOFF, ServerSelector, type BackoffOptions } from './server-selector.js';
import { serverTls } from './tls-options.js';
import { ConnectionLost, UpstreamConnection, type ConnectOptions } from './upstream-connection.js';

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
  private readonly binaryAttributes: string[];

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
    this.pool = new ConnectionPool(this.selector, (i) => this.openService(i), { ...config.pool, waitMs: config.timeouts.operationMs });
    this.binaryAttributes = binaryAttributeList(config.binaryAttributes);
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
    const options: SearchOptions = {
      scope: request.scope,
      filter: toLdaptsFilter(request.filter),
      attributes: [...request.attributes],
      explicitBufferAttributes: this.binaryAttributes,
      timeLimit: request.timeLimit,
      paged: { pageSize: this.config.pageSize },
    };
    let delivered = false;
    for (let attempt = 1; ; attempt++) {
      const connection = await this.pool.acquire(signal);
      const pages = connection.client.searchPaginated(request.base.text, options);
      // A connection goes back to the pool only if no page request is outstanding on it.
      let pending = false;
      try {
        for (;;) {
          pending = true;
          const page = await nextPage(pages, connection, signal);
          pending = false;
          if (page.done) return;
          if (page.value.searchReferences.length > 0) this.droppedReferences(page.value.searchReferences);
          for (const raw of page.value.searchEntries) {
            delivered = true;
            yield entryFromLdapts(raw);
          }
        }
      } catch (err) {
        signal.throwIfAborted();
        if (!isServerFailure(err)) {
          pending = false;
          const error = upstreamError(err, connection.lastResult);
          if (error.code !== ResultCode.referral) throw error;
          this.droppedReferences([error.message]);
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
        pages.return(undefined).catch(() => undefined);
        this.pool.release(connection, !pending);
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
    const { value: connection } = await this.selector.firstReachable((i) => UpstreamConnection.open(this.servers[i], i, credentials));
    connection.close();
  }

  add(entry: Entry, ctx: OperationContext): Promise<void> {
    const attributes = Array.from(entry.attributes(), (a) => ldaptsAttribute(a.name, a.values));
    return this.write('add', ctx, (c) => c.client.add(entry.dn.text, attributes));
  }

  modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    const ldaptsChanges = changes.map(
      (m) => new Change({ operation: m.operation, modification: ldaptsAttribute(m.attribute.name, m.attribute.values) }),
    );
    return this.write('modify', ctx, (c) => c.client.modify(dn.text, ldaptsChanges));
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
    return this.write('compare', ctx, (c) => c.compare(dn.text, attribute, bytes));
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /**
   * Runs one write on a pooled service connection. It is sent once: a connection that fails
   * after sending leaves the outcome unknown, and retrying elsewhere could apply it twice.
   */
  private async write<T>(what: string, ctx: OperationContext, send: (c: UpstreamConnection) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const connection = await this.pool.acquire(ctx.signal);
      let reusable = true;
      try {
        return await send(connection);
      } catch (err) {
        if (!isServerFailure(err)) throw upstreamError(err, connection.lastResult);
        reusable = false;
        if (err instanceof ConnectionLost && attempt === 1) continue; // never sent: safe to send once more
        this.selector.markDown(connection.serverIndex, err);
        // busy/unavailable are answers: the server did nothing, and the client hears its code.
        if (err instanceof ResultCodeError) throw upstreamError(err, connection.lastResult);
        throw new LdapError(
          ResultCode.unavailable,
          `forest "${this.config.name}": ${what} sent to ${this.selector.url(connection.serverIndex)} but the connection failed (${describeFailure(err)}); its outcome is unknown`,
        );
      } finally {
        this.pool.release(connection, reusable);
      }
    }
  }

  private async openService(index: number): Promise<UpstreamConnection> {
    const bind = this.config.bind && { dn: this.config.bind.dn, password: this.config.bind.password ?? '' };
    try {
      return await UpstreamConnection.open(this.servers[index], index, bind);
    } catch (err) {
      // A refused service bind is the forest's configuration problem, not the client's credentials.
      if (err instanceof LdapError) {
        throw new LdapError(
          ResultCode.unavailable,
          `forest "${this.config.name}": service account bind to ${this.servers[index].url} failed: ${err.message}`,
        );
      }
      throw err;
    }
  }

  private droppedReferences(uris: readonly string[]): void {
    // The core SearchStream has no reference type yet: references are not chased and not passed on.
    if (this.config.referrals === 'pass') this.logger.debug({ forest: this.config.name, uris }, 'upstream references dropped');
  }
}

function ldaptsAttribute(type: string, values: readonly AttributeValue[]): Attribute {
  // ldapts writes each value by its own type, so text and bytes may share one attribute.
  return new Attribute({ type, values: values as string[] });
}

/** The next page, or the abort: an aborted search closes its connection, which ends it upstream. */
function nextPage(
  pages: AsyncGenerator<SearchResult>,
  connection: UpstreamConnection,
  signal: AbortSignal,
): Promise<IteratorResult<SearchResult>> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      connection.close();
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pages
      .next()
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}
