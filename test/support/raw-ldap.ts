/**
 * A minimal LDAP client over a raw socket, for tests that need what ldapts does not expose:
 * Abandon, chosen message IDs, hand-made cookies and the response controls of each page.
 */
import { connect, type Socket } from 'node:net';
import { BerReader } from '../../src/protocol/ber-reader.js';
import { berInt, berOctets, berTlv } from '../../src/protocol/ber-writer.js';
import { MessageFramer } from '../../src/protocol/framing.js';

export interface RawDone {
  readonly dns: string[];
  readonly code: number;
  readonly message: string;
  /** Response controls by OID. */
  readonly controls: Map<string, Buffer>;
}

export const PAGED_OID = '1.2.840.113556.1.4.319';
export const SORT_OID = '1.2.840.113556.1.4.473';
const SORT_RESPONSE_OID = '1.2.840.113556.1.4.474';

/** PasswdModifyRequestValue (RFC 3062) with the fields given: what ldapts' exop sends as its value. */
export function passwordModifyValue(fields: { user?: string; old?: string; new?: string }): Buffer {
  return berTlv(
    0x30,
    ...(fields.user !== undefined ? [berOctets(fields.user, 0x80)] : []),
    ...(fields.old !== undefined ? [berOctets(fields.old, 0x81)] : []),
    ...(fields.new !== undefined ? [berOctets(fields.new, 0x82)] : []),
  );
}

/** An RFC 2891 sort request control on one attribute. */
export function sortControl(attribute: string, critical: boolean): Buffer {
  const value = berTlv(0x30, berTlv(0x30, berOctets(attribute)));
  return berTlv(0x30, berOctets(SORT_OID), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), berOctets(value));
}

/** The sortResult of a sort response control; undefined without one. */
export function sortResult(done: RawDone): number | undefined {
  const value = done.controls.get(SORT_RESPONSE_OID);
  return value && new BerReader(value).child(0x30).enumerated();
}

export function pagedControl(size: number, cookie: Buffer = Buffer.alloc(0)): Buffer {
  return berTlv(0x30, berOctets(PAGED_OID), berOctets(berTlv(0x30, berInt(size), berOctets(cookie))));
}

/** The cookie of a paged results response control. */
export function pagedCookie(done: RawDone): Buffer {
  const value = done.controls.get(PAGED_OID);
  if (!value) throw new Error('no paged results control in the response');
  const r = new BerReader(value).child(0x30);
  r.int();
  return Buffer.from(r.octets());
}

export class RawLdapClient {
  private readonly framer = new MessageFramer(1 << 24);
  private readonly pending = new Map<number, { dns: string[]; resolve: (d: RawDone) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  /** Every message received, in order: its message ID and protocol operation tag. */
  readonly received: { readonly id: number; readonly tag: number }[] = [];
  /** Notices of Disconnection received (message ID 0), with the responseName they carry. */
  readonly notices: (RawDone & { readonly responseName?: string })[] = [];
  /** Message IDs of responses to no request of this client. */
  readonly strays: number[] = [];
  /** Resolves when the server has closed the connection (or it was closed here). */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let m = this.framer.next(); m; m = this.framer.next()) this.receive(m);
    });
    socket.on('error', () => undefined); // a reset shows as `closed`
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        for (const p of this.pending.values()) p.reject(new Error('the connection closed before the response'));
        this.pending.clear();
        resolve();
      }),
    );
  }

  /**
   * `localAddress`: the client's own address, e.g. 127.0.0.2 (any 127/8 address is local on Linux);
   * `preamble`: bytes sent first, as a load balancer sends its PROXY header.
   */
  static connect(url: string, localAddress?: string, preamble?: Buffer): Promise<RawLdapClient> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ port: Number(u.port), host: u.hostname, ...(localAddress && { localAddress }) }, () => {
        if (preamble) socket.write(preamble);
        resolve(new RawLdapClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** The client's own port: how its lines are found in a server's access log (`peer`). */
  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /** A client over a socket already connected (a TLS session opened after a PROXY header). */
  static over(socket: Socket): RawLdapClient {
    return new RawLdapClient(socket);
  }

  async bind(dn: string, password: string): Promise<RawDone> {
    return this.request(berTlv(0x60, berInt(3), berOctets(dn), berOctets(password, 0x80)));
  }

  /** A SASL bind with no name: `mechanism` and, when given, its credentials (RFC 4511 §4.2). */
  async saslBind(mechanism: string, credentials?: string): Promise<RawDone> {
    const sasl = berTlv(0xa3, berOctets(mechanism), ...(credentials === undefined ? [] : [berOctets(credentials)]));
    return this.request(berTlv(0x60, berInt(3), berOctets(''), sasl));
  }

  /** A subtree search for `(objectClass=*)` returning `attributes` (only `cn` by default); `id` is the message ID used. */
  search(base: string, controls: Buffer[] = [], id = this.nextId++, attributes: readonly string[] = ['cn']): Promise<RawDone> {
    const op = berTlv(
      0x63,
      berOctets(base),
      berInt(2, 0x0a),
      berInt(0, 0x0a),
      berInt(0),
      berInt(0),
      Buffer.from([0x01, 0x01, 0x00]),
      berOctets('objectClass', 0x87),
      berTlv(0x30, ...attributes.map((a) => berOctets(a))),
    );
    return this.request(op, controls, id);
  }

  /** Sends a request without waiting for it (for Abandon tests); returns its message ID. */
  send(op: Buffer, controls: Buffer[] = [], id = this.nextId++): number {
    const parts = [berInt(id), op, ...(controls.length > 0 ? [berTlv(0xa0, ...controls)] : [])];
    this.socket.write(berTlv(0x30, ...parts));
    return id;
  }

  /** Runs `send` with the socket corked: the requests it sends leave in one write (pipelined, read by the server at once). */
  batch<T>(send: () => T): T {
    this.socket.cork();
    try {
      return send();
    } finally {
      this.socket.uncork();
    }
  }

  /** Writes bytes as they are (a hand-made LDAPMessage). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  abandon(id: number): void {
    const content = berInt(id).subarray(2);
    this.send(Buffer.concat([Buffer.from([0x50, content.length]), content]));
  }

  /** Stops reading responses, so the server's writes back up (a slow client). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }

  /** Sends a request (its protocolOp, controls) and resolves with its final response. */
  request(op: Buffer, controls: Buffer[] = [], id = this.nextId++): Promise<RawDone> {
    const done = new Promise<RawDone>((resolve, reject) => {
      this.pending.set(id, { dns: [], resolve, reject });
      this.send(op, controls, id);
    });
    // A test may send a request it never waits for (one the server is to drop): its rejection at close is no error.
    done.catch(() => undefined);
    return done;
  }

  private receive(message: Buffer): void {
    const r = new BerReader(message).child(0x30);
    const id = r.int();
    const tag = r.peek();
    const op = r.child(tag);
    this.received.push({ id, tag });
    const waiting = this.pending.get(id);
    if (id === 0) {
      const code = op.enumerated();
      op.string();
      const message = op.string();
      const responseName = !op.atEnd && op.peek() === 0x8a ? op.string(0x8a) : undefined;
      this.notices.push({ dns: [], code, message, controls: new Map(), ...(responseName !== undefined && { responseName }) });
      return;
    }
    if (!waiting) {
      this.strays.push(id);
      return;
    }
    if (tag === 0x64) {
      waiting.dns.push(op.string());
      return;
    }
    const code = op.enumerated();
    op.string();
    const text = op.string();
    const controls = new Map<string, Buffer>();
    if (!r.atEnd && r.peek() === 0xa0) {
      const list = r.child(0xa0);
      while (!list.atEnd) {
        const c = list.child(0x30);
        const oid = c.string();
        if (!c.atEnd && c.peek() === 0x01) c.bool();
        controls.set(oid, c.atEnd ? Buffer.alloc(0) : Buffer.from(c.octets()));
      }
    }
    this.pending.delete(id);
    waiting.resolve({ dns: waiting.dns, code, message: text, controls });
  }
}
