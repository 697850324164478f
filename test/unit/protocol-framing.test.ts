import { describe, expect, it } from 'vitest';
import { FramingError, MessageFramer } from '../../src/protocol/framing.js';

function message(contentLength: number, fill = 0x41): Buffer {
  const content = Buffer.alloc(contentLength, fill);
  let header: number[];
  if (contentLength < 0x80) header = [0x30, contentLength];
  else if (contentLength < 0x100) header = [0x30, 0x81, contentLength];
  else if (contentLength < 0x10000) header = [0x30, 0x82, contentLength >> 8, contentLength & 0xff];
  else header = [0x30, 0x83, contentLength >> 16, (contentLength >> 8) & 0xff, contentLength & 0xff];
  return Buffer.concat([Buffer.from(header), content]);
}

function drain(framer: MessageFramer): Buffer[] {
  const out: Buffer[] = [];
  for (let m = framer.next(); m; m = framer.next()) out.push(m);
  return out;
}

describe('MessageFramer', () => {
  it('assembles a message delivered byte by byte', () => {
    const msg = message(300);
    const framer = new MessageFramer(1 << 20);
    const got: Buffer[] = [];
    for (const b of msg) {
      framer.push(Buffer.from([b]));
      got.push(...drain(framer));
    }
    expect(got).toHaveLength(1);
    expect(got[0].equals(msg)).toBe(true);
    expect(framer.bufferedBytes).toBe(0);
  });

  it('yields every pipelined message of one chunk, including short, long-form and split ones', () => {
    const msgs = [message(5, 1), message(200, 2), message(70_000, 3), message(0)];
    const all = Buffer.concat(msgs);
    const framer = new MessageFramer(1 << 20);
    framer.push(all.subarray(0, 100));
    const got = drain(framer);
    framer.push(all.subarray(100));
    got.push(...drain(framer));
    expect(got.map((m) => m.length)).toEqual(msgs.map((m) => m.length));
    got.forEach((m, i) => expect(m.equals(msgs[i])).toBe(true));
  });

  it('handles 10,000 pipelined messages without recursion', () => {
    const framer = new MessageFramer(1 << 20);
    framer.push(Buffer.concat(Array.from({ length: 10_000 }, () => message(10))));
    expect(drain(framer)).toHaveLength(10_000);
  });

  it('refuses an oversized message as soon as its length is known', () => {
    const framer = new MessageFramer(1024);
    framer.push(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]));
    expect(() => framer.next()).toThrow(FramingError);
  });

  it('refuses a wrong outer tag, indefinite length and over-long length fields', () => {
    const bad = [[0x02, 0x01, 0x01], [0x30, 0x80, 0x00, 0x00], [0x30, 0x85, 0, 0, 0, 0, 1]];
    for (const b of bad) {
      const framer = new MessageFramer(1024);
      framer.push(Buffer.from(b));
      expect(() => framer.next()).toThrow(FramingError);
    }
  });

  it('waits for the rest of a truncated message', () => {
    const framer = new MessageFramer(1024);
    framer.push(message(50).subarray(0, 30));
    expect(framer.next()).toBeUndefined();
    expect(framer.bufferedBytes).toBe(30);
  });
});
