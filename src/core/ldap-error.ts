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
  ) {
    super(message);
    this.name = `LdapError(${resultName(code)})`;
  }
}

/** Normalises anything thrown while serving an operation into an LdapError (unknown faults are `other`). */
export function toLdapError(err: unknown): LdapError {
  if (err instanceof LdapError) return err;
  if (err instanceof RangeError) {
    return new LdapError(ResultCode.unwillingToPerform, 'request too complex to evaluate');
  }
  return new LdapError(ResultCode.other, 'internal error');
}
