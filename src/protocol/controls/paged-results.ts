import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import { BerError, BerReader, MAX_INT } from '../ber-reader.js';
import { berInt, berOctets, berTlv } from '../ber-writer.js';
import type { Control } from '../decoder.js';
import { ControlOid } from './oids.js';

/** realSearchControlValue ::= SEQUENCE { size INTEGER (0..maxInt), cookie OCTET STRING } (RFC 2696). */
export interface PagedResults {
  readonly size: number;
  /** Empty on the first request and on the last response. */
  readonly cookie: Buffer;
}

export function decodePagedResults(control: Control): PagedResults {
  if (!control.value) throw new LdapError(ResultCode.protocolError, 'paged results control without a value');
  try {
    const r = new BerReader(control.value).child(0x30);
    const size = r.int();
    const cookie = Buffer.from(r.octets());
    // A negative size has no meaning (RFC 2696 §2); read as "no entries" it gave empty pages forever.
    if (size < 0 || size > MAX_INT) throw new LdapError(ResultCode.protocolError, `paged results size ${size} is not in 0..${MAX_INT}`);
    return { size, cookie };
  } catch (err) {
    if (err instanceof BerError) throw new LdapError(ResultCode.protocolError, `malformed paged results control: ${err.message}`);
    throw err;
  }
}

/** The response control: `size` is the server's estimate of the total (0 = unknown, RFC 2696 §3). */
export function pagedResultsControl(cookie: Buffer, size = 0): Control {
  return { oid: ControlOid.pagedResults, critical: false, value: berTlv(0x30, berInt(size), berOctets(cookie)) };
}
