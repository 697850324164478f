/** The stream cannot be framed into LDAPMessages: the connection must be dropped. */
export class FramingError extends Error {
  override readonly name = 'FramingError';
}

const SEQUENCE = 0x30;

/**
 * Cuts a TCP byte stream into whole LDAPMessages. Chunks are kept as a list (no growing buffer),
 * a message's length is checked against the limit as soon as its header is readable, and the
 * caller pulls messages one at a time, so it can stop pulling (and pause the socket) while busy.
 */
export class MessageFramer {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed. */
  private head = 0;
  private buffered = 0;
  private maxMessageBytes: number;
  private limitName: string | undefined;

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** Changes the largest message accepted from now on (a connection's limit depends on its bind); `name` is quoted in the error. */
  setLimit(maxMessageBytes: number, name?: string): void {
    this.maxMessageBytes = maxMessageBytes;
    this.limitName = name;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes received and not yet returned as messages. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The next complete message (tag, length and contents), or undefined until more bytes arrive. */
  next(): Buffer | undefined {
    if (this.buffered < 2) {
      if (this.buffered === 1 && this.byteAt(0) !== SEQUENCE) throw this.badTag();
      return undefined;
    }
    if (this.byteAt(0) !== SEQUENCE) throw this.badTag();
    const first = this.byteAt(1);
    let headerBytes = 2;
    let length = first;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n === 0) throw new FramingError('indefinite length is not allowed in LDAP');
      if (n > 4) throw new FramingError(`length of ${n} bytes is not supported`);
      if (this.buffered < 2 + n) return undefined;
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + this.byteAt(2 + i);
      headerBytes = 2 + n;
    }
    const total = headerBytes + length;
    if (total > this.maxMessageBytes) {
      const which = this.limitName === undefined ? '' : ` (${this.limitName})`;
      throw new FramingError(`message of ${total} bytes exceeds the limit of ${this.maxMessageBytes}${which}`);
    }
    if (this.buffered < total) return undefined;
    return this.take(total);
  }

  private badTag(): FramingError {
    const tag = this.byteAt(0);
    // "P" starts a PROXY v1 header, CR a v2 one: sent from an address the listener takes none from.
    const proxy = tag === 0x50 || tag === 0x0d ? ' (a PROXY protocol header? one is read only from an address listen.proxyProtocol.from lists)' : '';
    return new FramingError(`expected an LDAPMessage SEQUENCE, got tag 0x${tag.toString(16)}${proxy}`);
  }

  private byteAt(index: number): number {
    let i = index + this.head;
    for (const c of this.chunks) {
      if (i < c.length) return c[i];
      i -= c.length;
    }
    throw new RangeError('byteAt beyond buffered data');
  }

  /** Removes `size` bytes from the front: a view when they lie in one chunk, one copy otherwise. */
  private take(size: number): Buffer {
    this.buffered -= size;
    const first = this.chunks[0];
    if (first.length - this.head >= size) {
      const out = first.subarray(this.head, this.head + size);
      this.advance(size);
      return out;
    }
    const out = Buffer.allocUnsafe(size);
    let written = 0;
    while (written < size) {
      const c = this.chunks[0];
      const n = Math.min(c.length - this.head, size - written);
      c.copy(out, written, this.head, this.head + n);
      written += n;
      this.advance(n);
    }
    return out;
  }

  private advance(n: number): void {
    this.head += n;
    if (this.head === this.chunks[0].length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}
