import { readFile } from 'node:fs/promises';
import { ConfigError, ConfigErrors } from './config/config-error.js';
import type { LoadedConfig } from './config/load.js';
import type { ForestConfig } from './config/schema.js';
import { Dn } from './core/dn.js';
import type { Directory } from './core/directory.js';
import { MemoryDirectory } from './backends/memory/memory-directory.js';
import { startFrontEnd, type FrontEnd } from './frontend/listener.js';
import { createLogger, type Logger } from './observability/logger.js';
import { NamespaceRouter } from './router/namespace-router.js';
import { NamespaceMap } from './stages/namespace/namespace-map.js';
import { NamespaceStage } from './stages/namespace/namespace-stage.js';
import { compileForestView } from './stages/namespace/forest-view.js';
import { AccessPolicy } from './stages/access/access-policy.js';
import { AccessStage } from './stages/access/access-stage.js';
import { assembleAuthenticator } from './authentication.js';
import { openLdapForest } from './backends/ldap/ldap-directory.js';
import { version } from './version.js';

export interface RunningServer {
  readonly urls: readonly string[];
  readonly ldapPort?: number;
  readonly ldapsPort?: number;
  readonly directory: Directory;
  close(): Promise<void>;
}

export interface ServerOptions {
  readonly logger?: Logger;
  /** Wraps each forest's backend (below its namespace stage): to count the operations it receives, to inject faults. */
  readonly wrapBackend?: (forest: string, directory: Directory) => Directory;
  /** Supplies a forest's backend instead of opening it from the configuration (the mock directory's, already loaded). */
  readonly openBackend?: (forest: ForestConfig) => Directory | undefined;
}

/**
 * The one place that turns a configuration into a running stack:
 * backends → namespace stage per forest → router → access stage → front end (with the authenticator).
 */
export async function startServer(config: LoadedConfig, options: ServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logging.level);
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
  const directory = new AccessStage(new AccessPolicy(config.access ?? []), router);
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
    });
  } catch (err) {
    await directory.close();
    throw err;
  }
  logger.info({ urls: frontEnd.urls, forests: forests.map((f) => f.name) }, 'canopy listening');
  return {
    urls: frontEnd.urls,
    ldapPort: frontEnd.ldapPort,
    ldapsPort: frontEnd.ldapsPort,
    directory,
    async close() {
      await frontEnd.close();
      await directory.close();
      logger.flush();
    },
  };
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
  const ad = forest.profile === 'ad' ? { maxValRange: forest.maxValRange } : undefined;
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
