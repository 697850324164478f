import type { SortKey } from '../../core/directory.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import { BerError, BerReader } from '../ber-reader.js';
import { berInt, berOctets, berTlv } from '../ber-writer.js';
import type { Control } from '../decoder.js';
import { ControlOid } from './oids.js';

/**
 * SortKeyList ::= SEQUENCE OF SEQUENCE { attributeType AttributeDescription,
 *   orderingRule [0] MatchingRuleId OPTIONAL, reverseOrder [1] BOOLEAN DEFAULT FALSE } (RFC 2891).
 */
export function decodeSortRequest(control: Control): SortKey[] {
  if (!control.value) throw new LdapError(ResultCode.protocolError, 'sort control without a value');
  try {
    const list = new BerReader(control.value).child(0x30);
    const keys: SortKey[] = [];
    while (!list.atEnd) {
      const k = list.child(0x30);
      const attribute = k.string();
      const orderingRule = !k.atEnd && k.peek() === 0x80 ? k.string(0x80) : undefined;
      const reverse = !k.atEnd && k.peek() === 0x81 ? k.bool(0x81) : false;
      if (!k.atEnd) throw new BerError('unexpected element in sort key');
      keys.push({ attribute, reverse, ...(orderingRule !== undefined && { orderingRule }) });
    }
    if (keys.length === 0) throw new BerError('no sort keys');
    return keys;
  } catch (err) {
    if (err instanceof BerError) throw new LdapError(ResultCode.protocolError, `malformed sort control: ${err.message}`);
    throw err;
  }
}

/** SortResult ::= SEQUENCE { sortResult ENUMERATED, attributeType [0] AttributeDescription OPTIONAL }. */
export function sortResponseControl(result: number, attribute?: string): Control {
  const parts = [berInt(result, 0x0a), ...(attribute === undefined ? [] : [berOctets(attribute, 0x80)])];
  return { oid: ControlOid.sortResponse, critical: false, value: berTlv(0x30, ...parts) };
}
