import { describe, expect, it } from 'vitest';
import { isAlternativeDn, parseAlternativeDn } from '../../src/core/alternative-dn.js';
import { sidFromText } from '../../src/core/sid.js';

/** The avvid.info domain object of the fixtures: objectGUID 78dd9f45-e13f-4ebe-b280-af9c0078d60d as AD shows it. */
const GUID_BYTES = Buffer.from('459fdd783fe1be4eb280af9c0078d60d', 'hex');
const SID = 'S-1-5-21-2876485804-750820234-2261697746-1104';

describe("Active Directory's alternative forms of a DN", () => {
  it('tells them from RFC 4514 DNs, which cannot start with "<"', () => {
    expect(isAlternativeDn('<SID=S-1-5-32-544>')).toBe(true);
    expect(isAlternativeDn('cn=<x>,dc=example')).toBe(false);
  });

  it('reads <SID=…> in string form and as the hex of its bytes', () => {
    const bytes = sidFromText(SID)!;
    expect(parseAlternativeDn(`<SID=${SID}>`)).toEqual({ attribute: 'objectSid', value: bytes, text: `<SID=${SID}>` });
    expect(parseAlternativeDn(`<sid=${bytes.toString('hex').toUpperCase()}>`).value).toEqual(bytes);
  });

  it('reads <GUID=…> dashed (first three groups little-endian, as AD displays objectGUID) and as 32 hex digits', () => {
    expect(parseAlternativeDn('<GUID=78dd9f45-e13f-4ebe-b280-af9c0078d60d>')).toMatchObject({ attribute: 'objectGUID', value: GUID_BYTES });
    expect(parseAlternativeDn('<GUID=78DD9F45-E13F-4EBE-B280-AF9C0078D60D>').value).toEqual(GUID_BYTES);
    expect(parseAlternativeDn('<GUID=459fdd783fe1be4eb280af9c0078d60d>').value).toEqual(GUID_BYTES);
  });

  it('refuses anything else as invalidDNSyntax', () => {
    for (const bad of ['<SID=S-1-x>', '<SID=0102>', '<GUID=1234>', '<GUID=78dd9f45e13f-4ebe-b280-af9c0078d60d>', '<OTHER=1>', '<SID=S-1-5-32-544']) {
      expect(() => parseAlternativeDn(bad), bad).toThrow(expect.objectContaining({ code: 34 }));
    }
  });
});
