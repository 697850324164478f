import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Revocation } from '../core/identity.js';
import { ResultCode } from '../core/result-codes.js';
import { decodeMessage } from '../protocol/decoder.js';
import { encodeNoticeOfDisconnection, encodeResult } from '../protocol/encoder.js';
import { FramingError, MessageFramer } from '../protocol/framing.js';
import { ExtendedOid, Op } from '../protocol/tags.js';
import { clientCertificateOf } from './client-certificate.js';
import { isWrite, OperationHandler, unsupportedCritical, type OperationHandlerOptions, type ResponseSink } from './operation-handler.js';
import type { ClientAddress } from './proxy-protocol.js';
import type { SearchLimits } from './search-responder.js';
import type { TlsHandshakes } from './tls-handshakes.js';

export interface ConnectionLimits {
  readonly maxMessageBytes: number;
  /** The largest message while the connection is not bound; maxMessageBytes when absent. */
  readonly maxUnboundMessageBytes?: number;
  /** Operations of one connection running at once; reading pauses at this many. */
  readonly maxPendingOperations: number;
  /** 0 = off. */
  readonly idleTimeoutMs: number;
  /** The idle timeout while the connection is not bound; idleTimeoutMs when absent or 0. */
  readonly unboundIdleTimeoutMs?: number;
  /** How long a StartTLS handshake may take; no limit when absent. */
  readonly tlsHandshakeTimeoutMs?: number;
  /** Terms (assertions and and/or/not) of a search filter; no limit when absent. */
  readonly maxFilterTerms?: number;
  /** Server-side search limits; none when absent. */
  readonly search?: SearchLimits;
}

/** What a connection is given: its socket's facts and limits, and what its operation handler needs. */
export interface ConnectionOptions extends Omit<OperationHandlerOptions, 'connectionId' | 'peerAddress' | 'log' | 'rootDse' | 'searchLimits'> {
  readonly id: number;
  /** The client: the socket's other end, or the one a load balancer's PROXY header named. */
  readonly peer: ClientAddress;
  readonly logger: Logger;
  readonly limits: ConnectionLimits;
  /** Present when StartTLS is offered. */
  readonly tls?: TlsHandshakes;
  readonly vendorVersion: string;
}

/** Why the server ends a connection, told to the client in a Notice of Disconnection (RFC 4511 §4.4.1). */
export interface DisconnectNotice {
  readonly code: ResultCode;
  readonly reason: string;
}

/** What a configuration reload does to the connections already open. */
export interface ReloadEffect {
  /** Judges each connection's bound identity: one that no longer stands ends the connection, with `notice`. */
  readonly revoked?: Revocation;
  readonly notice: DisconnectNotice;
  /** Set when what searches may see changed: the paged searches open now end, their next page refused with this message. */
  readonly endPagedSearches?: string;
}

/** What a reload did to one connection. */
export interface ReloadOutcome {
  /** The connection was ended: the identity it was bound as no longer stands. */
  readonly revoked: boolean;
  /** Paged searches ended. */
  readonly pagedSearches: number;
}

/** How long a closing connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

/**
 * One client socket: framing → decoding → the operation handler, message-ID bookkeeping, abandon,
 * binds one at a time, StartTLS, and writing with backpressure. Operations run concurrently (up to
 * maxPendingOperations, then reading pauses); a search's entries are written in order, and the
 * directory's stream is pulled only while the socket accepts more. What an operation does, and its
 * log lines, metrics and journal entry, are the handler's (`operation-handler.ts`).
 */
export class Connection {
  private socket: Socket;
  private readonly framer: MessageFramer;
  private readonly inFlight = new Map<number, AbortController>();
  /** Writes under way (each runs to its end): a bind waits for them. */
  private readonly writes = new Set<Promise<void>>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly handler: OperationHandler;
  private readonly log: Logger;
  private secure: boolean;
  private upgrading = false;
  /** A bind is being processed: nothing else is read until it ends (RFC 4511 §4.2.1). */
  private binding = false;
  /** No more reading or writing: unbind, disconnect, shutdown or the socket closed. */
  private closed = false;
  /** The socket has closed and the listener was told. */
  private finished = false;

  constructor(
    socket: Socket,
    private readonly options: ConnectionOptions,
    private readonly onClosed: () => void,
  ) {
    this.socket = socket;
    this.secure = socket instanceof TLSSocket;
    this.framer = new MessageFramer(options.limits.maxMessageBytes);
    this.log = options.logger.child({ conn: options.id, peer: `${options.peer.address}:${options.peer.port}` });
    const sink: ResponseSink = {
      write: (message) => this.write(message),
      drained: (signal) => this.drained(signal),
      dropAfter: (last) => this.dropAfter(last),
      secure: () => this.secure,
      clientCertificate: () => (this.socket instanceof TLSSocket ? clientCertificateOf(this.socket) : undefined),
    };
    const rootDse = {
      startTls: options.tls !== undefined,
      saslMechanisms: options.tls?.requestsClientCertificates ? ['EXTERNAL'] : [],
      vendorVersion: options.vendorVersion,
    };
    const { directory, authenticator, subschema, accessLog, dropAfterPage, resultCache, observe } = options;
    this.handler = new OperationHandler(
      { connectionId: options.id, peerAddress: options.peer.address, log: this.log, rootDse, searchLimits: options.limits.search, directory, authenticator, subschema, accessLog, dropAfterPage, resultCache, observe },
      sink,
    );
    this.applySessionLimits();
    this.attach(socket);
    this.log.debug({ tls: this.secure }, 'connection opened');
  }

  /**
   * Ends the connection (server shutdown): outstanding operations are aborted. With a notice the
   * client is told why first, unless a StartTLS handshake has the socket (clear text would break it).
   */
  close(notice?: DisconnectNotice): void {
    if (notice && !this.closed && !this.upgrading) this.socket.write(encodeNoticeOfDisconnection(notice.code, notice.reason));
    this.end();
  }

  /**
   * A configuration reload: a connection bound as an identity it revokes is ended with its notice
   * (its operations aborted, its paged searches ended); otherwise its paged searches end when what
   * searches may see changed.
   */
  reloaded(effect: ReloadEffect): ReloadOutcome {
    if (this.closed) return { revoked: false, pagedSearches: 0 };
    if (effect.revoked && this.handler.revokedBy(effect.revoked)) {
      this.log.debug({ code: effect.notice.code, reason: effect.notice.reason }, 'disconnecting client: its bind no longer stands after a reload');
      this.close(effect.notice);
      return { revoked: true, pagedSearches: 0 };
    }
    return { revoked: false, pagedSearches: effect.endPagedSearches === undefined ? 0 : this.handler.endPagedSearches(effect.endPagedSearches) };
  }

  /**
   * Resolves when no operation of this connection is running and no paged search is open: a
   * graceful shutdown waits for both, so that a sync between two pages can read its last page
   * (sync clients such as Unified CM do not resume a cut sync elsewhere).
   */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.closed || (this.inFlight.size === 0 && this.handler.openCursors === 0);
  }

  private notifyIdle(): void {
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
    socket.setTimeout(this.idleTimeoutMs());
  }

  /**
   * What a connection that is not bound may do is smaller (slapd: 256 KiB messages for anonymous
   * sessions): a client that never binds cannot hold a large partial message or an idle socket for
   * long. Applied at the start and after each bind, successful or not.
   */
  private applySessionLimits(): void {
    const { maxMessageBytes, maxUnboundMessageBytes } = this.options.limits;
    if (this.bound || maxUnboundMessageBytes === undefined || maxUnboundMessageBytes >= maxMessageBytes) {
      this.framer.setLimit(maxMessageBytes, 'limits.maxMessageBytes');
    } else {
      this.framer.setLimit(maxUnboundMessageBytes, 'limits.maxUnboundMessageBytes: the connection has not bound');
    }
    if (!this.upgrading) this.socket.setTimeout(this.idleTimeoutMs());
  }

  private get bound(): boolean {
    return this.handler.bound;
  }

  private idleTimeoutMs(): number {
    const { idleTimeoutMs, unboundIdleTimeoutMs } = this.options.limits;
    return !this.bound && unboundIdleTimeoutMs ? unboundIdleTimeoutMs : idleTimeoutMs;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    this.framer.push(chunk);
    this.pump();
  };

  private readonly onDrain = (): void => this.pump();

  private readonly onError = (err: Error): void => {
    this.log.debug({ err: err.message }, 'connection error');
  };

  private readonly onClose = (): void => {
    if (this.finished) return; // after StartTLS both the TLS socket and the TCP one report it
    this.finished = true;
    this.closed = true;
    this.abortAll();
    this.log.debug('connection closed');
    this.onClosed();
  };

  private readonly onTimeout = (): void => {
    if (this.inFlight.size > 0) return;
    this.log.debug({ bound: this.bound }, 'idle connection closed');
    this.end();
  };

  /** Decodes and dispatches buffered messages while there is room for more operations. */
  private pump(): void {
    const limit = this.options.limits.maxPendingOperations;
    while (!this.closed && !this.upgrading && !this.binding && this.inFlight.size < limit && !this.socket.writableNeedDrain) {
      let message: Buffer | undefined;
      try {
        message = this.framer.next();
      } catch (err) {
        this.disconnect(ResultCode.protocolError, err instanceof FramingError ? err.message : 'framing error');
        return;
      }
      if (!message) break;
      try {
        this.dispatch(message);
      } catch (err) {
        this.log.error({ err }, 'dispatch failed');
        this.disconnect(ResultCode.other, 'internal error');
        return;
      }
    }
    if (this.closed || this.upgrading) return;
    if (this.binding || this.inFlight.size >= limit || this.socket.writableNeedDrain) this.socket.pause();
    else this.socket.resume();
  }

  private dispatch(message: Buffer): void {
    const decoded = decodeMessage(message, this.options.limits);
    if (decoded.kind === 'disconnect') {
      this.disconnect(ResultCode.protocolError, decoded.reason);
      return;
    }
    if (decoded.kind === 'reject') {
      this.handler.rejected(decoded.messageId, decoded.responseTag, decoded.error);
      return;
    }
    const { messageId, controls, request } = decoded;
    const critical = unsupportedCritical(request.op, controls);
    switch (request.op) {
      case 'abandon':
        // RFC 4511 §4.1.11: not performed with a critical control it does not know; Abandon has no response to say so.
        if (critical) return;
        this.inFlight.get(request.abandonId)?.abort();
        this.handler.abandoned(request.abandonId);
        this.notifyIdle();
        return;
      case 'unbind':
        this.end(); // the client ends the session whatever its controls say
        return;
    }
    if (critical) {
      this.handler.refuse(messageId, request.op, ResultCode.unavailableCriticalExtension, `critical control ${critical.oid} is not supported`);
      return;
    }
    if (this.inFlight.has(messageId)) {
      this.handler.refuse(messageId, request.op, ResultCode.protocolError, `message ID ${messageId} is in use`);
      return;
    }
    if (request.op === 'extended' && request.oid === ExtendedOid.startTls) {
      this.startTls(messageId);
      return;
    }
    if (request.op === 'bind') this.startBind();
    const controller = new AbortController();
    this.inFlight.set(messageId, controller);
    // A bind waits for the writes before it, which run to their end whatever happens to the client
    // (OperationHandler): a client that binds between writes leaves one login's writes behind at most.
    const writesBefore = request.op === 'bind' && this.writes.size > 0 ? Promise.allSettled([...this.writes]) : undefined;
    const handled = writesBefore
      ? writesBefore.then(() => this.handler.handle(messageId, request, controls, controller.signal))
      : this.handler.handle(messageId, request, controls, controller.signal);
    if (isWrite(request)) {
      this.writes.add(handled);
      void handled.finally(() => this.writes.delete(handled));
    }
    void handled.finally(() => {
      this.inFlight.delete(messageId);
      if (request.op === 'bind') {
        this.binding = false;
        this.applySessionLimits(); // the identity changed, or the bind failed and left the connection anonymous
      }
      this.notifyIdle();
      this.pump();
    });
  }

  /**
   * RFC 4511 §4.2.1: a bind abandons the operations still outstanding (as slapd does), so nothing
   * started under the old identity answers after it, and the requests behind it wait for its
   * result: binds on one connection are checked one after another, never overlapping.
   */
  private startBind(): void {
    for (const c of this.inFlight.values()) c.abort();
    this.binding = true;
  }

  /**
   * Messages written in one turn of the event loop (a search's entries, the results of operations
   * answered together) leave in one write: a system call per message costs more than encoding it. `write` still answers false once the socket's buffer
   * is full, so backpressure is unchanged.
   */
  private writeBatched(message: Buffer): boolean {
    const socket = this.socket;
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    return socket.write(message);
  }

  /** Resolves when the socket wants more, closes, or the operation is aborted. */
  private drained(signal: AbortSignal): Promise<void> {
    const socket = this.socket;
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
      signal.addEventListener('abort', done);
    });
  }

  /** StartTLS (RFC 4511 §4.14): answer success in clear, then run the TLS handshake on the same socket. */
  private startTls(messageId: number): void {
    const started = performance.now();
    // A refusal is an operation like any other: answered, counted, journalled and logged.
    const refuse = (code: ResultCode, message: string): void => {
      this.write(encodeResult(messageId, Op.extendedResponse, code, '', message, { responseName: ExtendedOid.startTls }));
      this.handler.startTlsAnswered(messageId, started, code, message);
    };
    const handshakes = this.options.tls;
    if (!handshakes) return refuse(ResultCode.protocolError, 'StartTLS is not configured');
    if (this.secure) return refuse(ResultCode.operationsError, 'TLS is already established');
    if (this.inFlight.size > 0) return refuse(ResultCode.operationsError, 'operations are outstanding');
    // Bytes after the request would be read as clear text inside the TLS session (RFC 4511 §4.14.1).
    if (this.framer.bufferedBytes > 0) return refuse(ResultCode.operationsError, 'requests were sent after StartTLS');
    const plain = this.socket;
    // Stop reading before answering: the client's next bytes are its TLS handshake.
    this.upgrading = true;
    plain.pause();
    plain.off('data', this.onData);
    plain.off('drain', this.onDrain);
    plain.setTimeout(0);
    plain.off('timeout', this.onTimeout);
    plain.write(encodeResult(messageId, Op.extendedResponse, ResultCode.success, '', '', { responseName: ExtendedOid.startTls }), () => {
      if (this.closed) return;
      this.secure = true; // nothing is said in clear any more
      const handshakeMs = this.options.limits.tlsHandshakeTimeoutMs;
      const timer = handshakeMs === undefined ? undefined : setTimeout(() => this.handshakeTimedOut(), handshakeMs);
      plain.once('close', () => clearTimeout(timer));
      handshakes.start(plain, this.options.peer.address, (tls) => {
        clearTimeout(timer);
        this.socket = tls;
        this.attach(tls);
        this.upgrading = false;
        this.log.debug('StartTLS established');
        this.pump();
      });
    });
    this.handler.startTlsAnswered(messageId, started, ResultCode.success);
  }

  /** A StartTLS handshake that did not finish in time: the connection is dropped (nothing can be said in clear any more). */
  private handshakeTimedOut(): void {
    this.log.info('StartTLS handshake timed out (limits.tlsHandshakeTimeoutSeconds)');
    this.socket.destroy();
  }

  /** Nothing is written once the connection is closing; true then, so that a search goes on to notice its abort. */
  private write(message: Buffer): boolean {
    return this.closed || this.writeBatched(message);
  }

  /** Writes `last`, then destroys the socket without a Notice of Disconnection, as a crashed server would. */
  private dropAfter(last: Buffer): void {
    if (this.closed) return;
    this.closed = true;
    this.abortAll();
    const socket = this.socket;
    socket.write(last, () => socket.destroy());
    this.log.info('connection dropped');
  }

  /** Notice of Disconnection, then close. */
  private disconnect(code: ResultCode, reason: string): void {
    if (this.closed) return;
    this.log.info({ code, reason }, 'disconnecting client');
    this.close({ code, reason });
  }

  private end(): void {
    if (!this.closed) {
      this.closed = true;
      this.abortAll();
      this.notifyIdle();
      this.socket.end();
      this.socket.resume(); // discard whatever the client still sends
      const grace = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
      this.socket.once('close', () => clearTimeout(grace)); // the usual end: the client closes too
    }
  }

  private abortAll(): void {
    for (const c of this.inFlight.values()) c.abort();
    this.handler.end();
  }
}
