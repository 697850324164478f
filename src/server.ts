import { readFile } from 'node:fs/promises';
import { ConfigError, ConfigErrors } from './config/config-error.js';
import type { LoadedConfig } from './config/load.js';
import type { ForestConfig } from './config/schema.js';
import { Dn } from './core/dn.js';
import type { Directory } from './core/directory.js';
import { MemoryDirectory } from './backends/memory/memory-directory.js';
import { startFrontEnd, type FrontEnd } from './frontend/listener.js';
import type { DropAfterPage } from './frontend/search-responder.js';
import { createLogger, type Logger } from './observability/logger.js';
import { NamespaceRouter, type RoutedForest } from './router/namespace-router.js';
import { NamespaceMap } from './stages/namespace/namespace-map.js';
import { NamespaceStage } from './stages/namespace/namespace-stage.js';
import { compileForestView } from './stages/namespace/forest-view.js';
import { AccessPolicy } from './stages/access/access-policy.js';
import { AccessStage } from './stages/access/access-stage.js';
import { CacheInvalidation } from './cache/cache-invalidation.js';
import { ResultCache } from './cache/result-cache.js';
import { assembleAuthenticator, type AssembledForest } from './authentication.js';
import { LdapDirectory, openLdapForest } from './backends/ldap/ldap-directory.js';
import { startAdminServer, type AdminServer } from './http/admin-server.js';
import { checkReadiness, type ForestCheck } from './http/readiness.js';
import { registry } from './observability/metrics.js';
import { version } from './version.js';

export interface RunningServer {
  readonly urls: readonly string[];
  readonly ldapPort?: number;
  readonly ldapsPort?: number;
  /** The port of the HTTP listener (/metrics, /healthz, /readyz), unless `http.enabled` is false. */
  readonly httpPort?: number;
  readonly directory: Directory;
  close(): Promise<void>;
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
}

/**
 * The one place that turns a configuration into a running stack:
 * backends → namespace stage per forest → router → cache invalidation → access stage → front end
 * (with the authenticator and the result cache).
 */
export async function startServer(config: LoadedConfig, options: ServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logging.level);
  const { namespace, forests, router } = await assembleRouter(config, logger, options);
  const cache = assembleCache(config, forests, logger, options.cacheClock);
  const directory = assembleAccess(config, cache ? new CacheInvalidation(cache, router) : router);
  const authenticator = assembleAuthenticator(config, namespace, forests, logger);
  let frontEnd: FrontEnd;
  try {
    frontEnd = await startFrontEnd({
      ldap: hostPort(config.listen.ldap),
      ldaps: config.tls ? hostPort(config.listen.ldaps) : undefined,
      tls: config.tls && (await readTls(config.tls)),
      limits: {
        maxMessageBytes: config.limits.maxMessageBytes,
        maxConnections: config.limits.maxConnections,
        maxPendingOperations: config.limits.maxPendingOperations,
        idleTimeoutMs: config.limits.idleTimeoutSeconds * 1000,
        search: {
          maxResultEntries: config.limits.maxResultEntries,
          maxPageSize: config.limits.maxPageSize,
          searchTimeMs: config.limits.searchTimeMs,
          maxCursors: config.limits.maxPagedSearches,
          cursorIdleMs: config.limits.pagedSearchIdleSeconds * 1000,
        },
      },
      directory,
      authenticator,
      logger,
      vendorVersion: version,
      dropAfterPage: options.dropAfterPage,
      resultCache: () => cache,
      accessLog: { enabled: config.logging.accessLog, sampleRate: config.logging.accessLogSampleRate },
    });
  } catch (err) {
    await directory.close();
    throw err;
  }
  let admin: AdminServer | undefined;
  if (config.http.enabled) {
    const checks = forestChecks(forests);
    try {
      admin = await startAdminServer({
        host: config.http.host,
        port: config.http.port,
        registry,
        readiness: () => checkReadiness(frontEnd.listening, checks),
        logger,
      });
    } catch (err) {
      await frontEnd.close();
      await directory.close();
      throw err;
    }
  }
  logger.info({ urls: frontEnd.urls, ...(admin && { http: admin.url }), forests: forests.map((f) => f.name) }, 'canopy listening');
  return {
    urls: frontEnd.urls,
    ldapPort: frontEnd.ldapPort,
    ldapsPort: frontEnd.ldapsPort,
    httpPort: admin?.port,
    directory,
    async close() {
      await frontEnd.close();
      // After the LDAP listener: /readyz says "not listening" while connections drain.
      await admin?.close();
      cache?.close();
      await directory.close();
      logger.flush();
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
  options: Pick<ServerOptions, 'wrapBackend' | 'openBackend'> = {},
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
        backend,
        directory: new NamespaceStage(views[i], namespace, options.wrapBackend?.(f.name, backend) ?? backend),
      };
    }),
  );
  const router = new NamespaceRouter(forests, {
    suffix: config.namespace && Dn.parse(config.namespace.suffix),
    uniqueAttributes: config.namespace?.uniqueAttributes ?? [],
    onDuplicate: config.namespace?.onDuplicate ?? 'all',
    onForestError: config.namespace?.onForestError ?? 'fail',
    maxSortEntries: config.limits.maxSortEntries,
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
        return { name: file, text: await readFile(file, 'utf8') };
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

async function readTls(tls: NonNullable<LoadedConfig['tls']>) {
  const read = async (file: string, key: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new ConfigErrors([new ConfigError(['tls', key], `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`)]);
    }
  };
  return { cert: await read(tls.certFile, 'certFile'), key: await read(tls.keyFile, 'keyFile'), passphrase: tls.password };
}
