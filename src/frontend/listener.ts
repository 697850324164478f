import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { ResultCache } from '../cache/result-cache.js';
import type { Directory } from '../core/directory.js';
import type { Authenticator } from '../core/identity.js';
import { metrics } from '../observability/metrics.js';
import { accessLogFilter, type AccessLogOptions } from './access-log.js';
import { Connection, type ConnectionLimits } from './connection.js';
import type { DropAfterPage } from './search-responder.js';
import { subschemaEntry } from './subschema.js';
import type { OperationObserver } from './operation-observer.js';

export interface FrontEndOptions {
  /** Plain LDAP (StartTLS offered when `tls` is set); port 0 = ephemeral. */
  readonly ldap?: { readonly host: string; readonly port: number };
  /** LDAPS; needs `tls`. */
  readonly ldaps?: { readonly host: string; readonly port: number };
  readonly tls?: { readonly cert: Buffer | string; readonly key: Buffer | string; readonly ca?: Buffer | string };
  readonly limits: ConnectionLimits & { readonly maxConnections: number };
  /** The assembled pipeline. */
  readonly directory: Directory;
  /** Checks named simple binds (local accounts, forest logins). */
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  readonly vendorVersion: string;
  /** The per-operation access log; every operation is logged when absent. */
  readonly accessLog?: AccessLogOptions;
  /** Told of each operation once answered (the mock directory's journal). */
  readonly observe?: OperationObserver;
  /** Drops a client's connection after a page of a paged search (the mock directory's fault switches). */
  readonly dropAfterPage?: DropAfterPage;
  /** The result cache of the pipeline serving now, asked per search (a reload may replace it). */
  readonly resultCache?: () => ResultCache | undefined;
}

export interface FrontEnd {
  readonly ldapPort?: number;
  readonly ldapsPort?: number;
  readonly urls: string[];
  /** True while every listener accepts connections (readiness). */
  readonly listening: boolean;
  /** Stops listening, lets running operations finish for up to `graceMs`, then ends every connection. */
  close(graceMs?: number): Promise<void>;
}

/** Listens for LDAP and LDAPS clients and gives each socket its own Connection. */
export async function startFrontEnd(options: FrontEndOptions): Promise<FrontEnd> {
  if (options.ldaps && !options.tls) throw new Error('an LDAPS listener needs a TLS certificate and key');
  const secureContext: SecureContext | undefined = options.tls && createSecureContext(options.tls);
  const subschema = subschemaEntry();
  const connections = new Set<Connection>();
  const log = options.logger;
  const accessLog = options.accessLog && accessLogFilter(options.accessLog);
  let nextId = 1;

  const accept = (socket: Socket): void => {
    socket.on('error', () => undefined); // a reset before the Connection exists must not crash
    if (connections.size >= options.limits.maxConnections) {
      log.warn({ peer: socket.remoteAddress, limit: options.limits.maxConnections }, 'connection refused: too many connections');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const connection: Connection = new Connection(
      socket,
      { id: nextId++, directory: options.directory, logger: log, limits: options.limits, secureContext, vendorVersion: options.vendorVersion, subschema, authenticator: options.authenticator, accessLog, dropAfterPage: options.dropAfterPage, resultCache: options.resultCache, observe: options.observe },
      () => {
        connections.delete(connection);
        metrics.openConnections.dec();
      },
    );
    connections.add(connection);
    metrics.openConnections.inc();
  };

  const servers: Server[] = [];
  const urls: string[] = [];
  let ldapPort: number | undefined;
  let ldapsPort: number | undefined;
  try {
    if (options.ldap) {
      const server = createTcpServer(accept);
      ldapPort = await listen(server, options.ldap.host, options.ldap.port);
      servers.push(server);
      urls.push(`ldap://${urlHost(options.ldap.host)}:${ldapPort}`);
    }
    if (options.ldaps && options.tls) {
      const server = createTlsServer({ ...options.tls }, accept);
      server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
      ldapsPort = await listen(server, options.ldaps.host, options.ldaps.port);
      servers.push(server);
      urls.push(`ldaps://${urlHost(options.ldaps.host)}:${ldapsPort}`);
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
  return {
    ldapPort,
    ldapsPort,
    urls,
    get listening() {
      return servers.length > 0 && servers.every((s) => s.listening);
    },
    async close(graceMs = 0) {
      const closing = Promise.all(servers.map(closeServer));
      if (graceMs > 0) {
        const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
        await Promise.race([Promise.all([...connections].map((c) => c.idle())), grace]);
      }
      for (const c of connections) c.close();
      await closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
