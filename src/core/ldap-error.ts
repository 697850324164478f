import { ResultCode, resultName } from './result-codes.js';

/** An error that ends an LDAP operation: it carries the result code the client receives. */
export class LdapError extends Error {
  constructor(
    readonly code: ResultCode,
    message: string,
    /** The longest existing DN above a missing one (noSuchObject), as the client should see it. */
    readonly matchedDn = '',
    /** The forest whose failure this is, when the message already names it (the router adds nothing). */
    readonly forest?: string,
    /**
     * What only the log may say (the upstream server's URL, the socket's error, the service account):
     * the message is what the client gets, and names no server.
     */
    readonly detail?: string,
  ) {
    super(message);
    this.name = `LdapError(${resultName(code)})`;
  }
}

const OUTAGE_CODES: readonly number[] = [ResultCode.unavailable, ResultCode.busy, ResultCode.other, ResultCode.operationsError];

/** A forest that could not answer (or a write whose outcome is unknown), as opposed to a directory answer (noSuchObject, limits, …). */
export function isOutage(err: unknown): boolean {
  return !(err instanceof LdapError) || OUTAGE_CODES.includes(err.code);
}

/** An error's message with what only the log may say (`detail`), for log lines, readiness and doctor. */
export function loggedMessage(err: LdapError): string {
  return err.detail === undefined ? err.message : `${err.message} [${err.detail}]`;
}

/** Normalises anything thrown while serving an operation into an LdapError (unknown faults are `other`). */
export function toLdapError(err: unknown): LdapError {
  if (err instanceof LdapError) return err;
  if (err instanceof RangeError) {
    return new LdapError(ResultCode.unwillingToPerform, 'request too complex to evaluate');
  }
  return new LdapError(ResultCode.other, 'internal error');
}
