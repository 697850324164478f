import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ConfigError, ConfigErrors } from './config/config-error.js';
import type { LoadedConfig } from './config/load.js';
import type { ForestConfig } from './config/schema.js';
import { Dn } from './core/dn.js';
import type { Directory } from './core/directory.js';
import type { SchemaUsage } from './core/schema-usage.js';
import { ldifFile } from './backends/memory/ldif-file.js';
import { MemoryDirectory } from './backends/memory/memory-directory.js';
import type { DisconnectNotice } from './frontend/connection.js';
import { startFrontEnd, type FrontEnd } from './frontend/listener.js';
import type { DropAfterPage } from './frontend/search-responder.js';
import type { OperationObserver } from './frontend/operation-observer.js';
import { noteCertificateExpiry } from './observability/certificate-expiry.js';
import { createLogger, type Logger } from './observability/logger.js';
import { ForestRouter, type RoutedForest } from './router/forest-router.js';
import { SortBuffers } from './router/sort-buffers.js';
import { NamespaceMap } from './stages/namespace/namespace-map.js';
import { NamespaceStage } from './stages/namespace/namespace-stage.js';
import { compileForestView } from './stages/namespace/forest-view.js';
import { AccessPolicy } from './stages/access/access-policy.js';
import { AccessStage } from './stages/access/access-stage.js';
import { CacheInvalidation, type CachePeers } from './cache/cache-invalidation.js';
import { ResultCache } from './cache/result-cache.js';
import type { Throttle } from './auth/bind-throttle.js';
import { accountRevocation, visibilityChanged } from './auth/reload-revocation.js';
import { ResultCode } from './core/result-codes.js';
import { assembleAuthenticator, type AssembledForest } from './assemble-authenticator.js';
import { LdapDirectory, openLdapForest } from './backends/ldap/ldap-directory.js';
import { startAdminServer, type AdminServer } from './http/admin-server.js';
import { checkReadiness, type ForestCheck, type Readiness } from './http/check-readiness.js';
import { registry } from './observability/metrics.js';
import { LivePipeline, type Pipeline } from './live-pipeline.js';
import { stack } from './core/stage.js';
import { SyncGuard } from './router/sync-guard.js';
import { version } from './version.js';

export interface RunningServer {
  readonly urls: readonly string[];
  readonly ldapPort?: number;
  readonly ldapsPort?: number;
  /** The port of the HTTP listener (/metrics, /healthz, /readyz), unless `http.enabled` is false. */
  readonly httpPort?: number;
  /** The pipeline below the front end, whichever configuration currently serves it. */
  readonly directory: Directory;
  /**
   * Serves new operations with `config` (SIGHUP, `canopy reload`); connections stay open and
   * operations already running finish on the old configuration, with two exceptions. A connection
   * bound as a local account the new configuration removes, or whose credentials it changes (its
   * password hash, or the `tls.subjectMapping` that led a certificate to it), is ended with a
   * Notice of Disconnection. When the access rules or what a forest hides change, paged searches
   * begun before end: their next page is refused (unwillingToPerform) and the client must start
   * again; otherwise they finish on the configuration they began with. Rejects, keeping the old
   * configuration, when the new one cannot be put in place (a forest that cannot be opened).
   */
  reload(config: LoadedConfig): Promise<ReloadReport>;
  /**
   * Stops listening, lets running operations finish for up to `graceMs` (SIGTERM passes
   * `shutdown.graceSeconds`; default 0: abort them), ends the connections (sending `notice` to
   * the clients still connected), then closes the forests.
   */
  close(graceMs?: number, notice?: DisconnectNotice): Promise<void>;
  /** The configuration serving new operations. */
  readonly config: LoadedConfig;
  /** The sync deletion guard's references, kept across reloads. */
  readonly syncGuard: SyncGuard;
  /** Whether the listeners accept and a forest serves: what `/readyz` answers. */
  readiness(): Promise<Readiness>;
  /** A write to `dn` went through another worker: the results that could hold it leave this one's cache. */
  evict(dn: Dn): void;
}

/** What a reload changed. */
export interface ReloadReport {
  /** Forests opened afresh (new, or changed); the others kept their backends (pools, loaded data). */
  readonly reopened: readonly string[];
  /** Keys that differ but are read only at start (listeners, limits): they wait for a restart. */
  readonly needRestart: readonly string[];
}

export interface ServerOptions {
  readonly logger?: Logger;
  /** Wraps each forest's backend (below its namespace stage): to count the operations it receives, to inject faults. */
  readonly wrapBackend?: (forest: string, directory: Directory) => Directory;
  /** Supplies a forest's backend instead of opening it from the configuration (the mock directory's, already loaded). */
  readonly openBackend?: (forest: ForestConfig) => Directory | undefined;
  /** Drops a client's connection after a page of a paged search: the mock directory's fault switches. */
  readonly dropAfterPage?: DropAfterPage;
  /** The result cache's clock in milliseconds (tests move it instead of waiting); performance.now by default. */
  readonly cacheClock?: () => number;
  /** Told of each operation once answered: the mock directory's journal. */
  readonly observe?: OperationObserver;
  /** What the served data uses, for the subschema entry: the mock directory's loaded forests. */
  readonly schemaInUse?: () => readonly SchemaUsage[];
  /** The other workers' caches, told of each write through this process (serve.workers). */
  readonly cachePeers?: CachePeers;
  /** The failed-bind counts every worker shares (serve.workers): the primary's. */
  readonly bindThrottle?: Throttle;
  /** The sync deletion guard the routers report to: a worker's copy of the primary's (serve.workers); the server makes one otherwise. */
  readonly syncGuard?: SyncGuard;
  /** The message of the line logged once listening: a worker's differs from the server's own `canopy listening`. */
  readonly listeningMessage?: string;
}

/** What assembling a pipeline needs besides the configuration. */
interface PipelineOptions extends ServerOptions {
  /** Shared by every pipeline of the process. */
  readonly sortBuffers?: SortBuffers;
}

/** One configuration's pipeline, with what the server needs to serve, probe and replace it. */
interface ServedPipeline extends Pipeline {
  readonly config: LoadedConfig;
  readonly cache?: ResultCache;
  readonly checks: readonly ForestCheck[];
  /** Each forest's backend and the configuration it was opened with, for reuse by a reload. */
  readonly backends: ReadonlyMap<string, { readonly key: string; readonly backend: Directory }>;
  /** Leaves these forests' backends open when this pipeline closes: a newer pipeline uses them. */
  handOn(names: Iterable<string>): void;
}

/**
 * The one place that turns a configuration into a running stack:
 * backends → namespace stage per forest → router → cache invalidation → access stage → front end
 * (with the authenticator and the result cache). The front end talks to a LivePipeline, so a
 * reload swaps everything below it.
 */
export async function startServer(config: LoadedConfig, serverOptions: ServerOptions = {}): Promise<RunningServer> {
  const logger = serverOptions.logger ?? createLogger(config.logging.level);
  // Both outlive a reload: the sort buffers' bounds (limits are read at start only), for the
  // pipelines of every configuration, and the sync guard's references (a reload changes its settings).
  const syncGuard = serverOptions.syncGuard ?? new SyncGuard(config.sync.guard, logger);
  const options: PipelineOptions = {
    ...serverOptions,
    sortBuffers: new SortBuffers({
      perConnection: config.limits.maxSortEntriesPerConnection,
      perIdentity: config.limits.maxSortEntriesPerIdentity,
      processWide: config.limits.maxSortEntriesTotal,
    }),
    syncGuard,
  };
  const live = new LivePipeline<ServedPipeline>(await assemblePipeline(config, logger, options));
  let frontEnd: FrontEnd;
  let servedTls: ServedTls | undefined;
  try {
    servedTls = config.tls && (await readTls(config.tls));
    frontEnd = await startFrontEnd({
      ldap: hostPort(config.listen.ldap),
      ldaps: config.tls ? hostPort(config.listen.ldaps) : undefined,
      proxyProtocol: { from: config.listen.proxyProtocol.from, headerTimeoutMs: config.listen.proxyProtocol.headerTimeoutSeconds * 1000 },
      tls: servedTls && { ...servedTls, verifyClient: config.tls!.verifyClient },
      limits: {
        maxMessageBytes: config.limits.maxMessageBytes,
        maxUnboundMessageBytes: config.limits.maxUnboundMessageBytes,
        maxConnections: config.limits.maxConnections,
        maxConnectionsPerAddress: config.limits.maxConnectionsPerAddress,
        maxPendingOperations: config.limits.maxPendingOperations,
        idleTimeoutMs: config.limits.idleTimeoutSeconds * 1000,
        unboundIdleTimeoutMs: config.limits.unboundIdleTimeoutSeconds * 1000,
        tlsHandshakeTimeoutMs: config.limits.tlsHandshakeTimeoutSeconds * 1000,
        maxFilterTerms: config.limits.maxFilterTerms,
        search: {
          maxResultEntries: config.limits.maxResultEntries,
          maxPageSize: config.limits.maxPageSize,
          searchTimeMs: config.limits.searchTimeMs,
          maxCursors: config.limits.maxPagedSearches,
          cursorIdleMs: config.limits.pagedSearchIdleSeconds * 1000,
        },
      },
      directory: live,
      authenticator: live,
      logger,
      vendorVersion: version,
      dropAfterPage: options.dropAfterPage,
      schemaInUse: options.schemaInUse,
      observe: options.observe,
      resultCache: () => live.pipeline.cache,
      accessLog: { enabled: config.logging.accessLog, sampleRate: config.logging.accessLogSampleRate },
    });
  } catch (err) {
    await live.close();
    throw err;
  }
  const readiness = () => checkReadiness(frontEnd.listening, live.pipeline.checks);
  let admin: AdminServer | undefined;
  if (config.http.enabled) {
    try {
      admin = await startAdminServer({
        host: config.http.host,
        port: config.http.port,
        registry,
        readiness: () => readiness(),
        logger,
      });
    } catch (err) {
      await frontEnd.close();
      await live.close();
      throw err;
    }
  }
  // The listener took the certificate: it parses.
  if (config.tls && servedTls) noteCertificateExpiry(config.tls.certFile, servedTls.cert);
  logger.info({ urls: frontEnd.urls, ...(admin && { http: admin.url }), forests: config.forests.map((f) => f.name) }, options.listeningMessage ?? 'canopy listening');
  let reloading = Promise.resolve();
  return {
    urls: frontEnd.urls,
    ldapPort: frontEnd.ldapPort,
    ldapsPort: frontEnd.ldapsPort,
    httpPort: admin?.port,
    directory: live,
    syncGuard,
    readiness,
    evict: (dn) => live.pipeline.cache?.invalidate(dn),
    get config() {
      return live.pipeline.config;
    },
    reload(next) {
      // One reload at a time: two SIGHUPs in a row must not open the same forests twice.
      const done = reloading.then(async () => {
        // The files `tls` names, read again (other paths, or the same renewed in place): served
        // from now on. Checked before anything changes, so that a bad pair refuses the reload.
        // TLS added or removed needs a restart (the LDAPS listener), and so does verifyClient.
        const renewed = next.tls && servedTls && (await renewedTls(next.tls, servedTls));
        const report = await replacePipeline(live, next, logger, options, (before) => applyToOpenConnections(frontEnd, before, next, logger));
        if (renewed && next.tls) {
          frontEnd.replaceTls(renewed.tls);
          servedTls = renewed.tls;
          noteCertificateExpiry(next.tls.certFile, renewed.tls.cert);
          const { certFile, clientCa, clientCrl } = next.tls;
          logger.info({ certFile, ...(clientCa && { clientCa }), ...(clientCrl && { clientCrl }) }, 'TLS files reloaded: new handshakes use them');
        }
        return report;
      });
      reloading = done.then(
        () => undefined,
        () => undefined,
      );
      return done;
    },
    async close(graceMs = 0, notice) {
      await frontEnd.close(graceMs, notice);
      // After the LDAP listener: /readyz says "not listening" while connections drain.
      await admin?.close();
      await reloading;
      await live.close();
      syncGuard.flush();
      logger.flush();
    },
  };
}

/** What the clients of a connection closed by a reload are told: the identity it was bound as no longer stands. */
export const BIND_REVOKED: DisconnectNotice = {
  code: ResultCode.strongerAuthRequired,
  reason: 'the account this connection was bound as was removed or its credentials changed (configuration reloaded); bind again',
};

/** The message a paged search ended by a reload gets for its next page (unwillingToPerform). */
export const PAGED_SEARCH_ENDED_BY_RELOAD =
  'the configuration changed (access rules or hidden attributes) since this paged search began: start the search again';

/**
 * A reload from `before` to `next` reaching the connections already open: sessions of local accounts
 * it removed or whose credentials changed are ended, and paged searches are ended when what searches
 * may see changed. Run in the turn the new pipeline takes over, so that a bind is either checked by
 * the new configuration or still pending here (and judged when it ends).
 */
function applyToOpenConnections(frontEnd: FrontEnd, before: LoadedConfig, next: LoadedConfig, logger: Logger): void {
  const revoked = accountRevocation(before, next);
  const endPagedSearches = visibilityChanged(before, next) ? PAGED_SEARCH_ENDED_BY_RELOAD : undefined;
  if (!revoked && endPagedSearches === undefined) return;
  const { disconnected, pagedSearches } = frontEnd.reloaded({ ...(revoked && { revoked }), notice: BIND_REVOKED, ...(endPagedSearches !== undefined && { endPagedSearches }) });
  if (revoked) {
    logger.info({ connections: disconnected }, 'local accounts removed or changed: connections bound as them closed (notice of disconnection sent)');
  }
  if (endPagedSearches !== undefined) {
    logger.info({ pagedSearches }, 'access rules or hidden attributes changed: paged searches begun before the reload ended');
  }
}

/**
 * Builds the pipeline for `next`, reusing the backends of unchanged forests, and puts it in service;
 * `swapped` is told, in the same turn, with the configuration replaced.
 */
async function replacePipeline(
  live: LivePipeline<ServedPipeline>,
  next: LoadedConfig,
  logger: Logger,
  options: PipelineOptions,
  swapped: (before: LoadedConfig) => void,
): Promise<ReloadReport> {
  const current = live.pipeline;
  options.syncGuard?.configure(next.sync.guard);
  const reused = new Set<string>();
  const pipeline = await assemblePipeline(next, logger, {
    ...options,
    openBackend: (f) => {
      const supplied = options.openBackend?.(f);
      if (supplied) return supplied;
      const previous = current.backends.get(f.name);
      if (previous?.key !== forestKey(f)) return undefined;
      reused.add(f.name);
      // A reload may follow a fix in the directory itself (the account unlocked, its password reset).
      if (previous.backend instanceof LdapDirectory) previous.backend.retryServiceAccount();
      return previous.backend;
    },
  });
  current.handOn(reused);
  const needRestart = RESTART_KEYS.filter((k) => JSON.stringify(pick(current.config, k)) !== JSON.stringify(pick(next, k)));
  logger.level = next.logging.level;
  const reopened = next.forests.map((f) => f.name).filter((n) => !reused.has(n));
  logger.info({ source: next.source, reopened, ...(needRestart.length > 0 && { needRestart }) }, 'configuration reloaded');
  if (needRestart.length > 0) logger.warn({ keys: needRestart }, 'changed settings take effect at the next restart');
  // Writes still running on the old pipeline evict from the new cache too; the old one is emptied now.
  current.cache?.retire(pipeline.cache);
  // The old pipeline closes in the background once its last operation and paged search end.
  live.replace(pipeline).catch((err: unknown) => logger.error({ err }, 'closing the replaced configuration failed'));
  swapped(current.config);
  return { reopened, needRestart };
}

/**
 * Settings the front end and listeners read once, at start. Of `tls`, the files it names are read
 * again by each reload, and `tls.subjectMapping` belongs to the authenticator, which a reload
 * replaces; whether TLS is served at all (`tls.verifyClient` differs then too) and whether client
 * certificates are asked for shape the listeners.
 */
const RESTART_KEYS = ['listen', 'tls.verifyClient', 'limits', 'http', 'shutdown', 'logging.accessLog', 'logging.accessLogSampleRate'] as const;

function pick(config: LoadedConfig, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], config);
}

/**
 * A forest's identity for reuse across a reload: its whole configuration, secrets included, and
 * its CA file's contents, so that a CA file replaced in place (a DC certificate from a new CA)
 * takes effect on reload. An unreadable file makes the forest reopen, which refuses the reload
 * with the read error.
 */
function forestKey(forest: ForestConfig): string {
  const ca = forest.backend === 'ldap' && forest.tls?.ca !== undefined ? fileDigest(forest.tls.ca) : undefined;
  return JSON.stringify({ forest, ca });
}

function fileDigest(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return 'unreadable'; // never the key of an opened forest: opening it reads the file too
  }
}

/** Backends → namespace stages → router → cache → access, and the authenticator over them. */
async function assemblePipeline(config: LoadedConfig, logger: Logger, options: PipelineOptions): Promise<ServedPipeline> {
  const { namespace, forests, router } = await assembleRouter(config, logger, options);
  const cache = assembleCache(config, forests, logger, options.cacheClock);
  const handedOn = new Set<string>();
  return {
    config,
    cache,
    checks: forestChecks(forests),
    backends: new Map(forests.map((f, i) => [f.name, { key: forestKey(config.forests[i]), backend: f.backend }])),
    // Below the front end (which answers from the result cache first, and swaps whole stacks on reload), top to bottom.
    directory: stack(
      [
        (next) => assembleAccess(config, next),
        cache && ((next) => new CacheInvalidation(cache, next, options.cachePeers)),
        // then the router, which fans out to each forest's namespace stage over its backend (assembleRouter)
      ],
      router,
    ),
    authenticator: assembleAuthenticator(config, namespace, forests, logger, options.bindThrottle),
    handOn(names) {
      for (const n of names) handedOn.add(n);
    },
    async close() {
      cache?.close();
      await Promise.all(forests.filter((f) => !handedOn.has(f.name)).map((f) => f.directory.close()));
    },
  };
}

/** What `/readyz` asks of each forest: upstream forests probe their servers; memory forests are always ready. */
function forestChecks(forests: readonly { readonly name: string; readonly backend: Directory }[]): ForestCheck[] {
  const always = Promise.resolve({ ready: true });
  return forests.map(({ name, backend }) => ({ name, ready: backend instanceof LdapDirectory ? () => backend.ready() : () => always }));
}

/** The top of the stack below the front end: what a bound identity may read and write of the router's tree. */
export function assembleAccess(config: LoadedConfig, router: Directory): Directory {
  const mounts = new Map(config.forests.map((f) => [f.name, Dn.parse(f.mount ?? f.base)]));
  return new AccessStage(new AccessPolicy(config.access ?? []), router, mounts);
}

/**
 * The result cache, unless `cache.enabled` is false. Its keys name access views by the positions of
 * this configuration's rules, so it belongs to one configuration: a new one needs a new cache.
 */
export function assembleCache(
  config: LoadedConfig,
  forests: readonly RoutedForest[],
  logger: Logger,
  now?: () => number,
): ResultCache | undefined {
  if (!config.cache.enabled) return undefined;
  const policy = new AccessPolicy(config.access ?? []);
  return new ResultCache({
    settings: config.cache,
    forests: config.forests.map((f, i) => ({ name: f.name, mount: forests[i].mount, cache: f.cache })),
    viewKey: (identity) => policy.viewKey(identity),
    logger,
    now,
  });
}

/** The virtual tree below the access stage: every forest's backend behind its namespace stage, under the router. */
export interface AssembledRouter {
  readonly namespace: NamespaceMap;
  readonly forests: readonly (AssembledForest & RoutedForest)[];
  /** The whole virtual tree as the forests' service accounts read it (no access rules applied). */
  readonly router: Directory;
}

/** Backends → namespace stage per forest → router: the part of the stack `canopy export` reads through too. */
export async function assembleRouter(
  config: LoadedConfig,
  logger: Logger,
  options: Pick<PipelineOptions, 'wrapBackend' | 'openBackend' | 'sortBuffers' | 'syncGuard'> = {},
): Promise<AssembledRouter> {
  const views = config.forests.map(compileForestView);
  const namespace = new NamespaceMap(views);
  const forests = await Promise.all(
    config.forests.map(async (f, i) => {
      const backend = options.openBackend?.(f) ?? (await openForest(f, i, logger));
      return {
        name: f.name,
        mount: views[i].mount,
        priority: f.priority,
        view: views[i],
        hides: (attribute: string) => views[i].upstreamName(attribute) === undefined,
        backend,
        directory: new NamespaceStage(views[i], namespace, options.wrapBackend?.(f.name, backend) ?? backend),
      };
    }),
  );
  const router = new ForestRouter(forests, {
    suffix: config.namespace && Dn.parse(config.namespace.suffix),
    uniqueAttributes: config.namespace?.uniqueAttributes ?? [],
    onDuplicate: config.namespace?.onDuplicate ?? 'all',
    onForestError: config.namespace?.onForestError ?? 'fail',
    maxSortEntries: config.limits.maxSortEntries,
    sortBuffers: options.sortBuffers,
    ...(options.syncGuard && { guard: options.syncGuard }),
    logger,
  });
  return { namespace, forests, router };
}

/** The forest's backend, speaking the forest's own namespace. */
export async function openForest(forest: ForestConfig, index: number, logger: Logger): Promise<Directory> {
  if (forest.backend === 'ldap') return openLdapForest(forest, logger);
  const sources = await Promise.all(
    forest.ldif.map(async (file, j) => {
      try {
        // Checked here to name the key; read piece by piece as it is parsed, never whole (ldif-file.ts).
        const handle = await open(file, 'r');
        const info = await handle.stat().finally(() => handle.close());
        if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: info.isDirectory() ? 'EISDIR' : 'not a regular file' });
        return { name: file, text: ldifFile(file) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new ConfigErrors([new ConfigError(['forests', index, 'ldif', j], `cannot read ${file}: ${code}`)]);
      }
    }),
  );
  const ad = forest.profile === 'ad' ? { maxValRange: forest.maxValRange, referrals: forest.referrals } : undefined;
  const directory = MemoryDirectory.fromLdif({ suffix: Dn.parse(forest.base), sources, ad });
  logger.info({ forest: forest.name, backend: forest.backend, entries: directory.size }, 'forest loaded');
  return directory;
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port === '' ? (u.protocol === 'ldaps:' ? 636 : 389) : Number(u.port) };
}

/** The certificate, key, client CAs and CRLs at `tls`'s paths when they differ from those served, checked; else undefined. */
async function renewedTls(tls: NonNullable<LoadedConfig['tls']>, served: ServedTls) {
  const read = await readTls(tls);
  const same = (a: Buffer | undefined, b: Buffer | undefined) => (a && b ? a.equals(b) : a === b);
  if (read.cert.equals(served.cert) && read.key.equals(served.key) && same(read.clientCa, served.clientCa) && same(read.clientCrl, served.clientCrl)) return undefined;
  try {
    createSecureContext({ ...read, ca: read.clientCa, crl: read.clientCrl });
  } catch (err) {
    throw new ConfigErrors([new ConfigError(['tls'], `${tls.certFile} and ${tls.keyFile} cannot be served together (${(err as Error).message})`)]);
  }
  return { tls: read };
}

interface ServedTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly passphrase?: string;
  readonly clientCa?: Buffer;
  readonly clientCrl?: Buffer;
}

async function readTls(tls: NonNullable<LoadedConfig['tls']>): Promise<ServedTls> {
  const read = async (file: string, key: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new ConfigErrors([new ConfigError(['tls', key], `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`)]);
    }
  };
  const clientCa = tls.clientCa === undefined ? undefined : await read(tls.clientCa, 'clientCa');
  if (clientCa && !clientCa.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigErrors([new ConfigError(['tls', 'clientCa'], `${tls.clientCa} holds no PEM certificate`)]);
  }
  const clientCrl = tls.clientCrl === undefined ? undefined : await read(tls.clientCrl, 'clientCrl');
  if (clientCrl && !clientCrl.toString('latin1').includes('-----BEGIN X509 CRL-----')) {
    throw new ConfigErrors([new ConfigError(['tls', 'clientCrl'], `${tls.clientCrl} holds no PEM certificate revocation list`)]);
  }
  return {
    cert: await read(tls.certFile, 'certFile'),
    key: await read(tls.keyFile, 'keyFile'),
    passphrase: tls.password,
    ...(clientCa && { clientCa }),
    ...(clientCrl && { clientCrl }),
  };
}
