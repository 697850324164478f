import messages from '@ldapjs/messages';
import { describe, expect, it } from 'vitest';
import type { Filter } from '../../src/core/filter.js';
import { decodeMessage, type Decoded } from '../../src/protocol/decoder.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';

function tlv(tag: number, content: Buffer | number[]): Buffer {
  const c = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const n = c.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), c]);
}
const str = (s: string | Buffer, tag = 0x04): Buffer => tlv(tag, Buffer.isBuffer(s) ? s : Buffer.from(s));
const message = (id: number, op: Buffer, controls?: Buffer): Buffer =>
  tlv(0x30, Buffer.concat([tlv(0x02, [id]), op, ...(controls ? [tlv(0xa0, controls)] : [])]));

function search(filter: Buffer, base = 'dc=example', attrs: string[] = []): Buffer {
  const body = Buffer.concat([
    str(base),
    tlv(0x0a, [2]), tlv(0x0a, [0]), tlv(0x02, [10]), tlv(0x02, [5]), tlv(0x01, [0]),
    filter,
    tlv(0x30, Buffer.concat(attrs.map((a) => str(a)))),
  ]);
  return message(3, tlv(0x63, body));
}

function request(d: Decoded): Extract<Decoded, { kind: 'request' }> {
  if (d.kind !== 'request') throw new Error(`expected a request, got ${JSON.stringify(d)}`);
  return d;
}

describe('decodeMessage', () => {
  it('decodes a search, keeping assertion bytes exact', () => {
    const raw = Buffer.from([0x00, 0x80, 0xff]);
    const filter = tlv(0xa0, Buffer.concat([
      tlv(0xa3, Buffer.concat([str('objectGUID'), str(raw)])),
      tlv(0xa4, Buffer.concat([str('cn'), tlv(0x30, Buffer.concat([str(raw, 0x80), str('x', 0x81), str(raw, 0x82)]))])),
      tlv(0xa2, str('mail', 0x87)),
      tlv(0xa9, Buffer.concat([str('1.2.840.113556.1.4.803', 0x81), str('userAccountControl', 0x82), str('2', 0x83)])),
    ]));
    const d = request(decodeMessage(search(filter, 'CN=José,dc=example', ['cn', '+'])));
    expect(d.messageId).toBe(3);
    if (d.request.op !== 'search') throw new Error('not a search');
    const s = d.request.search;
    expect(s.base.text).toBe('CN=José,dc=example');
    expect(s).toMatchObject({ scope: 'sub', sizeLimit: 10, timeLimit: 5, typesOnly: false, attributes: ['cn', '+'] });
    expect(s.filter).toEqual({
      type: 'and',
      filters: [
        { type: 'equality', attribute: 'objectGUID', value: raw },
        { type: 'substrings', attribute: 'cn', initial: raw, any: [Buffer.from('x')], final: raw },
        { type: 'not', filter: { type: 'present', attribute: 'mail' } },
        { type: 'extensible', rule: '1.2.840.113556.1.4.803', attribute: 'userAccountControl', value: Buffer.from('2'), dnAttributes: false },
      ],
    } satisfies Filter);
  });

  it('decodes an extensible match with an empty type as one naming no attribute, as its text form', () => {
    const filter = tlv(0xa9, Buffer.concat([str('2.5.13.17', 0x81), str('', 0x82), str('Passw0rd!', 0x83)]));
    const d = request(decodeMessage(search(filter)));
    if (d.request.op !== 'search') throw new Error('not a search');
    expect(d.request.search.filter).toEqual(parseFilterString('(:2.5.13.17:=Passw0rd!)'));
  });

  it('decodes what @ldapjs/messages encodes', () => {
    const buf = Buffer.from(new messages.SearchRequest({ messageId: 9, baseObject: 'dc=x', scope: 'base', filter: '(cn=a*b)' }).toBer().buffer);
    const d = request(decodeMessage(buf));
    expect(d.request).toMatchObject({ op: 'search', search: { scope: 'base', filter: { type: 'substrings', attribute: 'cn' } } });
  });

  it('decodes bind, add, modify, compare, delete, modDN, extended, abandon, unbind and controls', () => {
    const bind = request(decodeMessage(message(1, tlv(0x60, Buffer.concat([tlv(0x02, [3]), str('cn=a'), str('pw\u00ff', 0x80)])))));
    expect(bind.request).toEqual({ op: 'bind', version: 3, name: 'cn=a', auth: { method: 'simple', password: Buffer.from('pw\u00ff') } });
    const sasl = request(decodeMessage(message(1, tlv(0x60, Buffer.concat([tlv(0x02, [3]), str(''), tlv(0xa3, str('EXTERNAL'))])))));
    expect(sasl.request).toMatchObject({ auth: { method: 'sasl', mechanism: 'EXTERNAL' } });

    const guid = Buffer.from([0xff, 0x00]);
    const attr = (name: string, ...values: Buffer[]): Buffer => tlv(0x30, Buffer.concat([str(name), tlv(0x31, Buffer.concat(values.map((v) => str(v))))]));
    const add = request(decodeMessage(message(2, tlv(0x68, Buffer.concat([str('cn=b,dc=x'), tlv(0x30, Buffer.concat([attr('objectClass', Buffer.from('Person')), attr('objectGUID', guid)]))])))));
    if (add.request.op !== 'add') throw new Error('not an add');
    expect(add.request.entry.get('objectclass')).toEqual({ name: 'objectClass', values: ['Person'] });
    expect(add.request.entry.get('objectGUID')?.values).toEqual([guid]);

    const mod = request(decodeMessage(message(3, tlv(0x66, Buffer.concat([str('cn=b,dc=x'), tlv(0x30, tlv(0x30, Buffer.concat([tlv(0x0a, [2]), attr('mail', Buffer.from('a@b'))])))])))));
    expect(mod.request).toMatchObject({ op: 'modify', changes: [{ operation: 'replace', attribute: { name: 'mail', values: ['a@b'] } }] });

    const cmp = request(decodeMessage(message(4, tlv(0x6e, Buffer.concat([str('cn=b'), tlv(0x30, Buffer.concat([str('objectGUID'), str(guid)]))])))));
    expect(cmp.request).toMatchObject({ op: 'compare', attribute: 'objectGUID', value: guid });

    expect(request(decodeMessage(message(5, str('cn=b', 0x4a)))).request).toMatchObject({ op: 'delete' });
    const moddn = request(decodeMessage(message(6, tlv(0x6c, Buffer.concat([str('cn=b,dc=x'), str('cn=c'), tlv(0x01, [0xff]), str('ou=y,dc=x', 0x80)])))));
    expect(moddn.request).toMatchObject({ op: 'modifyDn', request: { newRdn: 'cn=c', deleteOldRdn: true } });
    const ext = request(decodeMessage(message(7, tlv(0x77, str('1.3.6.1.4.1.4203.1.11.3', 0x80)))));
    expect(ext.request).toEqual({ op: 'extended', oid: '1.3.6.1.4.1.4203.1.11.3' });
    expect(request(decodeMessage(message(8, tlv(0x50, [5])))).request).toEqual({ op: 'abandon', abandonId: 5 });
    expect(request(decodeMessage(message(9, Buffer.from([0x42, 0x00])))).request).toEqual({ op: 'unbind' });

    const control = tlv(0x30, Buffer.concat([str('1.2.840.113556.1.4.319'), tlv(0x01, [0xff]), str(Buffer.from([1, 2]))]));
    const withControl = request(decodeMessage(message(10, str('cn=b', 0x4a), control)));
    expect(withControl.controls).toEqual([{ oid: '1.2.840.113556.1.4.319', critical: true, value: Buffer.from([1, 2]) }]);
  });

  it("decodes AD's <SID=…> and <GUID=…> bases as what they name, a malformed one as invalidDNSyntax", () => {
    const base = (text: string) => (request(decodeMessage(search(str('cn', 0x87), text))).request as { search: { base: unknown } }).search.base;
    expect(base('<SID=S-1-5-21-1-2-3-513>')).toMatchObject({ attribute: 'objectSid', text: '<SID=S-1-5-21-1-2-3-513>' });
    expect(base('<GUID=459fdd783fe1be4eb280af9c0078d60d>')).toMatchObject({ attribute: 'objectGUID' });
    expect(decodeMessage(search(str('cn', 0x87), '<SID=nonsense>'))).toMatchObject({ kind: 'reject', messageId: 3, responseTag: 0x65, error: { code: 34 } });
  });

  it('rejects what it cannot serve under the message ID, and disconnects on malformed BER', () => {
    expect(decodeMessage(search(str('cn', 0x87), 'not a dn'))).toMatchObject({ kind: 'reject', messageId: 3, responseTag: 0x65, error: { code: 34 } });
    let deep = str('cn', 0x87);
    for (let i = 0; i < 10_000; i++) deep = tlv(0xa2, deep);
    expect(decodeMessage(search(deep))).toMatchObject({ kind: 'reject', error: { code: 53 } });
    expect(decodeMessage(Buffer.from([0x30, 0x03, 0x02, 0x01]))).toMatchObject({ kind: 'disconnect' });
    expect(decodeMessage(message(5, tlv(0x63, [0x04, 0x10, 0x61])))).toMatchObject({ kind: 'disconnect' });
    expect(decodeMessage(Buffer.from([0x30, 0x00]))).toMatchObject({ kind: 'disconnect' });
  });

  it('disconnects on a message ID outside 1..maxInt and on a PDU that is not a request (RFC 4511 §4.1.1)', () => {
    const withId = (id: number[]) => tlv(0x30, Buffer.concat([tlv(0x02, id), str('cn=b', 0x4a)]));
    for (const id of [[0xff, 0x38], [0xff], [0x00], [0x80, 0x00, 0x00, 0x00]]) {
      expect(decodeMessage(withId(id)), String(id)).toMatchObject({ kind: 'disconnect', reason: expect.stringContaining('message ID') });
    }
    expect(request(decodeMessage(withId([0x7f, 0xff, 0xff, 0xff]))).messageId).toBe(2 ** 31 - 1);
    for (const tag of [0x7f, 0x57, 0x61, 0x64, 0x65, 0x78]) {
      expect(decodeMessage(message(4, tlv(tag, []))), `0x${tag.toString(16)}`).toMatchObject({ kind: 'disconnect', reason: expect.stringContaining('not a request') });
    }
  });

  it('refuses a filter of more terms than allowed while decoding it, under the message ID', () => {
    const terms = (n: number) => tlv(0xa1, Buffer.concat(Array.from({ length: n }, (_, i) => tlv(0xa3, Buffer.concat([str('cn'), str(`u${i}`)])))));
    // An OR of 9 assertions is 10 terms.
    expect(request(decodeMessage(search(terms(9)), { maxFilterTerms: 10 })).request).toMatchObject({ op: 'search' });
    expect(decodeMessage(search(terms(10)), { maxFilterTerms: 10 })).toMatchObject({
      kind: 'reject',
      messageId: 3,
      responseTag: 0x65,
      error: { code: 53, message: 'filter has more than 10 terms (limits.maxFilterTerms)' },
    });
    expect(decodeMessage(search(tlv(0xa2, tlv(0xa2, str('cn', 0x87)))), { maxFilterTerms: 2 })).toMatchObject({ kind: 'reject', error: { code: 53 } });
    expect(request(decodeMessage(search(terms(1000)))).request).toMatchObject({ op: 'search' });
  });

  it('counts each substring past the first as a term, and refuses empty substrings (RFC 4517 §3.3.29)', () => {
    const substrings = (parts: Buffer[]) => tlv(0xa4, Buffer.concat([str('cn'), tlv(0x30, Buffer.concat(parts))]));
    const anys = (n: number, text = 'a') => Array.from({ length: n }, () => str(text, 0x81));
    // One assertion of 10 substrings is 10 terms.
    expect(request(decodeMessage(search(substrings(anys(10))), { maxFilterTerms: 10 })).request).toMatchObject({ op: 'search' });
    expect(decodeMessage(search(substrings(anys(11))), { maxFilterTerms: 10 })).toMatchObject({ kind: 'reject', messageId: 3, error: { code: 53 } });
    expect(decodeMessage(search(tlv(0xa1, Buffer.concat([substrings(anys(5)), substrings(anys(5))]))), { maxFilterTerms: 10 })).toMatchObject({
      kind: 'reject',
      error: { code: 53 },
    });
    // Thousands of pieces (each one more pass over every value) are refused while decoding, empty ones at the first.
    expect(decodeMessage(search(substrings(anys(20_000))), { maxFilterTerms: 1000 })).toMatchObject({ kind: 'reject', error: { code: 53 } });
    expect(decodeMessage(search(substrings(anys(20_000, ''))))).toMatchObject({ kind: 'reject', error: { code: 2 } });
    for (const empty of [[str('', 0x80)], [str('a', 0x80), str('', 0x81)], [str('', 0x82)], []]) {
      expect(decodeMessage(search(substrings(empty)))).toMatchObject({ kind: 'reject', messageId: 3, responseTag: 0x65, error: { code: 2 } });
    }
  });

  it('refuses a search naming more than 1,000 attributes, under its message ID', () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`);
    expect(request(decodeMessage(search(str('cn', 0x87), 'dc=example', names(1000)))).request).toMatchObject({ op: 'search' });
    expect(decodeMessage(search(str('cn', 0x87), 'dc=example', names(1001)))).toMatchObject({
      kind: 'reject',
      messageId: 3,
      responseTag: 0x65,
      error: { code: 53, message: 'a search may ask for at most 1000 attributes' },
    });
  });

  it('decodes the Password Modify value (RFC 3062), and rejects a malformed one under its message ID', () => {
    const oid = str('1.3.6.1.4.1.4203.1.11.1', 0x80);
    const passwd = (value?: Buffer) => decodeMessage(message(11, tlv(0x77, Buffer.concat([oid, ...(value ? [str(value, 0x81)] : [])]))));
    const full = request(passwd(tlv(0x30, Buffer.concat([str('cn=u,dc=x', 0x80), str('old', 0x81), str('new', 0x82)]))));
    expect(full.request).toEqual({
      op: 'extended',
      oid: '1.3.6.1.4.1.4203.1.11.1',
      passwordModify: { userIdentity: 'cn=u,dc=x', oldPassword: Buffer.from('old'), newPassword: Buffer.from('new') },
    });
    expect(request(passwd(tlv(0x30, str('new', 0x82)))).request).toMatchObject({ passwordModify: { newPassword: Buffer.from('new') } });
    expect(request(passwd()).request).toMatchObject({ passwordModify: {} });
    // Fields out of order, unknown ones, or a value that is no SEQUENCE.
    for (const bad of [tlv(0x30, Buffer.concat([str('new', 0x82), str('old', 0x81)])), tlv(0x30, str('x', 0x83)), str('x')]) {
      expect(passwd(bad)).toMatchObject({ kind: 'reject', messageId: 11, responseTag: 0x78, error: { code: 2 } });
    }
  });
});

describe('parseFilterString', () => {
  it('turns RFC 4515 escapes into the exact bytes', () => {
    expect(parseFilterString('(objectGUID=\\00\\80\\ff)')).toEqual({ type: 'equality', attribute: 'objectGUID', value: Buffer.from([0, 0x80, 0xff]) });
    expect(parseFilterString('(cn=José)')).toEqual({ type: 'equality', attribute: 'cn', value: Buffer.from('José') });
    expect(parseFilterString('(cn=Jo*s\\2a*é)')).toEqual({
      type: 'substrings', attribute: 'cn', initial: Buffer.from('Jo'), any: [Buffer.from('s*')], final: Buffer.from('é'),
    });
  });

  it('parses the sync filters clients use', () => {
    const f = parseFilterString('(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))');
    expect(f).toEqual({
      type: 'and',
      filters: [
        { type: 'equality', attribute: 'objectclass', value: Buffer.from('user') },
        { type: 'not', filter: { type: 'equality', attribute: 'objectclass', value: Buffer.from('Computer') } },
        { type: 'not', filter: { type: 'extensible', attribute: 'UserAccountControl', rule: '1.2.840.113556.1.4.803', value: Buffer.from('2'), dnAttributes: false } },
      ],
    });
    expect(parseFilterString('(cn=*)')).toEqual({ type: 'present', attribute: 'cn' });
  });

  it('refuses malformed and too deep filters with an LdapError', () => {
    expect(() => parseFilterString('(cn=x')).toThrow(/invalid filter/);
    expect(() => parseFilterString('cn=x')).toThrow(/parentheses/);
    expect(() => parseFilterString('(!'.repeat(10_000) + '(cn=*)' + ')'.repeat(10_000))).toThrow(/nested deeper/);
  });
});
