/** The bytes are not well-formed BER for what was expected. */
export class BerError extends Error {
  override readonly name = 'BerError';
}

/** LDAP's maxInt (RFC 4511 §4.1.1): the largest message ID, size limit or page size a client may send. */
export const MAX_INT = 2 ** 31 - 1;

/**
 * A strict cursor over BER bytes: every length is checked against the enclosing element, so a
 * lying length is an error instead of a read past the end. `@ldapjs/asn1`'s reader returns null on
 * short data (and its callers then throw TypeErrors), hence this small reader for requests.
 */
export class BerReader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  peek(): number {
    if (this.pos >= this.end) throw new BerError('unexpected end of data');
    return this.buf[this.pos];
  }

  /** Reads a tag and length; leaves pos at the contents and returns where they end. */
  enter(tag: number): number {
    const found = this.peek();
    if (found !== tag) {
      throw new BerError(`expected tag 0x${tag.toString(16)}, got 0x${found.toString(16)}`);
    }
    this.pos++;
    return this.readLength();
  }

  /** A reader over the contents of the next element, which it skips. */
  child(tag: number): BerReader {
    const end = this.enter(tag);
    const r = new BerReader(this.buf, this.pos, end);
    this.pos = end;
    return r;
  }

  /** The contents of the next element as a view of the message bytes. */
  octets(tag = 0x04): Buffer {
    const end = this.enter(tag);
    const out = this.buf.subarray(this.pos, end);
    this.pos = end;
    return out;
  }

  string(tag = 0x04): string {
    const end = this.enter(tag);
    const out = this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return out;
  }

  /** An INTEGER of up to 4 bytes; 4-byte negatives read as unsigned (above MAX_INT, so range checks refuse them). */
  int(tag = 0x02): number {
    const end = this.enter(tag);
    const n = end - this.pos;
    if (n < 1 || n > 4) throw new BerError(`integer of ${n} bytes`);
    let v = this.buf.readIntBE(this.pos, n);
    this.pos = end;
    if (n === 4 && v < 0) v = v >>> 0; // never negative in LDAP; keep the unsigned meaning
    return v;
  }

  bool(tag = 0x01): boolean {
    const end = this.enter(tag);
    if (end - this.pos !== 1) throw new BerError('boolean must be one byte');
    const v = this.buf[this.pos] !== 0;
    this.pos = end;
    return v;
  }

  enumerated(): number {
    return this.int(0x0a);
  }

  skip(): void {
    this.pos++;
    this.pos = this.readLength();
  }

  private readLength(): number {
    if (this.pos >= this.end) throw new BerError('missing length');
    const first = this.buf[this.pos++];
    let length = first;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n === 0 || n > 4) throw new BerError('unsupported length form');
      if (this.pos + n > this.end) throw new BerError('truncated length');
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + this.buf[this.pos++];
    }
    const contentEnd = this.pos + length;
    if (contentEnd > this.end) throw new BerError('length exceeds the enclosing element');
    return contentEnd;
  }
}
