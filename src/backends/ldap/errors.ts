import type { Control } from 'ldapts';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode, resultName } from '../../core/result-codes.js';

/** What a server answered to one request: its LDAPResult, with what ldapts would drop. */
export interface UpstreamReply {
  readonly status: number;
  readonly matchedDn: string;
  readonly message: string;
  /** The referral field's URLs of a referral (10) result. */
  readonly referral?: readonly string[];
  readonly controls: readonly Control[];
}

/** The connection's socket closed before the request was sent: nothing reached the server. */
export class ConnectionLost extends Error {
  constructor() {
    super('connection closed before the request was sent');
  }
}

/** No answer within the operation timeout (the server may be stopped or overloaded). */
export class OperationTimeout extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms} ms`);
  }
}

/** The server answered with a result code the request does not accept. */
export class UpstreamRefusal extends Error {
  constructor(readonly reply: UpstreamReply) {
    super(`${resultName(reply.status)} (${reply.status})${reply.message ? `: ${reply.message}` : ''}`);
  }

  get code(): number {
    return this.reply.status;
  }
}

/**
 * True when an error means the server (or the connection to it) failed rather than the request:
 * socket errors, TLS failures, timeouts, and the server saying it is busy or unavailable.
 */
export function isServerFailure(err: unknown): boolean {
  if (err instanceof LdapError) return false;
  if (err instanceof UpstreamRefusal) return err.code === ResultCode.busy || err.code === ResultCode.unavailable;
  return true;
}

/** An upstream result code reaches the caller unchanged; matchedDN stays in the forest's terms. */
export function upstreamError(err: unknown): LdapError {
  if (err instanceof LdapError) return err;
  if (err instanceof UpstreamRefusal) {
    const { status, message, matchedDn } = err.reply;
    return new LdapError(status as ResultCode, message || resultName(status), matchedDn);
  }
  return new LdapError(ResultCode.other, clientReason(err), '', undefined, describeFailure(err));
}

/**
 * Why a server failed, as a client may hear it: a result code, a timeout or a socket error's code,
 * never the text of a socket error (which names addresses and ports); describeFailure is the log's.
 */
export function clientReason(err: unknown): string {
  if (err instanceof UpstreamRefusal || err instanceof LdapError) return `${resultName(err.code)} (${err.code})`;
  if (err instanceof OperationTimeout || err instanceof ConnectionLost) return err.message;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : 'the connection failed';
}

/** A short reason for logs and error messages (no stack, no multi-line socket details). */
export function describeFailure(err: unknown): string {
  if (err instanceof UpstreamRefusal) return `${resultName(err.code)} (${err.code})`;
  const e = err as NodeJS.ErrnoException;
  const text = e instanceof Error ? e.message.split('\n').filter(Boolean).at(-1) ?? e.message : String(err);
  return e.code && !text.includes(e.code) ? `${e.code}: ${text}` : text;
}
