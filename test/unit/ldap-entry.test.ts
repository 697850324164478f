import { describe, expect, it } from 'vitest';
import { BinaryAttributes, entryFromBer } from '../../src/backends/ldap/entry-from-ber.js';
import { Dn } from '../../src/core/dn.js';
import { Entry, type AttributeValue } from '../../src/core/entry.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { BerReader } from '../../src/protocol/ber-reader.js';
import { berOctets, berTlv } from '../../src/protocol/ber-writer.js';
import { AttributeSelection, encodeSearchEntry } from '../../src/protocol/encoder.js';

const GUID = Buffer.from([0xef, 0xbb, 0xbf, 0x41, 0x00, 0x80, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09]);
const ALL = AttributeSelection.compile([], false);

/** A SearchResultEntry as a server sends it, decoded from the contents of its protocolOp. */
function roundTrip(dn: string, attributes: Record<string, AttributeValue[]>, binary: BinaryAttributes): Entry {
  const sent = new Entry(Dn.parse(dn));
  for (const [name, values] of Object.entries(attributes)) sent.addValues(name, values);
  const message = new BerReader(encodeSearchEntry(7, sent, ALL));
  message.enter(0x30);
  message.int();
  const end = message.enter(0x64);
  return entryFromBer(new BerReader(message.buf, message.pos, end), binary);
}

describe('upstream search entry → core Entry', () => {
  const binary = new BinaryAttributes(['objectGUID', 'userCertificate']);

  it('matches binary attributes whatever their spelling or options', () => {
    expect(binary.has('objectguid')).toBe(true);
    expect(binary.has('OBJECTGUID')).toBe(true);
    expect(binary.has('userCertificate;binary')).toBe(true);
    expect(binary.has('jpegPhoto;binary')).toBe(true);
    expect(binary.has('cn')).toBe(false);
    expect(binary.has('cn;lang-en')).toBe(false);
  });

  it('reads each spelling of a name once: the same bytes give the same name and decision, other bytes their own', () => {
    const names = new BinaryAttributes(['objectGUID']);
    const at = (text: string) => {
      const buf = Buffer.from(`..${text}..`);
      return names.spelling(buf, 2, buf.length - 2);
    };
    expect(at('objectguid')).toBe(at('objectguid'));
    expect(at('objectguid')).toMatchObject({ name: 'objectguid', binary: true });
    expect(at('OBJECTGUID')).toMatchObject({ name: 'OBJECTGUID', binary: true });
    expect(at('objectClass')).toMatchObject({ name: 'objectClass', binary: false });
    // Same length, same first and last byte: another spelling all the same.
    expect(at('cXn')).toMatchObject({ name: 'cXn', binary: false });
    expect(at('cYn').name).toBe('cYn');
    expect(at('jpegPhoto;binary')).toMatchObject({ binary: true });
    expect(at('Zoë')).toMatchObject({ name: 'Zoë' });
  });

  it('keeps binary values as bytes, text as strings, and the DN as spelled', () => {
    const entry = roundTrip('CN=Doe\\, John,OU=Users,DC=avvid,DC=info', { objectguid: [GUID], cn: ['Doe, John'], mail: [] }, binary);
    expect(entry.dn.text).toBe('CN=Doe\\, John,OU=Users,DC=avvid,DC=info');
    expect(entry.get('objectGUID')?.values).toEqual([GUID]);
    expect(Buffer.isBuffer(entry.get('objectGUID')?.values[0])).toBe(true);
    expect(entry.get('cn')?.values).toEqual(['Doe, John']);
    expect(entry.has('mail')).toBe(false);
  });

  it('keeps multi-valued and non-ASCII text under the upstream spelling', () => {
    const entry = roundTrip('CN=José,DC=t', { objectClass: ['top', 'user'], sn: ['Müller', '\uFFFD literal'] }, binary);
    expect(entry.get('objectclass')?.name).toBe('objectClass');
    expect(entry.get('objectclass')?.values).toEqual(['top', 'user']);
    expect(entry.get('sn')?.values).toEqual(['Müller', '\uFFFD literal']);
    expect(entry.dn.text).toBe('CN=José,DC=t');
  });

  it('keeps every value of an attribute as bytes when one of them is not UTF-8', () => {
    const bad = Buffer.from([0x41, 0xff, 0x42]);
    const entry = roundTrip('CN=x,DC=t', { description: ['fine', bad] }, binary);
    expect(entry.get('description')?.values).toEqual([Buffer.from('fine'), bad]);
  });

  it('reports a malformed DN as invalidDNSyntax', () => {
    expect(() => roundTrip('not a dn', { cn: ['x'] }, binary)).toThrow(LdapError);
  });

  it('sends the values it never read as the very bytes that arrived, and decodes the same values when read', () => {
    const entry = roundTrip('CN=x,DC=t', { cn: ['Zoë'], objectGUID: [GUID], description: ['a', 'b'] }, binary);
    const again = new BerReader(encodeSearchEntry(9, entry, ALL));
    const original = new BerReader(encodeSearchEntry(9, roundTrip('CN=x,DC=t', { cn: ['Zoë'], objectGUID: [GUID], description: ['a', 'b'] }, binary), ALL));
    expect(again.buf.equals(original.buf)).toBe(true);
    expect(entry.get('cn')?.encodedValues?.length).toBeGreaterThan(0);
    expect(entry.get('description')?.values).toEqual(['a', 'b']);
    // Read or not, the entry encodes the same.
    expect(encodeSearchEntry(9, entry, ALL).equals(again.buf)).toBe(true);
  });

  it('adds values to an attribute that arrived encoded as plain values, so what is sent is what it holds', () => {
    const entry = roundTrip('CN=x,DC=t', { description: ['a'] }, binary);
    entry.addValues('description', ['b']);
    expect(entry.get('description')?.encodedValues).toBeUndefined();
    const sent = new BerReader(encodeSearchEntry(3, entry, ALL));
    sent.enter(0x30);
    sent.int();
    const end = sent.enter(0x64);
    expect(entryFromBer(new BerReader(sent.buf, sent.pos, end), binary).get('description')?.values).toEqual(['a', 'b']);
  });

  it('never changes the values array of an attribute it was given', () => {
    const values = ['a'];
    const entry = new Entry(Dn.parse('CN=x,DC=t'));
    entry.put({ name: 'description', values });
    entry.addValues('description', ['b']);
    expect(values).toEqual(['a']);
    expect(entry.get('description')?.values).toEqual(['a', 'b']);
  });

  it('refuses malformed values when the entry is read, not when a stage reads them', () => {
    const op = (values: Buffer) => Buffer.concat([berOctets('CN=x,DC=t'), berTlv(0x30, berTlv(0x30, berOctets('cn'), berTlv(0x31, values)))]);
    // A value claiming 9 bytes where 1 follows; a value that is not an OCTET STRING.
    expect(() => entryFromBer(new BerReader(op(Buffer.from([0x04, 0x09, 0x41]))), binary)).toThrow(/length/);
    expect(() => entryFromBer(new BerReader(op(Buffer.from([0x02, 0x01, 0x41]))), binary)).toThrow(/tag/);
    // A value whose length runs into the next attribute.
    const overrun = Buffer.concat([
      berOctets('CN=x,DC=t'),
      berTlv(0x30, berTlv(0x30, berOctets('cn'), berTlv(0x31, Buffer.from([0x04, 0x05, 0x41]))), berTlv(0x30, berOctets('sn'), berTlv(0x31, berOctets('B')))),
    ]);
    expect(() => entryFromBer(new BerReader(overrun), binary)).toThrow(/past the end of its attribute/);
    expect(entryFromBer(new BerReader(op(Buffer.from([0x04, 0x01, 0x41]))), binary).get('cn')?.values).toEqual(['A']);
  });
});
