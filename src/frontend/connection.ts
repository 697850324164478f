import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { ResultCache } from '../cache/result-cache.js';
import type { Directory, OperationContext, SearchRequest } from '../core/directory.js';
import type { Entry } from '../core/entry.js';
import { compileFilter } from '../core/filter-eval.js';
import { filterToLogString } from '../core/filter-text.js';
import { authzId, type Authenticator } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { PolicyError, type PolicyNotes } from '../core/password-policy.js';
import { ResultCode } from '../core/result-codes.js';
import { capLogged, LOGGED_VALUE_CHARS } from '../observability/logger.js';
import { decodeMessage, type Control, type LdapRequest } from '../protocol/decoder.js';
import {
  AttributeSelection,
  encodeNoticeOfDisconnection,
  encodeResult,
  encodeSearchEntry,
  type ResultExtras,
} from '../protocol/encoder.js';
import { FramingError, MessageFramer } from '../protocol/framing.js';
import { ControlOid, PASSWORD_CONTROLS, SEARCH_CONTROLS } from '../protocol/controls/oids.js';
import { passwordPolicyControl } from '../protocol/controls/password-policy.js';
import { ExtendedOid, Op } from '../protocol/tags.js';
import type { AccessLogFilter } from './access-log.js';
import { resolveRequestDn } from './alternative-dn-resolver.js';
import { recordOperation } from './operation-metrics.js';
import { rootDseAttributes, rootDseEntry } from './root-dse.js';
import { NO_SEARCH_LIMITS, SearchResponder, type DropAfterPage, type SearchLimits } from './search-responder.js';
import { changePassword, passwordModifyChange, unicodePwdChange, type PasswordChange, type PasswordChanger } from './password-modify.js';
import { resetRestriction } from './password-reset-restriction.js';
import { Session, type BindClient } from './session.js';
import { SUBSCHEMA_DN } from './subschema.js';
import type { OperationObserver } from './operation-observer.js';
import type { ClientAddress } from './proxy-protocol.js';
import { clientCertificateOf } from './client-certificate.js';
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

export interface ConnectionOptions {
  readonly id: number;
  /** The client: the socket's other end, or the one a load balancer's PROXY header named. */
  readonly peer: ClientAddress;
  readonly directory: Directory;
  readonly logger: Logger;
  readonly limits: ConnectionLimits;
  /** Present when StartTLS is offered. */
  readonly tls?: TlsHandshakes;
  readonly vendorVersion: string;
  /** The subschema subentry as it is now (it follows the data a mock directory holds). */
  readonly subschema: () => Entry;
  /** Checks named simple binds. */
  readonly authenticator: Authenticator;
  /** Which operations get an access log line (`logging.accessLog*`); all when absent. */
  readonly accessLog?: AccessLogFilter;
  /** Drops the connection after a page of a paged search (the mock directory's fault switches). */
  readonly dropAfterPage?: DropAfterPage;
  /** The result cache of the pipeline serving now, asked per search; none: every search goes to the directory. */
  readonly resultCache?: () => ResultCache | undefined;
  /** Told of each operation once answered (the mock directory's journal). */
  readonly observe?: OperationObserver;
}

/** What an operation ends with: the LDAPResult fields, plus what the log line reports. */
interface Outcome {
  readonly code: ResultCode;
  readonly message?: string;
  readonly matchedDn?: string;
  readonly extras?: ResultExtras;
  readonly entries?: number;
  readonly dropConnection?: boolean;
}

const RESPONSE: Record<LdapRequest['op'], number> = {
  bind: Op.bindResponse,
  search: Op.searchResultDone,
  modify: Op.modifyResponse,
  add: Op.addResponse,
  delete: Op.delResponse,
  modifyDn: Op.modDnResponse,
  compare: Op.compareResponse,
  extended: Op.extendedResponse,
  unbind: 0,
  abandon: 0,
};

/** The operation a rejected request was, known from the response it gets. */
const OP_OF_RESPONSE = new Map(Object.entries(RESPONSE).map(([op, tag]) => [tag, op]));

/** How long a closing connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

/**
 * One client connection: framing → decoding → dispatch, message-ID bookkeeping, abandon, StartTLS,
 * and writing with backpressure. Operations run concurrently (up to maxPendingOperations, then
 * reading pauses); a search's entries are written in order, and the directory's stream is pulled
 * only while the socket accepts more.
 */
export class Connection {
  private socket: Socket;
  private readonly framer: MessageFramer;
  private readonly inFlight = new Map<number, AbortController>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly session = new Session();
  private readonly searches: SearchResponder;
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
    this.applySessionLimits();
    const output = { write: (b: Buffer) => this.writeBatched(b), drained: (signal: AbortSignal) => this.drained(signal) };
    this.searches = new SearchResponder(options.directory, output, options.limits.search ?? NO_SEARCH_LIMITS, options.dropAfterPage, options.resultCache);
    this.log = options.logger.child({ conn: options.id, peer: `${options.peer.address}:${options.peer.port}` });
    this.attach(socket);
    this.log.debug({ tls: this.secure }, 'connection opened');
  }

  /** Ends the connection (server shutdown): outstanding operations are aborted. */
  close(): void {
    this.end();
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
    return this.closed || (this.inFlight.size === 0 && this.searches.openCursors === 0);
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
    return this.session.identity.kind !== 'anonymous';
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
      const { messageId, responseTag, error } = decoded;
      if (responseTag !== 0) {
        this.write(encodeResult(messageId, responseTag, error.code, error.matchedDn, error.message));
        recordOperation(OP_OF_RESPONSE.get(responseTag) ?? 'unknown', error.code);
      }
      this.log.info({ msgId: messageId, code: error.code, message: capLogged(error.message) }, 'request rejected');
      return;
    }
    const { messageId, controls, request } = decoded;
    const critical = unsupportedCritical(request.op, controls);
    switch (request.op) {
      case 'abandon':
        // RFC 4511 §4.1.11: not performed with a critical control it does not know; Abandon has no response to say so.
        if (critical) return;
        this.inFlight.get(request.abandonId)?.abort();
        this.searches.abandoned(request.abandonId);
        this.notifyIdle();
        return;
      case 'unbind':
        this.end(); // the client ends the session whatever its controls say
        return;
    }
    const responseTag = RESPONSE[request.op];
    if (critical) {
      const msg = `critical control ${critical.oid} is not supported`;
      this.write(encodeResult(messageId, responseTag, ResultCode.unavailableCriticalExtension, '', msg));
      recordOperation(request.op, ResultCode.unavailableCriticalExtension);
      return;
    }
    if (this.inFlight.has(messageId)) {
      this.write(encodeResult(messageId, responseTag, ResultCode.protocolError, '', `message ID ${messageId} is in use`));
      recordOperation(request.op, ResultCode.protocolError);
      return;
    }
    if (request.op === 'extended' && request.oid === ExtendedOid.startTls) {
      this.startTls(messageId);
      return;
    }
    if (request.op === 'bind') this.startBind();
    const controller = new AbortController();
    this.inFlight.set(messageId, controller);
    void this.execute(messageId, request, controls, controller.signal).finally(() => {
      this.inFlight.delete(messageId);
      if (request.op === 'bind') this.binding = false;
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

  /** Runs one operation and writes its result, unless it was abandoned or the connection closed. */
  private async execute(messageId: number, request: LdapRequest, controls: readonly Control[], signal: AbortSignal): Promise<void> {
    const started = performance.now();
    let outcome: Outcome;
    // The password policy state is noted only for a client that asked for the response control.
    const policy: PolicyNotes | undefined = controls.some((c) => c.oid === ControlOid.passwordPolicy) ? {} : undefined;
    try {
      outcome = await this.perform(messageId, request, controls, signal, policy);
    } catch (err) {
      if (!(err instanceof LdapError)) this.log.error({ err, msgId: messageId }, 'operation failed');
      const e = err instanceof LdapError ? err : new LdapError(ResultCode.other, 'internal error');
      outcome = { code: e.code, message: e.message, matchedDn: e.matchedDn };
    }
    const elapsed = performance.now() - started;
    const ms = Math.round(elapsed * 10) / 10;
    if (request.op === 'bind') {
      this.auditBind(request, outcome.code);
      this.applySessionLimits();
    }
    const code = signal.aborted ? undefined : outcome.code;
    this.options.observe?.({ connectionId: this.options.id, messageId, request, controls, code, entries: outcome.entries, identity: this.session.identity, secure: this.secure });
    const logged = this.options.accessLog?.(code) ?? true;
    if (signal.aborted) {
      if (logged) this.log.info({ msgId: messageId, ...describe(request), abandoned: true, ms }, 'operation');
      return;
    }
    const extras = policy?.state ? { ...outcome.extras, controls: [...(outcome.extras?.controls ?? []), passwordPolicyControl(policy.state)] } : outcome.extras;
    const result = encodeResult(messageId, RESPONSE[request.op], outcome.code, outcome.matchedDn, outcome.message, extras);
    if (outcome.dropConnection) this.dropAfter(result);
    else this.write(result);
    recordOperation(request.op, outcome.code, elapsed / 1000);
    if (!logged) return;
    this.log.info(
      {
        msgId: messageId,
        ...describe(request),
        code: outcome.code,
        ...(outcome.entries !== undefined && { entries: outcome.entries }),
        // A failure's diagnostic message (which forest, which server, why) as the client got it.
        ...(outcome.message && { message: capLogged(outcome.message, LOGGED_VALUE_CHARS) }),
        ms,
      },
      'operation',
    );
  }

  private async perform(
    messageId: number,
    request: LdapRequest,
    controls: readonly Control[],
    signal: AbortSignal,
    policy: PolicyNotes | undefined,
  ): Promise<Outcome> {
    const { directory } = this.options;
    const ctx: OperationContext = {
      signal,
      connectionId: this.options.id,
      boundDn: this.session.boundDn,
      identity: this.session.identity,
      session: this.session.resources,
      ...(policy && { policy }),
    };
    const restricted = resetRestriction(this.session.identity, request);
    if (restricted) {
      if (policy) policy.state = { error: PolicyError.changeAfterReset };
      throw restricted;
    }
    switch (request.op) {
      case 'bind':
        this.searches.releaseAll(); // paged searches belong to the identity that started them
        await this.session.bind(request.version, request.name, request.auth, this.options.authenticator, this.client(), ctx);
        return { code: ResultCode.success };
      case 'search': {
        const base = await resolveRequestDn(request.search.base, directory, ctx);
        return this.search(messageId, { ...request.search, base }, controls, ctx);
      }
      case 'add':
        await directory.add(request.entry, ctx);
        return { code: ResultCode.success };
      case 'modify': {
        const dn = await resolveRequestDn(request.dn, directory, ctx);
        const change = unicodePwdChange(dn, request.changes, this.secure);
        if (change) {
          await this.changePassword(change, ctx);
        } else {
          await directory.modify(dn, request.changes, ctx);
          // Allowed under a reset password's restriction only as a change of the user's own password.
          this.session.passwordChanged(ctx.identity);
        }
        return { code: ResultCode.success };
      }
      case 'delete':
        await directory.delete(await resolveRequestDn(request.dn, directory, ctx), ctx);
        return { code: ResultCode.success };
      case 'modifyDn':
        await directory.modifyDn(request.request, ctx);
        return { code: ResultCode.success };
      case 'compare': {
        const equal = await directory.compare(await resolveRequestDn(request.dn, directory, ctx), request.attribute, request.value, ctx);
        return { code: equal ? ResultCode.compareTrue : ResultCode.compareFalse };
      }
      case 'extended':
        if (request.oid === ExtendedOid.whoAmI) {
          const id = authzId(this.session.identity);
          return { code: ResultCode.success, extras: { responseValue: Buffer.from(id, 'utf8') } };
        }
        if (request.passwordModify) {
          await this.changePassword(passwordModifyChange(request.passwordModify), ctx);
          return { code: ResultCode.success };
        }
        // RFC 4511 §4.12: an unknown extended operation is a protocolError without responseName.
        return { code: ResultCode.protocolError, message: `unsupported extended operation ${request.oid}` };
      default:
        throw new LdapError(ResultCode.protocolError, `unexpected operation ${request.op}`);
    }
  }

  /** A password change; the bound user's own ends the restriction of a reset password. */
  private async changePassword(change: PasswordChange, ctx: OperationContext): Promise<void> {
    const changer: PasswordChanger = { directory: this.options.directory, authenticator: this.options.authenticator, client: this.client() };
    if (await changePassword(change, changer, ctx)) this.session.passwordChanged(ctx.identity);
  }

  private async search(messageId: number, request: SearchRequest, controls: readonly Control[], ctx: OperationContext): Promise<Outcome> {
    if (request.scope === 'base' && (request.base.isRoot || request.base.equals(SUBSCHEMA_DN))) {
      return this.searchServerEntry(messageId, request);
    }
    return this.searches.search(messageId, request, controls, ctx);
  }

  /** The root DSE and the subschema subentry: the front end's own entries, base scope only. */
  private searchServerEntry(messageId: number, request: SearchRequest): Outcome {
    const isRoot = request.base.isRoot;
    const entry = isRoot
      ? rootDseEntry(this.options.directory.namingContexts(), {
          startTls: this.options.tls !== undefined,
          saslMechanisms: this.options.tls?.requestsClientCertificates ? ['EXTERNAL'] : [],
          vendorVersion: this.options.vendorVersion,
        })
      : this.options.subschema();
    if (!compileFilter(request.filter)(entry)) return { code: ResultCode.success, entries: 0 };
    const attributes = rootDseAttributes(request.attributes);
    this.write(encodeSearchEntry(messageId, entry, AttributeSelection.compile(attributes, request.typesOnly)));
    return { code: ResultCode.success, entries: 1 };
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
      this.startTlsAnswered(messageId, started, code, message);
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
    this.startTlsAnswered(messageId, started, ResultCode.success);
  }

  private startTlsAnswered(messageId: number, started: number, code: ResultCode, message?: string): void {
    const elapsed = performance.now() - started;
    recordOperation('extended', code, elapsed / 1000);
    const request = { op: 'extended', oid: ExtendedOid.startTls } as const;
    this.options.observe?.({ connectionId: this.options.id, messageId, request, controls: [], code, identity: this.session.identity, secure: code === ResultCode.success || this.secure });
    if (this.options.accessLog?.(code) ?? true) {
      this.log.info({ msgId: messageId, op: 'startTLS', code, ...(message !== undefined && { message }), ms: Math.round(elapsed * 10) / 10 }, 'operation');
    }
  }

  /** A StartTLS handshake that did not finish in time: the connection is dropped (nothing can be said in clear any more). */
  private handshakeTimedOut(): void {
    this.log.info('StartTLS handshake timed out (limits.tlsHandshakeTimeoutSeconds)');
    this.socket.destroy();
  }

  /**
   * The bind audit line, whatever the access log settings: who (the name as sent; for SASL, the
   * mechanism and the client certificate's subject), from where (the logger's peer), which forest
   * checked it, and the result. The request's password never gets here.
   */
  private auditBind(request: Extract<LdapRequest, { op: 'bind' }>, code: ResultCode): void {
    const identity = this.session.identity;
    const forest = identity.kind === 'user' ? identity.forest : undefined;
    const certificate = request.auth.method === 'sasl' && this.socket instanceof TLSSocket ? clientCertificateOf(this.socket) : undefined;
    this.log.info(
      {
        bind: capLogged(request.name),
        ...(request.auth.method === 'sasl' && { mechanism: capLogged(request.auth.mechanism) }),
        ...(certificate?.state === 'verified' && { subject: capLogged(certificate.subject) }),
        identity: identity.kind,
        ...(identity.kind !== 'anonymous' && identity.dn && request.name === '' && { dn: capLogged(identity.dn.text) }),
        ...(forest !== undefined && { forest }),
        code,
      },
      'bind audit',
    );
  }

  /** What a bind needs to know about the client: its address (for throttling), whether TLS protects it, and its certificate. */
  private client(): BindClient {
    const socket = this.socket;
    return {
      peer: this.options.peer.address,
      secure: this.secure,
      ...(socket instanceof TLSSocket && { certificate: clientCertificateOf(socket) }),
    };
  }

  private write(buf: Buffer): void {
    if (!this.closed) this.writeBatched(buf);
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
    this.socket.write(encodeNoticeOfDisconnection(code, reason));
    this.end();
  }

  private end(): void {
    if (!this.closed) {
      this.closed = true;
      this.abortAll();
      this.notifyIdle();
      this.socket.end();
      this.socket.resume(); // discard whatever the client still sends
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    }
  }

  private abortAll(): void {
    for (const c of this.inFlight.values()) c.abort();
    this.searches.releaseAll();
    this.session.end(); // the bind ends with the connection, and so do the upstream connections it holds
  }
}

/** A critical control the operation does not implement must be refused; non-critical ones are ignored. */
function unsupportedCritical(op: LdapRequest['op'], controls: readonly Control[]): Control | undefined {
  const known = op === 'search' ? SEARCH_CONTROLS : op === 'bind' || op === 'modify' || op === 'extended' ? PASSWORD_CONTROLS : undefined;
  return controls.find((c) => c.critical && !known?.has(c.oid));
}

/** The fields of a request that its log line shows (never a password). */
function describe(request: LdapRequest): Record<string, unknown> {
  switch (request.op) {
    case 'bind':
      return { op: 'bind', dn: capLogged(request.name), method: request.auth.method, ...(request.auth.method === 'sasl' && { mechanism: capLogged(request.auth.mechanism) }) };
    case 'search': {
      const s = request.search;
      return { op: 'search', dn: capLogged(s.base.text), scope: s.scope, filter: filterToLogString(s.filter) };
    }
    case 'add':
      return { op: 'add', dn: capLogged(request.entry.dn.text) };
    case 'modify':
    case 'delete':
    case 'compare':
      return { op: request.op, dn: capLogged(request.dn.text) };
    case 'modifyDn':
      return { op: 'modifyDn', dn: capLogged(request.request.dn.text) };
    case 'extended':
      return { op: 'extended', oid: request.oid };
    default:
      return { op: request.op };
  }
}
