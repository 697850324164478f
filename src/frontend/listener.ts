import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ResultCache } from '../cache/result-cache.js';
import type { Directory } from '../core/directory.js';
import type { Authenticator } from '../core/identity.js';
import { addressMatcher } from '../core/cidr.js';
import type { SchemaUsage } from '../core/schema-usage.js';
import { metrics } from '../observability/metrics.js';
import { accessLogFilter, type AccessLogOptions } from './access-log.js';
import { Admission, type Refusal } from './admission.js';
import { Connection, type ConnectionLimits, type DisconnectNotice, type ReloadEffect } from './connection.js';
import type { DropAfterPage } from './search-responder.js';
import { subschemaSource } from './subschema.js';
import type { OperationObserver } from './operation-observer.js';
import { TlsHandshakes, type TlsMaterial, type VerifyClient } from './tls-handshakes.js';
import { ProxyHeaderError, readProxyHeader, type ClientAddress } from './proxy-protocol.js';

export interface FrontEndOptions {
  /** Plain LDAP (StartTLS offered when `tls` is set); port 0 = ephemeral. */
  readonly ldap?: { readonly host: string; readonly port: number };
  /** LDAPS; needs `tls`. */
  readonly ldaps?: { readonly host: string; readonly port: number };
  readonly tls?: TlsMaterial & {
    /** Client certificates: not asked for when absent. */
    readonly verifyClient?: VerifyClient;
  };
  readonly limits: ConnectionLimits & {
    readonly maxConnections: number;
    /** Connections from one client address; no limit when absent. */
    readonly maxConnectionsPerAddress?: number;
  };
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
  /** Load balancers (CIDR networks) whose connections start with a PROXY header naming the client; none: off. */
  readonly proxyProtocol?: { readonly from: readonly string[]; readonly headerTimeoutMs: number };
  /** What the served data uses, for the subschema entry (the mock directory's); every built-in definition is published when absent. */
  readonly schemaInUse?: () => readonly SchemaUsage[];
}

export interface FrontEnd {
  readonly ldapPort?: number;
  readonly ldapsPort?: number;
  readonly urls: string[];
  /** True while every listener accepts connections (readiness). */
  readonly listening: boolean;
  /** The certificate (and client CAs) for LDAPS handshakes and StartTLS from now on; connections already secure keep theirs. */
  replaceTls(material: TlsMaterial): void;
  /**
   * A configuration reload reaches the connections already open: those bound as an identity it
   * revokes are ended with its notice; paged searches end when what searches may see changed.
   * Called in the turn the new configuration takes over. Returns the counts.
   */
  reloaded(effect: ReloadEffect): { readonly disconnected: number; readonly pagedSearches: number };
  /**
   * Stops listening, lets running operations finish for up to `graceMs`, then ends every
   * connection, sending `notice` (a Notice of Disconnection) to each client still connected.
   */
  close(graceMs?: number, notice?: DisconnectNotice): Promise<void>;
}

/** Listens for LDAP and LDAPS clients and gives each socket its own Connection. */
export async function startFrontEnd(options: FrontEndOptions): Promise<FrontEnd> {
  if (options.ldaps && !options.tls) throw new Error('an LDAPS listener needs a TLS certificate and key');
  const log = options.logger;
  // Its certificate is replaced by replaceTls: read by each new LDAPS and StartTLS handshake.
  const tls = options.tls && new TlsHandshakes(options.tls, options.tls.verifyClient ?? 'never', log);
  const subschema = subschemaSource(options.schemaInUse);
  const connections = new Set<Connection>();
  /** Sockets still reading their PROXY header or in their TLS handshake: counted by admission, not yet connections. */
  const opening = new Set<Socket>();
  const accessLog = options.accessLog && accessLogFilter(options.accessLog);
  const admission = new Admission(options.limits.maxConnections, options.limits.maxConnectionsPerAddress ?? 0);
  const handshakeMs = options.limits.tlsHandshakeTimeoutMs;
  const refusals = new RefusalLog(log);
  const proxy = options.proxyProtocol?.from.length
    ? { fromBalancer: addressMatcher(options.proxyProtocol.from), headerTimeoutMs: options.proxyProtocol.headerTimeoutMs }
    : undefined;
  let nextId = 1;

  /**
   * Every TCP connection, LDAP or LDAPS, is admitted (counted under its client's address) until its
   * socket closes: at once, or behind a load balancer once its PROXY header has named the client.
   * `peer` is what everything downstream sees as the client (limits, throttle, logs).
   */
  const accept = (socket: Socket, open: (socket: Socket, peer: ClientAddress) => void): void => {
    socket.on('error', () => undefined); // a reset before the Connection exists must not crash
    // Read once: gone from the socket once it closes.
    const direct = { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
    if (!proxy?.fromBalancer(direct.address)) {
      if (admit(socket, direct)) open(socket, direct);
      return;
    }
    const refusal = admission.awaitHeader();
    if (refusal) return refuse(socket, direct, refusal);
    opening.add(socket);
    readProxyHeader(socket, proxy.headerTimeoutMs).then(
      (client) => {
        admission.headerRead();
        opening.delete(socket);
        const peer = client ?? direct;
        if (!admit(socket, peer)) return;
        open(socket, peer);
      },
      (err: Error) => {
        admission.headerRead();
        opening.delete(socket);
        // A balancer's TCP health check connects and closes without a byte: not worth a warning.
        const routine = err instanceof ProxyHeaderError && err.routine;
        log[routine ? 'debug' : 'warn']({ balancer: direct.address, err: err.message }, 'PROXY protocol header refused, connection closed');
        socket.destroy();
      },
    );
  };

  const refuse = (socket: Socket, peer: ClientAddress, refusal: Refusal): void => {
    metrics.connectionsRefused.inc({ limit: refusal.key });
    refusals.note(peer.address, refusal);
    socket.destroy();
  };

  const admit = (socket: Socket, peer: ClientAddress): boolean => {
    const address = peer.address;
    const refusal = admission.admit(address);
    if (refusal) {
      refuse(socket, peer, refusal);
      return false;
    }
    metrics.openConnections.inc();
    socket.once('close', () => {
      admission.release(address);
      metrics.openConnections.dec();
    });
    socket.setNoDelay(true);
    return true;
  };

  const serve = (socket: Socket, peer: ClientAddress): void => {
    const connection: Connection = new Connection(
      socket,
      { id: nextId++, peer, directory: options.directory, logger: log, limits: options.limits, tls, vendorVersion: options.vendorVersion, subschema, authenticator: options.authenticator, accessLog, dropAfterPage: options.dropAfterPage, resultCache: options.resultCache, observe: options.observe },
      () => connections.delete(connection),
    );
    connections.add(connection);
  };

  const acceptLdap = (socket: Socket): void =>
    accept(socket, (s, peer) => {
      serve(s, peer);
      s.resume(); // paused by a PROXY header's reader (a TLS handshake takes the socket paused)
    });

  /** LDAPS: the handshake runs on an admitted socket (after its PROXY header), within tlsHandshakeTimeoutMs, before the connection is served. */
  const acceptLdaps =
    (handshakes: TlsHandshakes) =>
    (socket: Socket): void =>
      accept(socket, (s, peer) => handshake(handshakes, s, peer));

  const handshake = (handshakes: TlsHandshakes, socket: Socket, peer: ClientAddress): void => {
    opening.add(socket);
    const timer =
      handshakeMs === undefined
        ? undefined
        : setTimeout(() => {
            log.info({ peer: peer.address }, 'TLS handshake timed out (limits.tlsHandshakeTimeoutSeconds)');
            socket.destroy();
          }, handshakeMs);
    const settle = (): void => {
      clearTimeout(timer);
      opening.delete(socket);
    };
    socket.once('close', settle);
    handshakes.start(socket, peer.address, (secure) => {
      settle();
      socket.off('close', settle);
      serve(secure, peer);
    });
  };

  const servers: Server[] = [];
  const urls: string[] = [];
  let ldapPort: number | undefined;
  let ldapsPort: number | undefined;
  try {
    if (options.ldap) {
      const server = createTcpServer(acceptLdap);
      ldapPort = await listen(server, options.ldap.host, options.ldap.port);
      servers.push(server);
      urls.push(`ldap://${urlHost(options.ldap.host)}:${ldapPort}`);
    }
    if (options.ldaps && tls) {
      const server = createTcpServer(acceptLdaps(tls));
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
    replaceTls(material) {
      tls?.replace(material);
    },
    reloaded(effect) {
      let disconnected = 0;
      let pagedSearches = 0;
      for (const c of [...connections]) {
        const outcome = c.reloaded(effect);
        if (outcome.revoked) disconnected++;
        pagedSearches += outcome.pagedSearches;
      }
      return { disconnected, pagedSearches };
    },
    async close(graceMs = 0, notice) {
      const closing = Promise.all(servers.map(closeServer));
      if (graceMs > 0) {
        const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
        await Promise.race([Promise.all([...connections].map((c) => c.idle())), grace]);
      }
      // One line for all of them: a shutdown may end thousands of connections.
      if (notice && connections.size > 0) log.info({ clients: connections.size, code: notice.code, reason: notice.reason }, 'notice of disconnection sent to the clients still connected');
      for (const c of connections) c.close(notice);
      for (const s of opening) s.destroy();
      await closing;
    },
  };
}

/**
 * The warning for refused connections, at most one a second (with how many were not logged since):
 * a client retrying in a loop at its cap must not flood the log.
 */
class RefusalLog {
  private last = -Infinity;
  private suppressed = 0;

  constructor(private readonly log: Logger) {}

  note(peer: string, refusal: Refusal): void {
    const now = performance.now();
    if (now - this.last < 1000) {
      this.suppressed++;
      return;
    }
    this.log.warn({ peer, limit: `limits.${refusal.key}`, max: refusal.limit, ...(this.suppressed > 0 && { suppressed: this.suppressed }) }, 'connection refused');
    this.last = now;
    this.suppressed = 0;
  }
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
