import type { Logger } from 'pino';
import type { ResultCache } from '../cache/result-cache.js';
import type { Directory, OperationContext, SearchRequest } from '../core/directory.js';
import type { Entry } from '../core/entry.js';
import { Dn } from '../core/dn.js';
import { compileFilter } from '../core/filter-eval.js';
import { authzId, type Authenticator, type Revocation } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { PolicyError, type PolicyNotes } from '../core/password-policy.js';
import { ResultCode } from '../core/result-codes.js';
import { capLogged, LOGGED_VALUE_CHARS, writeInfoLine } from '../observability/logger.js';
import type { Control, LdapRequest } from '../protocol/decoder.js';
import { AttributeSelection, encodeResult, encodeSearchEntry } from '../protocol/encoder.js';
import { ControlOid, PASSWORD_CONTROLS, SEARCH_CONTROLS } from '../protocol/controls/oids.js';
import { passwordPolicyControl } from '../protocol/controls/password-policy.js';
import { ExtendedOid, Op } from '../protocol/tags.js';
import type { AccessLogFilter } from './access-log.js';
import { resolveRequestDn } from './alternative-dn-resolver.js';
import type { ClientCertificate } from './client-certificate.js';
import { recordOperation } from './operation-metrics.js';
import type { Outcome } from './outcome.js';
import { auditBind, requestFields } from './operation-log.js';
import type { OperationObserver } from './operation-observer.js';
import { changePassword, passwordModifyChange, unicodePwdChange, type PasswordChange, type PasswordChanger } from './password-modify.js';
import { resetRestriction } from './password-reset-restriction.js';
import { rootDseAttributes, rootDseEntry, type RootDseOptions } from './root-dse.js';
import { NO_SEARCH_LIMITS, SearchResponder, type DropAfterPage, type SearchLimits, type SearchOutput } from './search-responder.js';
import { Session, type BindClient } from './session.js';
import { SUBSCHEMA_DN } from './subschema.js';

/**
 * Where an operation handler's messages go, and what it may ask of the connection they travel on.
 * The connection implements it over its socket; a test implements it over an array.
 */
export interface ResponseSink extends SearchOutput {
  /** Writes an operation's last message, then drops the connection without a Notice of Disconnection, as a crashed server would. */
  dropAfter(last: Buffer): void;
  /** Whether TLS (LDAPS or StartTLS) protects the connection now. */
  secure(): boolean;
  /** What the client's TLS handshake proved; undefined without TLS. */
  clientCertificate(): ClientCertificate | undefined;
}

export interface OperationHandlerOptions {
  /** The connection's, for the operation context, the journal and the log. */
  readonly connectionId: number;
  /** The client's address, for the bind throttle and the shares of upstream paged searches. */
  readonly peerAddress: string;
  readonly directory: Directory;
  /** The connection's logger: every line names the connection and the client. */
  readonly log: Logger;
  /** Checks named simple binds and certificate binds. */
  readonly authenticator: Authenticator;
  /** What the root DSE says of this listener. */
  readonly rootDse: RootDseOptions;
  /** The subschema subentry as it is now (it follows the data a mock directory holds). */
  readonly subschema: () => Entry;
  /** Server-side search limits; none when absent. */
  readonly searchLimits?: SearchLimits;
  /** Which operations get an access log line (`logging.accessLog*`); all when absent. */
  readonly accessLog?: AccessLogFilter;
  /** Drops the connection after a page of a paged search (the mock directory's fault switches). */
  readonly dropAfterPage?: DropAfterPage;
  /** The result cache of the pipeline serving now, asked per search; none: every search goes to the directory. */
  readonly resultCache?: () => ResultCache | undefined;
  /** Told of each operation once answered (the mock directory's journal). */
  readonly observe?: OperationObserver;
}

/** The operations that get a response: every request but Abandon and Unbind. */
export type AnsweredOp = Exclude<LdapRequest['op'], 'abandon' | 'unbind'>;

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

/**
 * One connection's operations, without its socket: runs a decoded request against the session and
 * the directory, and answers it through a `ResponseSink`, with its access log line, bind audit line,
 * metrics and journal entry. The connection decides when a request runs (message IDs, abandon,
 * binds one at a time) and hands each its abort signal.
 */
export class OperationHandler {
  private readonly session = new Session();
  private readonly searches: SearchResponder;
  private readonly log: Logger;

  constructor(
    private readonly options: OperationHandlerOptions,
    private readonly sink: ResponseSink,
  ) {
    this.log = options.log;
    this.searches = new SearchResponder(options.directory, sink, options.searchLimits ?? NO_SEARCH_LIMITS, options.dropAfterPage, options.resultCache);
  }

  /** Whether the connection is bound (its limits are the unbound ones otherwise). */
  get bound(): boolean {
    return this.session.identity.kind !== 'anonymous';
  }

  /** Open paged searches: a graceful shutdown waits for them. */
  get openCursors(): number {
    return this.searches.openCursors;
  }

  /** A request the decoder refused under its message ID (bad DN, too many filter terms): answered when it has a response. */
  rejected(messageId: number, responseTag: number, error: LdapError): void {
    if (responseTag !== 0) {
      this.sink.write(encodeResult(messageId, responseTag, error.code, error.matchedDn, error.message));
      recordOperation(OP_OF_RESPONSE.get(responseTag) ?? 'unknown', error.code);
    }
    this.log.info({ msgId: messageId, code: error.code, message: capLogged(error.message) }, 'request rejected');
  }

  /** A request refused before it runs (a critical control it does not know, a message ID in use): answered and counted. */
  refuse(messageId: number, op: AnsweredOp, code: ResultCode, message: string): void {
    this.sink.write(encodeResult(messageId, RESPONSE[op], code, '', message));
    recordOperation(op, code);
  }

  /** The client abandoned `messageId` (the connection aborted it if it runs): a paged search it was a page of ends. */
  abandoned(messageId: number): void {
    this.searches.abandoned(messageId);
  }

  /** A reload's verdict on the bound identity: true when it no longer stands and the connection must end. */
  revokedBy(revoked: Revocation): boolean {
    return this.session.revokedBy(revoked);
  }

  /** A reload changed what searches may see: the paged searches open now end, their next page refused with `reason`; returns how many. */
  endPagedSearches(reason: string): number {
    return this.searches.endPagedSearches(reason);
  }

  /** The connection ended: its paged searches end, and its bind with the upstream connections it holds. */
  end(): void {
    this.searches.releaseAll();
    this.session.end();
  }

  /**
   * Runs one operation and answers it, unless `signal` aborted it (abandoned, a bind after it, the
   * connection closed): an aborted operation gets a log line and a journal entry but no response.
   */
  async handle(messageId: number, request: LdapRequest, controls: readonly Control[], signal: AbortSignal): Promise<void> {
    const started = performance.now();
    let outcome: Outcome;
    // The password policy state is noted only for a client that asked for the response control.
    const policy: PolicyNotes | undefined = controls.some((c) => c.oid === ControlOid.passwordPolicy) ? {} : undefined;
    try {
      outcome = await this.perform(messageId, request, controls, signal, policy);
    } catch (err) {
      if (!(err instanceof LdapError)) this.log.error({ err, msgId: messageId }, 'operation failed');
      const e = err instanceof LdapError ? err : new LdapError(ResultCode.other, 'internal error');
      outcome = { code: e.code, message: e.message, matchedDn: e.matchedDn, ...(e.detail !== undefined && { detail: e.detail }) };
    }
    const elapsed = performance.now() - started;
    const ms = Math.round(elapsed * 10) / 10;
    if (request.op === 'bind') {
      auditBind(this.log, request, this.session.identity, request.auth.method === 'sasl' ? this.sink.clientCertificate() : undefined, outcome.code);
    }
    const code = signal.aborted ? undefined : outcome.code;
    this.options.observe?.({ connectionId: this.options.connectionId, messageId, request, controls, code, entries: outcome.entries, identity: this.session.identity, secure: this.sink.secure() });
    const logged = this.options.accessLog?.(code) ?? true;
    if (signal.aborted) {
      if (logged) writeInfoLine(this.log, `,"msgId":${messageId}${requestFields(request)},"abandoned":true,"ms":${ms}`, 'operation');
      return;
    }
    const extras = policy?.state ? { ...outcome.extras, controls: [...(outcome.extras?.controls ?? []), passwordPolicyControl(policy.state)] } : outcome.extras;
    const result = encodeResult(messageId, RESPONSE[request.op], outcome.code, outcome.matchedDn, outcome.message, extras);
    if (outcome.dropConnection) this.sink.dropAfter(result);
    else this.sink.write(result);
    recordOperation(request.op, outcome.code, elapsed / 1000);
    if (!logged) return;
    const entries = outcome.entries === undefined ? '' : `,"entries":${outcome.entries}`;
    // A failure's diagnostic message (which forest, which server, why) as the client got it.
    const message = outcome.message ? `,"message":${JSON.stringify(capLogged(outcome.message, LOGGED_VALUE_CHARS))}` : '';
    const detail = outcome.detail ? `,"detail":${JSON.stringify(capLogged(outcome.detail, LOGGED_VALUE_CHARS))}` : '';
    writeInfoLine(this.log, `,"msgId":${messageId}${requestFields(request)},"code":${outcome.code}${entries}${message}${detail},"ms":${ms}`, 'operation');
  }

  /**
   * A StartTLS request the connection answered (`started`: when it arrived): a refusal is an
   * operation like any other, counted, journalled and logged, and so is the upgrade.
   */
  startTlsAnswered(messageId: number, started: number, code: ResultCode, message?: string): void {
    const elapsed = performance.now() - started;
    recordOperation('extended', code, elapsed / 1000);
    const request = { op: 'extended', oid: ExtendedOid.startTls } as const;
    this.options.observe?.({ connectionId: this.options.connectionId, messageId, request, controls: [], code, identity: this.session.identity, secure: code === ResultCode.success || this.sink.secure() });
    if (this.options.accessLog?.(code) ?? true) {
      this.log.info({ msgId: messageId, op: 'startTLS', code, ...(message !== undefined && { message }), ms: Math.round(elapsed * 10) / 10 }, 'operation');
    }
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
      // A write, once accepted, runs to its end: abandoning it (or a bind or the end of the
      // connection after it) only withholds its response (RFC 4511 §4.11 lets a server complete
      // it). So its outcome is always known, and a refused write, abandoned, is still refused:
      // whether the forest changed decides whether kept results are evicted for everyone.
      signal: isWrite(request) ? new AbortController().signal : signal,
      connectionId: this.options.connectionId,
      clientAddress: this.options.peerAddress,
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
        // A plain DN (most searches) needs no lookup: no async step for it. `return await`: one step fewer than returning the promise.
        const { search } = request;
        const searched = search.base instanceof Dn ? (search as SearchRequest) : { ...search, base: await resolveRequestDn(search.base, directory, ctx) };
        return await this.search(messageId, searched, controls, ctx);
      }
      case 'add':
        await directory.add(request.entry, ctx);
        return { code: ResultCode.success };
      case 'modify': {
        const dn = await resolveRequestDn(request.dn, directory, ctx);
        const change = unicodePwdChange(dn, request.changes, this.sink.secure());
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

  private search(messageId: number, request: SearchRequest, controls: readonly Control[], ctx: OperationContext): Promise<Outcome> {
    if (request.scope === 'base' && (request.base.isRoot || request.base.equals(SUBSCHEMA_DN))) {
      return Promise.resolve(this.searchServerEntry(messageId, request));
    }
    return this.searches.search(messageId, request, controls, ctx);
  }

  /** The root DSE and the subschema subentry: the front end's own entries, base scope only. */
  private searchServerEntry(messageId: number, request: SearchRequest): Outcome {
    const entry = request.base.isRoot ? rootDseEntry(this.options.directory.namingContexts(), this.options.rootDse) : this.options.subschema();
    if (!compileFilter(request.filter)(entry)) return { code: ResultCode.success, entries: 0 };
    const attributes = rootDseAttributes(request.attributes);
    this.sink.write(encodeSearchEntry(messageId, entry, AttributeSelection.compile(attributes, request.typesOnly)));
    return { code: ResultCode.success, entries: 1 };
  }

  /** What a bind needs to know about the client: its address (for throttling), whether TLS protects it, and its certificate. */
  private client(): BindClient {
    const certificate = this.sink.clientCertificate();
    return { peer: this.options.peerAddress, secure: this.sink.secure(), ...(certificate && { certificate }) };
  }
}

/** A critical control the operation does not implement must be refused; non-critical ones are ignored. */
export function unsupportedCritical(op: LdapRequest['op'], controls: readonly Control[]): Control | undefined {
  const known = op === 'search' ? SEARCH_CONTROLS : op === 'bind' || op === 'modify' || op === 'extended' ? PASSWORD_CONTROLS : undefined;
  return controls.find((c) => c.critical && !known?.has(c.oid));
}

/** Whether the request changes a directory: add, modify, delete, modifyDN, Password Modify. */
export function isWrite(request: LdapRequest): boolean {
  return WRITES.has(request.op) || (request.op === 'extended' && request.passwordModify !== undefined);
}

const WRITES: ReadonlySet<LdapRequest['op']> = new Set(['add', 'modify', 'delete', 'modifyDn']);
