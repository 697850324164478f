import { SearchEntry, Attribute } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { binaryAttributeList, entryFromLdapts } from '../../src/backends/ldap/entry-from-ldapts.js';

const GUID = Buffer.from([0xef, 0xbb, 0xbf, 0x41, 0x00, 0x80, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09]);

/** A search entry as ldapts parses it off the wire (values decoded as text, raw bytes kept). */
function wireEntry(dn: string, attributes: Record<string, Buffer[]>): SearchEntry {
  const entry = new SearchEntry({ messageId: 1, name: dn });
  for (const [type, values] of Object.entries(attributes)) {
    const a = new Attribute({ type });
    (a as unknown as { buffers: Buffer[] }).buffers = values;
    a.values = values.map((v) => v.toString('utf8'));
    entry.attributes.push(a);
  }
  return entry;
}

describe('ldapts entry → core Entry', () => {
  const binary = binaryAttributeList(['objectGUID', 'userCertificate']);

  it('keeps binary attributes as bytes whatever their spelling or options', () => {
    expect(binary.includes('objectguid')).toBe(true);
    expect(binary.includes('OBJECTGUID')).toBe(true);
    expect(binary.includes('userCertificate;binary')).toBe(true);
    expect(binary.includes('cn')).toBe(false);
    expect(binary.map((n) => n.toUpperCase())).toEqual(['OBJECTGUID', 'USERCERTIFICATE']);
    const raw = wireEntry('CN=Doe\\, John,OU=Users,DC=avvid,DC=info', {
      objectguid: [GUID],
      cn: [Buffer.from('Doe, John')],
      mail: [],
    });
    const entry = entryFromLdapts(raw.toObject(['cn', 'mail', 'objectGUID'], binary));
    expect(entry.dn.text).toBe('CN=Doe\\, John,OU=Users,DC=avvid,DC=info');
    expect(entry.get('objectGUID')?.values).toEqual([GUID]);
    expect(Buffer.isBuffer(entry.get('objectGUID')?.values[0])).toBe(true);
    expect(entry.get('cn')?.values).toEqual(['Doe, John']);
    expect(entry.has('mail')).toBe(false);
  });

  it('keeps multi-valued text attributes as strings under the upstream spelling', () => {
    const raw = wireEntry('CN=x,DC=t', { objectClass: [Buffer.from('top'), Buffer.from('user')] });
    const entry = entryFromLdapts(raw.toObject([], binary));
    expect(entry.get('objectclass')).toEqual({ name: 'objectClass', values: ['top', 'user'] });
  });
});
