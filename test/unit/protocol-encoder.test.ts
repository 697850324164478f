import asn1 from '@ldapjs/asn1';
import messages from '@ldapjs/messages';
import { describe, expect, it } from 'vitest';
import { SelectedEntry } from '../../src/core/attribute-selection.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { BerReader } from '../../src/protocol/ber-reader.js';
import { AttributeSelection, encodeNoticeOfDisconnection, encodeResult, encodeSearchEntry } from '../../src/protocol/encoder.js';
import { Op } from '../../src/protocol/tags.js';

interface ParsedAttribute {
  type: string;
  values: string[];
  buffers: Buffer[];
}

interface Parsed {
  messageId: number;
  protocolOp: number;
  pojo: Record<string, unknown>;
  attributes?: ParsedAttribute[];
  responseName?: string;
  responseValue?: string;
}

function parse(buf: Buffer): Parsed {
  return messages.LdapMessage.parse(new asn1.BerReader(buf)) as never;
}

const guid = Buffer.from([0x00, 0x80, 0xff, 0x10, 0xc3, 0x28]);
const entry = new Entry(Dn.parse('cn=José Núñez,ou=Ünits,dc=example'), [
  { name: 'objectClass', values: ['top', 'person'] },
  { name: 'cn', values: ['José Núñez'] },
  { name: 'objectGUID', values: [guid] },
  { name: 'description', values: ['x'.repeat(70_000)] },
  { name: 'modifyTimestamp', values: ['20240101000000Z'] },
]);

describe('encodeSearchEntry', () => {
  it('round-trips through @ldapjs/messages with binary values and a non-ASCII DN as spelled', () => {
    const buf = encodeSearchEntry(300, entry, AttributeSelection.compile([], false));
    const msg = parse(buf);
    expect(msg.messageId).toBe(300);
    expect(msg.protocolOp).toBe(Op.searchResultEntry);
    const attrs = msg.attributes!;
    expect(attrs.map((a) => a.type)).toEqual(['objectClass', 'cn', 'objectGUID', 'description']);
    expect(attrs[0].values).toEqual(['top', 'person']);
    expect(attrs[1].values).toEqual(['José Núñez']);
    expect(attrs[2].buffers[0].equals(guid)).toBe(true);
    expect(attrs[3].values[0]).toHaveLength(70_000);
    // The DN bytes are the UTF-8 spelling, never hex-escaped.
    const r = new BerReader(buf).child(0x30);
    r.int();
    expect(r.child(Op.searchResultEntry).string()).toBe('cn=José Núñez,ou=Ünits,dc=example');
  });

  it('writes every length and message ID byte by byte as @ldapjs/messages reads it', () => {
    // Lengths at each boundary of the length-of-length; names and values at the edge of the short ASCII copy.
    const values = [127, 128, 255, 256, 65_535, 65_536].map((n) => 'v'.repeat(n));
    const names = ['a'.repeat(24), 'b'.repeat(25), 'é'.repeat(12)];
    const wide = new Entry(Dn.parse('cn=x'), [...values.map((v, i) => ({ name: `${names[i % 3]}${i}`, values: [v] }))]);
    for (const messageId of [1, 127, 128, 255, 256, 65_536, 2 ** 24, 2 ** 31 - 1]) {
      const msg = parse(encodeSearchEntry(messageId, wide, AttributeSelection.compile([], false)));
      expect(msg.messageId).toBe(messageId);
      expect(msg.attributes!.map((a) => a.type)).toEqual(values.map((_, i) => `${names[i % 3]}${i}`));
      expect(msg.attributes!.map((a) => a.values[0].length)).toEqual(values.map((v) => v.length));
    }
  });

  it('applies the attribute selection rules', () => {
    const names = (requested: string[], typesOnly = false): string[] =>
      parse(encodeSearchEntry(1, entry, AttributeSelection.compile(requested, typesOnly))).attributes!.map((a) => a.type);
    expect(names(['*'])).toEqual(['objectClass', 'cn', 'objectGUID', 'description']);
    expect(names(['+'])).toEqual(['modifyTimestamp']);
    expect(names(['*', '+'])).toHaveLength(5);
    expect(names(['1.1'])).toEqual([]);
    expect(names(['CN', 'OBJECTGUID', 'modifytimestamp'])).toEqual(['cn', 'objectGUID', 'modifyTimestamp']);
    expect(names(['commonName'])).toEqual(['cn']);
    const typesOnly = parse(encodeSearchEntry(1, entry, AttributeSelection.compile(['cn'], true))).attributes!;
    expect(typesOnly).toEqual([expect.objectContaining({ type: 'cn', values: [] })]);
    const ranged = new Entry(entry.dn, [
      { name: 'member;range=0-1499', values: ['cn=a'] },
      { name: 'userCertificate;binary', values: [guid] },
      { name: 'modifyTimestamp;x-tag', values: ['20240101000000Z'] },
    ]);
    const ofRanged = (requested: string[]) =>
      parse(encodeSearchEntry(1, ranged, AttributeSelection.compile(requested, false))).attributes!.map((a) => a.type);
    expect(ofRanged(['member', 'userCertificate'])).toEqual(['member;range=0-1499', 'userCertificate;binary']);
    expect(ofRanged(['*'])).toEqual(['member;range=0-1499', 'userCertificate;binary']);
    expect(ofRanged(['+'])).toEqual(['modifyTimestamp;x-tag']);
  });

  it('trusts an entry selected for the very same request list, and checks any other', () => {
    const requested = ['cn'];
    const staged = new SelectedEntry(entry.dn, requested);
    staged.addValues('cn', ['a']);
    staged.addValues('sn', ['b']); // not what a stage would build: shows the check is skipped
    const names = (selection: AttributeSelection) => parse(encodeSearchEntry(1, staged, selection)).attributes!.map((a) => a.type);
    expect(names(AttributeSelection.compile(requested, false))).toEqual(['cn', 'sn']);
    // A stage above the namespace stage widened the list (sort keys, access re-checks): another array.
    expect(names(AttributeSelection.compile(['cn'], false))).toEqual(['cn']);
  });
});

describe('encodeResult', () => {
  it('encodes LDAPResult responses and extended responses', () => {
    const done = parse(encodeResult(2 ** 31 - 1, Op.searchResultDone, ResultCode.noSuchObject, 'dc=example', 'no such entry'));
    expect(done.messageId).toBe(2 ** 31 - 1);
    expect(done.pojo).toMatchObject({ status: 32, matchedDN: 'dc=example', diagnosticMessage: 'no such entry' });
    const ext = parse(encodeResult(7, Op.extendedResponse, ResultCode.success, '', '', { responseValue: Buffer.from('dn:cn=x') }));
    expect(ext.pojo).toMatchObject({ status: 0 });
    expect(ext.responseName).toBeUndefined();
    expect(ext.responseValue).toBe(`<buffer>${Buffer.from('dn:cn=x').toString('hex')}`);
  });

  it('encodes a Notice of Disconnection with message ID 0', () => {
    const notice = parse(encodeNoticeOfDisconnection(ResultCode.protocolError, 'bad'));
    expect(notice.messageId).toBe(0);
    expect(notice.pojo).toMatchObject({ status: 2 });
    expect(notice.responseName).toBe('1.3.6.1.4.1.1466.20036');
  });

  it('encodes a shutdown notice as RFC 4511 §4.4.1 has it: an extendedResponse, unavailable, with its diagnostic and no value', () => {
    const buf = encodeNoticeOfDisconnection(ResultCode.unavailable, 'server shutting down');
    const notice = parse(buf);
    expect(notice.protocolOp).toBe(Op.extendedResponse);
    expect(notice.pojo).toMatchObject({ status: 52, matchedDN: '', diagnosticMessage: 'server shutting down' });
    expect(notice.responseName).toBe('1.3.6.1.4.1.1466.20036');
    expect(notice.responseValue).toBeUndefined();
  });
});
