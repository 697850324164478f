/** Paged results and server-side sort control values, and response controls on SearchResultDone. */
import { BerWriter, PagedResultsControl, ServerSideSortingRequestControl } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { BerReader } from '../../src/protocol/ber-reader.js';
import { decodePagedResults, pagedResultsControl } from '../../src/protocol/controls/paged-results.js';
import { decodeSortRequest, sortResponseControl } from '../../src/protocol/controls/server-side-sort.js';
import { encodeResult } from '../../src/protocol/encoder.js';
import { Op } from '../../src/protocol/tags.js';

/** A control's value as ldapts (an independent encoder) writes it. */
function ldaptsValue(control: PagedResultsControl | ServerSideSortingRequestControl): Buffer {
  const writer = new BerWriter();
  control.write(writer);
  const outer = new BerReader(writer.buffer).child(0x30);
  outer.string();
  if (outer.peek() === 0x01) outer.bool();
  return Buffer.from(outer.octets());
}

describe('search controls', () => {
  it('decodes ldapts paged results and sort request values', () => {
    const cookie = Buffer.from([0, 1, 0xff]);
    const paged = ldaptsValue(new PagedResultsControl({ value: { size: 250, cookie } }));
    expect(decodePagedResults({ oid: PagedResultsControl.type, critical: false, value: paged })).toEqual({ size: 250, cookie });
    const sort = ldaptsValue(
      new ServerSideSortingRequestControl({ value: [{ attributeType: 'sn' }, { attributeType: 'givenName', orderingRule: '2.5.13.3', reverseOrder: true }] }),
    );
    expect(decodeSortRequest({ oid: ServerSideSortingRequestControl.type, critical: true, value: sort })).toEqual([
      { attribute: 'sn', reverse: false },
      { attribute: 'givenName', orderingRule: '2.5.13.3', reverse: true },
    ]);
  });

  it('refuses malformed values with protocolError', () => {
    expect(() => decodePagedResults({ oid: PagedResultsControl.type, critical: false, value: Buffer.from([0x30, 0x05, 0x02]) })).toThrow(
      expect.objectContaining({ code: 2 }),
    );
    expect(() => decodeSortRequest({ oid: ServerSideSortingRequestControl.type, critical: false, value: Buffer.from([0x30, 0x00]) })).toThrow(
      expect.objectContaining({ code: 2 }),
    );
  });

  it('refuses a sort of more than 32 keys with unwillingToPerform while decoding it', () => {
    const keys = (n: number) => ldaptsValue(new ServerSideSortingRequestControl({ value: Array.from({ length: n }, () => ({ attributeType: 'cn' })) }));
    expect(decodeSortRequest({ oid: ServerSideSortingRequestControl.type, critical: false, value: keys(32) })).toHaveLength(32);
    for (const n of [33, 5000]) {
      expect(() => decodeSortRequest({ oid: ServerSideSortingRequestControl.type, critical: false, value: keys(n) })).toThrow(
        expect.objectContaining({ code: 53, message: 'a sort control may name at most 32 keys' }),
      );
    }
  });

  it('writes response controls after the protocolOp of SearchResultDone', () => {
    const cookie = Buffer.alloc(16, 0xab);
    const done = encodeResult(7, Op.searchResultDone, 0, '', 'ok', { controls: [pagedResultsControl(cookie), sortResponseControl(11, 'sn')] });
    const outer = new BerReader(done).child(0x30);
    expect(outer.int()).toBe(7);
    const op = outer.child(Op.searchResultDone);
    expect(op.enumerated()).toBe(0);
    const controls = outer.child(0xa0);
    const paged = controls.child(0x30);
    expect(paged.string()).toBe('1.2.840.113556.1.4.319');
    const value = new BerReader(paged.octets()).child(0x30);
    expect(value.int()).toBe(0);
    expect(value.octets()).toEqual(cookie);
    const sort = controls.child(0x30);
    expect(sort.string()).toBe('1.2.840.113556.1.4.474');
    const result = new BerReader(sort.octets()).child(0x30);
    expect(result.enumerated()).toBe(11);
    expect(result.string(0x80)).toBe('sn');
    expect(outer.atEnd && controls.atEnd).toBe(true);
  });

});
