import { ResultCodeError } from 'ldapts';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode, resultName } from '../../core/result-codes.js';

/** The result an upstream server last sent on a connection: ldapts errors drop matchedDN and keep only a message. */
export interface UpstreamResult {
  readonly matchedDn: string;
  readonly message: string;
  /** The referral field's URLs of a referral (10) result. */
  readonly referral?: readonly string[];
}

/**
 * True when an error means the server (or the connection to it) failed rather than the request:
 * socket errors, TLS failures, timeouts, and the server saying it is busy or unavailable.
 */
export function isServerFailure(err: unknown): boolean {
  if (err instanceof LdapError) return false;
  if (err instanceof ResultCodeError) return err.code === ResultCode.busy || err.code === ResultCode.unavailable;
  return true;
}

/** An upstream result code reaches the caller unchanged; matchedDN stays in the forest's terms. */
export function upstreamError(err: unknown, last: UpstreamResult | undefined): LdapError {
  if (err instanceof LdapError) return err;
  if (err instanceof ResultCodeError) {
    const message = last?.message || err.message.replace(/ Code: 0x[0-9a-f]+$/, '');
    return new LdapError(err.code as ResultCode, message || resultName(err.code), last?.matchedDn ?? '');
  }
  return new LdapError(ResultCode.other, describeFailure(err));
}

/** A short reason for logs and error messages (no stack, no multi-line socket details). */
export function describeFailure(err: unknown): string {
  if (err instanceof ResultCodeError) return `${resultName(err.code)} (${err.code})`;
  const e = err as NodeJS.ErrnoException;
  const text = e instanceof Error ? e.message.split('\n').filter(Boolean).at(-1) ?? e.message : String(err);
  return e.code && !text.includes(e.code) ? `${e.code}: ${text}` : text;
}
