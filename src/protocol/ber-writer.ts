/**
 * Small BER builders for control values: a few bytes per response, so clarity over speed (the
 * entry encoder in encoder.ts is the hot path and writes its BER by hand).
 */

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function berTlv(tag: number, ...content: readonly Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

/** A non-negative INTEGER (or ENUMERATED with tag 0x0a) in its shortest two's-complement form. */
export function berInt(value: number, tag = 0x02): Buffer {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return berTlv(tag, Buffer.from(bytes));
}

export function berOctets(value: Buffer | string, tag = 0x04): Buffer {
  return berTlv(tag, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
}
