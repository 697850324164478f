import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Directory } from '../core/directory.js';
import type { Authenticator } from '../core/identity.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { subschemaEntry } from './subschema.js';

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
}

export interface FrontEnd {
  readonly ldapPort?: number;
  readonly ldapsPort?: number;
  readonly urls: string[];
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

/** Listens for LDAP and LDAPS clients and gives each socket its own Connection. */
export async function startFrontEnd(options: FrontEndOptions): Promise<FrontEnd> {
  if (options.ldaps && !options.tls) throw new Error('an LDAPS listener needs a TLS certificate and key');
  const secureContext: SecureContext | undefined = options.tls && createSecureContext(options.tls);
  const subschema = subschemaEntry();
  const connections = new Set<Connection>();
  const log = options.logger;
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
      { id: nextId++, directory: options.directory, logger: log, limits: options.limits, secureContext, vendorVersion: options.vendorVersion, subschema, authenticator: options.authenticator },
      () => connections.delete(connection),
    );
    connections.add(connection);
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
    async close() {
      const closing = Promise.all(servers.map(closeServer));
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
