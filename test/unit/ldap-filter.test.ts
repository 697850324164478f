import { BerWriter } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { toLdaptsFilter } from '../../src/backends/ldap/filter-to-ldapts.js';
import type { Filter } from '../../src/core/filter.js';
import { BerReader } from '../../src/protocol/ber-reader.js';
import { decodeFilter, parseFilterString } from '../../src/protocol/filter-codec.js';

/** What the upstream server receives: ldapts' BER encoding, decoded by Canopy's own decoder. */
function onTheWire(filter: Filter): Filter {
  const writer = new BerWriter();
  toLdaptsFilter(filter).write(writer);
  return decodeFilter(new BerReader(writer.buffer));
}

const GUID = Buffer.from([0x00, 0x80, 0xff, 0x5c, 0x2a, 0x28, 0x29, 0xc3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]);

describe('core filter → ldapts filter', () => {
  it.each([
    '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))',
    '(|(sAMAccountName=jdoe)(userPrincipalName=jdoe@avvid.info))',
    '(cn=Jo*hn*D*e)',
    '(cn=*oe)',
    '(cn=J*)',
    '(uSNChanged>=1000)',
    '(uSNChanged<=2000)',
    '(cn~=jon)',
    '(mail=*)',
    '(cn:dn:2.5.13.5:=John)',
    '(:caseExactMatch:=x)',
    '(cn=Jos\\c3\\a9 M\\c3\\bcller)',
  ])('sends %s unchanged', (text) => {
    const filter = parseFilterString(text);
    expect(onTheWire(filter)).toEqual(filter);
  });

  it.each(['equality', 'ge', 'le', 'approx'] as const)('sends %s assertion bytes exactly (00 80 ff, metacharacters)', (type) => {
    const filter: Filter = { type, attribute: 'objectGUID', value: GUID };
    expect(onTheWire(filter)).toEqual(filter);
  });

  it('sends absolute true and false (empty and/or)', () => {
    for (const filter of [{ type: 'and', filters: [] }, { type: 'or', filters: [] }] as const) expect(onTheWire(filter)).toEqual(filter);
  });

  it('sends substring and extensible bytes exactly', () => {
    const substrings: Filter = { type: 'substrings', attribute: 'objectGUID', initial: GUID.subarray(0, 3), any: [GUID.subarray(3, 6)], final: GUID.subarray(6) };
    expect(onTheWire(substrings)).toEqual(substrings);
    const extensible: Filter = { type: 'extensible', rule: '2.5.13.17', attribute: 'objectGUID', value: GUID, dnAttributes: false };
    expect(onTheWire(extensible)).toEqual(extensible);
  });
});
