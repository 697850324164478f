import type { Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

/** Whether client certificates are asked for: `allow` accepts clients without one, `demand` refuses their handshake. */
export type VerifyClient = 'never' | 'allow' | 'demand';

/** What Canopy serves TLS with: its certificate and key, and the CAs that sign client certificates, with their revocations. */
export interface TlsMaterial {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
  readonly passphrase?: string;
  /** PEM CAs that sign client certificates; needed unless verifyClient is `never`. */
  readonly clientCa?: Buffer | string;
  /** PEM revocation lists of those CAs: OpenSSL then checks every client certificate against them. */
  readonly clientCrl?: Buffer | string;
}

/**
 * The server side of every TLS handshake, LDAPS and StartTLS alike. A bare server TLSSocket
 * neither checks a client certificate nor refuses an unverified one: only tls.Server does (it
 * sets `authorized` and `authorizationError`, and under `rejectUnauthorized` ends the socket).
 * So sockets are handed to a tls.Server that never listens ('connection' may be emitted by
 * users, net.Server's documentation says), and its events are routed back to the socket's owner.
 */
export class TlsHandshakes {
  private readonly server: TlsServer;
  /**
   * Handshakes under way, by the TCP connection's addresses (the TLS socket reports the same): the
   * client's address for the log (a PROXY header's, not the balancer's) and who gets the TLS socket.
   */
  private readonly pending = new Map<string, { readonly peer: string; readonly secure: (tls: TLSSocket) => void }>();

  constructor(
    material: TlsMaterial,
    readonly verifyClient: VerifyClient,
    private readonly log: Logger,
  ) {
    this.server = new TlsServer({
      ...contextOptions(material),
      requestCert: verifyClient !== 'never',
      // demand: a client without a certificate fails the handshake itself (certificate required),
      // one whose certificate does not verify is ended by tls.Server before it is served.
      rejectUnauthorized: verifyClient === 'demand',
    });
    this.server.on('secureConnection', (tls: TLSSocket) => {
      const key = addressKey(tls);
      const done = this.pending.get(key);
      this.pending.delete(key);
      if (done) done.secure(tls);
      else tls.destroy(); // its TCP socket closed meanwhile
    });
    this.server.on('tlsClientError', (err: Error, tls: TLSSocket) => {
      const peer = this.pending.get(addressKey(tls))?.peer ?? tls.remoteAddress;
      this.log.debug({ peer, err: err.message }, 'TLS handshake failed');
    });
  }

  /** Whether clients are asked for a certificate (SASL EXTERNAL can work). */
  get requestsClientCertificates(): boolean {
    return this.verifyClient !== 'never';
  }

  /** The certificate, key, client CAs and their revocation lists of new handshakes from now on; connections already secure keep theirs. */
  replace(material: TlsMaterial): void {
    this.server.setSecureContext(contextOptions(material));
  }

  /**
   * Runs a handshake on `socket` (the client speaks TLS next) from the client at `peer`; `secure`
   * gets the TLS socket once it is established and, where required, the client certificate
   * verified. A handshake that fails or is refused closes `socket`, and `secure` is never called.
   */
  start(socket: Socket, peer: string, secure: (tls: TLSSocket) => void): void {
    const key = addressKey(socket);
    const handshake = { peer, secure };
    this.pending.set(key, handshake);
    socket.once('close', () => {
      if (this.pending.get(key) === handshake) this.pending.delete(key);
    });
    this.server.emit('connection', socket);
  }
}

function contextOptions(material: TlsMaterial) {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.passphrase !== undefined && { passphrase: material.passphrase }),
    ...(material.clientCa !== undefined && { ca: material.clientCa }),
    ...(material.clientCrl !== undefined && { crl: material.clientCrl }),
  };
}

/** One TCP connection among those open: both ends' ports and the client's address. */
function addressKey(socket: Socket): string {
  return `${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
}
