/**
 * The ldapts seam: every use of ldapts internals is in this file. ldapts is pinned to an exact
 * version in package.json, and `checkLdaptsSeam` refuses to start when the internals moved.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket, type ConnectionOptions } from 'node:tls';
import type { EventEmitter } from 'node:events';
import {
  AbandonRequest,
  AddRequest,
  BerWriter,
  BindRequest,
  Client,
  CompareRequest,
  DeleteRequest,
  ExtendedRequest,
  ModifyDNRequest,
  ModifyRequest,
  PagedResultsControl,
  PresenceFilter,
  SearchEntry,
  SearchReference,
  SearchRequest,
  SearchResponse,
  type Attribute,
  type BerReader,
  type Change,
  type Control,
  type Filter,
  type Message,
} from 'ldapts';
import { MAX_SEARCH_REFERENCES } from '../../core/search-trailer.js';
import type { Entry } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import { BerReader as EntryReader } from '../../protocol/ber-reader.js';
import { Op } from '../../protocol/tags.js';
import { BinaryAttributes, entryFromBer } from './entry-from-ber.js';
import { ConnectionLost, isServerFailure, OperationTimeout, upstreamError, UpstreamRefusal, type UpstreamReply } from './errors.js';
import type { ServerTls } from './tls-options.js';

export interface ConnectOptions {
  readonly url: string;
  readonly tls: ServerTls;
  readonly connectMs: number;
  /** Longest wait for one operation's answer; the connection takes no new operations after one times out. */
  readonly operationMs: number;
}

export interface Credentials {
  readonly dn: string;
  readonly password: string | Buffer;
}

/** Probes dead peers on idle pooled connections (firewalls drop silent TCP sessions). */
const KEEPALIVE_MS = 60_000;
// Every upstream socket also has Nagle's algorithm off (noDelay): a request is one small write
// followed by a wait for its answer, and with Nagle on, a request written while an earlier one
// is unacknowledged waits for the peer's delayed ACK (up to 40 ms on Linux). Measured on one
// forest: 990 lookups/s with Nagle, 4,623 without.

/** What the parser saw of one request's responses besides what ldapts keeps. */
interface Track {
  /** The request, whose kind a timeout names. */
  readonly request: Message;
  /** When it times out (performance.now()). */
  readonly deadline: number;
  /** For searches: attributes whose values stay bytes (entries are kept as their bytes, for core entries). */
  readonly binary?: BinaryAttributes;
  readonly references: string[][];
  matchedDn: string;
  message: string;
  referral?: string[];
}

/** A search entry as it arrived, read when the search reaches it. */
export interface ReceivedEntry {
  /** The core entry, or why it could not be read: a malformed entry is an error of the search, not of the server. */
  decode(): Entry | LdapError;
}

/** A search's answer: its entries, as they arrived, and its result. */
export interface SearchReply {
  readonly entries: readonly ReceivedEntry[];
  /** Continuation references, each one message's URLs (at most MAX_SEARCH_REFERENCES). */
  readonly references: readonly string[][];
  readonly reply: UpstreamReply;
}

/**
 * One ldapts Client on one socket to one server, with many operations outstanding at once (RFC
 * 4511 §4.1.1.1), each matched to its answer by message ID. It never reconnects by itself: ldapts
 * would silently open a new socket for the next request, without StartTLS and without the bind,
 * so a lost socket makes this connection unusable and the pool opens a fresh one.
 */
export class UpstreamConnection {
  /** Outstanding requests in the order sent, so by deadline: every one waits the same operationMs. */
  private readonly tracks = new Map<number, Track>();
  /** Set when an operation timed out: the server may be stuck, so nothing new is sent here. */
  private retired = false;
  /**
   * One timer per connection, due when its oldest outstanding request times out: a timer set and
   * cleared per request was a measurable part of Canopy's CPU per forwarded bind.
   */
  private timeouts: NodeJS.Timeout | undefined;

  private constructor(
    private readonly client: Client,
    /** Which of the forest's servers this connection reaches. */
    readonly serverIndex: number,
    private readonly operationMs: number,
  ) {
    // ldapts drops matchedDN, referrals and continuation references of a result, and decodes
    // entries into its own objects: its parser (a private field) sees every response, and the
    // hook below keeps what Canopy needs per message ID, and each entry as its bytes (decoded in its turn).
    const parser = internals(client).messageParser;
    const parse = parser._getMessageFromProtocolOperation;
    parser._getMessageFromProtocolOperation = (messageId, operation, reader, request) => {
      const track = this.tracks.get(messageId);
      if (track?.binary && operation === Op.searchResultEntry) {
        return new ArrivedEntry(messageId, Buffer.from(reader.buffer.subarray(reader.offset, reader.offset + reader.length)), track.binary);
      }
      const message = parse.call(parser, messageId, operation, reader, request);
      if (!track) return message;
      if (message instanceof SearchReference) {
        if (track.references.length < MAX_SEARCH_REFERENCES) track.references.push(message.uris);
      } else {
        const result = message as { matchedDN?: unknown; errorMessage?: unknown };
        if (typeof result.matchedDN === 'string') track.matchedDn = result.matchedDN;
        if (typeof result.errorMessage === 'string') track.message = result.errorMessage;
        if (message instanceof SearchResponse) track.referral = referralUrls(reader);
      }
      return message;
    };
  }

  /** Connects (TLS or StartTLS as configured) and binds when credentials are given. */
  static async open(options: ConnectOptions, serverIndex: number, credentials?: Credentials): Promise<UpstreamConnection> {
    const { tls } = options;
    const client = new Client({
      url: options.url,
      connectTimeout: options.connectMs,
      // No ldapts timeout: it would destroy the socket, failing every other operation on it. See send().
      // ldapts treats any tlsOptions as "connect with TLS", so they go here only for ldaps.
      tlsOptions: tls.mode === 'ldaps' ? tls.options : undefined,
      ...singleSocket(),
    });
    const connection = new UpstreamConnection(client, serverIndex, options.operationMs);
    try {
      // ldapts' startTLS connects first and writes the socket into the options it is given: hand it a copy.
      if (tls.mode === 'startTls') await client.startTLS({ ...tls.options });
      else await internals(client)._connect();
      if (credentials) await connection.bind(credentials.dn, credentials.password);
      return connection;
    } catch (err) {
      connection.close();
      throw isServerFailure(err) ? err : upstreamError(err);
    }
  }

  /** True while the socket is open and no operation on it timed out: it may take new operations. */
  get reusable(): boolean {
    return this.client.isConnected && !this.retired;
  }

  /** When the server's certificate expires (Unix seconds), on a TLS connection; undefined on a plain one. */
  peerCertificateExpiry(): number | undefined {
    const socket = internals(this.client).socket;
    if (!(socket instanceof TLSSocket)) return undefined;
    const expires = Date.parse(socket.getPeerCertificate().valid_to);
    return Number.isFinite(expires) ? expires / 1000 : undefined;
  }

  /** Takes no new operations; the pool closes it once its last one ends. */
  retire(): void {
    this.retired = true;
  }

  /**
   * A simple bind (a name and password; an anonymous bind with neither). A connection may be
   * bound again and again: the last bind decides who it is (RFC 4511 §4.2.1).
   */
  async bind(name: string, password: string | Buffer, controls?: Control[]): Promise<UpstreamReply> {
    return expect((await this.send(new SimpleBindRequest(name, password, controls), NO_OPTIONS)).reply, [0]);
  }

  /**
   * One search sent without paging: the whole answer with its result code. With `sizeLimit`, a
   * result larger than that ends with sizeLimitExceeded (4), which the caller reads as "page it".
   * Busy and unavailable are thrown, as server failures.
   */
  async search(base: string, options: SearchOptions, binary: BinaryAttributes, signal?: AbortSignal): Promise<SearchReply> {
    const { scope, filter, attributes, timeLimit, sizeLimit } = options;
    const request = new CompactSearchRequest({ messageId: 0, baseDN: base, scope, filter, attributes, timeLimit, sizeLimit });
    const { response, reply, track } = await this.send(request, { binary, signal });
    // A server answering busy or unavailable failed, like one that did not answer: the caller may try the next.
    if (reply.status !== 0 && isServerFailure(new UpstreamRefusal(reply))) throw new UpstreamRefusal(reply);
    const entries = (response as SearchResponse).searchEntries as ArrivedEntry[];
    return { entries, references: track.references, reply };
  }

  /**
   * Asks for the next page of `search` (its first, then each one its last page's cookie names).
   * A refusal (other than sizeLimitExceeded at the end of a page) is thrown.
   */
  async nextPage(search: PagedSearch, signal?: AbortSignal): Promise<SearchReply> {
    const { response, reply, track } = await this.send(search, { binary: search.binary, signal });
    if (reply.status !== 0) throw new UpstreamRefusal(reply);
    search.continueAfter(response.controls);
    const entries = (response as SearchResponse).searchEntries as ArrivedEntry[];
    return { entries, references: track.references, reply };
  }

  /** The entry at `dn` (a base search for `attributes`), or undefined when the server returned none. */
  async readEntry(dn: string, attributes: string[]): Promise<Entry | undefined> {
    const { entries, reply } = await this.search(dn, { scope: 'base', filter: ANY_OBJECT, attributes, timeLimit: 0 }, NO_BINARY);
    expect(reply, [0]);
    const entry = entries[0]?.decode();
    if (entry instanceof LdapError) throw entry;
    return entry;
  }

  async add(dn: string, attributes: Attribute[]): Promise<void> {
    expect(await this.exchange(new AddRequest({ messageId: 0, dn, attributes })), [0]);
  }

  async modify(dn: string, changes: Change[]): Promise<void> {
    expect(await this.exchange(new ModifyRequest({ messageId: 0, dn, changes })), [0]);
  }

  async delete(dn: string): Promise<void> {
    expect(await this.exchange(new DeleteRequest({ messageId: 0, dn })), [0]);
  }

  /**
   * ModifyDN with the request's own deleteOldRdn and newSuperior (ldapts' modifyDN always
   * deletes the old RDN and splits the new DN at the first comma).
   */
  async modifyDn(dn: string, newRdn: string, deleteOldRdn: boolean, newSuperior: string | undefined): Promise<void> {
    expect(await this.exchange(new ModifyDNRequest({ messageId: 0, dn, newRdn, deleteOldRdn, newSuperior })), [0]);
  }

  /** Compare with the value's bytes (ldapts' compare takes text only); true for compareTrue. */
  async compare(dn: string, attribute: string, value: Buffer): Promise<boolean> {
    return expect(await this.exchange(new BytesCompareRequest(dn, attribute, value)), [5, 6]).status === 6;
  }

  async extended(oid: string, value: Buffer): Promise<void> {
    expect(await this.exchange(new ExtendedRequest({ messageId: 0, oid, value })), [0]);
  }

  /** Unbinds and closes the socket; anything outstanding on it fails. Never throws. */
  close(): void {
    clearTimeout(this.timeouts);
    this.timeouts = undefined;
    this.client.unbind().catch(() => undefined);
  }

  private async exchange(request: Message): Promise<UpstreamReply> {
    return (await this.send(request, NO_OPTIONS)).reply;
  }

  /**
   * Sends one request and waits for its answer, with this connection's timeout. An aborted or
   * timed-out request is abandoned upstream and fails alone: the other operations on the
   * connection go on.
   */
  private async send(request: Message, options: { binary?: BinaryAttributes; signal?: AbortSignal }): Promise<{ response: Answer; reply: UpstreamReply; track: Track }> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (!this.reusable) throw new ConnectionLost();
    const client = internals(this.client);
    const messageId = client._nextMessageId();
    request.messageId = messageId;
    const track: Track = {
      request,
      deadline: performance.now() + this.operationMs,
      binary: options.binary,
      references: [],
      matchedDn: '',
      message: '',
    };
    this.tracks.set(messageId, track);
    // Unreferenced: while a request is outstanding its socket keeps the process running anyway.
    this.timeouts ??= setTimeout(() => this.expire(), this.operationMs).unref();
    const onAbort = (): void => this.cancel(messageId, signal?.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    // Requests sent in one turn of the event loop leave in one write (one system call, one segment).
    // A bind travels alone (RFC 4511 §4.2.1): corking it would only delay its write to the next tick.
    const socket = client.socket;
    if (socket && !socket.writableCorked && !(request instanceof BindRequest)) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    try {
      const response = await transmit(client, request);
      if (!response) throw new LdapError(ResultCode.other, 'the server sent no result');
      const reply: UpstreamReply = {
        status: response.status,
        matchedDn: track.matchedDn,
        message: track.message,
        controls: response.controls ?? [],
        ...(track.referral && { referral: track.referral }),
      };
      return { response, reply, track };
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.tracks.delete(messageId);
    }
  }

  /**
   * Fails the requests whose time is up, and retires the connection if any was (the server may be
   * stuck); comes back when the oldest request left is due.
   */
  private expire(): void {
    this.timeouts = undefined;
    const now = performance.now();
    const due: [number, Track][] = [];
    for (const [messageId, track] of this.tracks) {
      if (track.deadline > now) {
        this.timeouts = setTimeout(() => this.expire(), Math.max(1, Math.ceil(track.deadline - now))).unref();
        break;
      }
      due.push([messageId, track]);
    }
    if (due.length > 0) this.retired = true;
    for (const [messageId, track] of due) this.cancel(messageId, new OperationTimeout(track.request.constructor.name, this.operationMs));
  }

  /** Fails one outstanding request now and abandons it upstream (its late answer is ignored). */
  private cancel(messageId: number, reason: Error): void {
    const client = internals(this.client);
    const details = client.messageDetailsByMessageId.get(String(messageId));
    if (!details) return;
    client.messageDetailsByMessageId.delete(String(messageId));
    details.reject(reason);
    if (!client.isConnected) return;
    try {
      client._send(new AbandonRequest({ messageId: client._nextMessageId(), abandonId: messageId })).catch(() => undefined);
    } catch {
      // the socket closed meanwhile: nothing left to abandon
    }
  }
}

export interface SearchOptions {
  readonly scope: SearchRequest['scope'];
  readonly filter: Filter;
  readonly attributes: string[];
  readonly timeLimit: number;
  readonly sizeLimit?: number;
}

export interface PagedSearchOptions extends SearchOptions {
  readonly pageSize: number;
}

/** ldapts stringifies every request it sends for its debug log, even when that log is off: keep it short. */
class CompactSearchRequest extends SearchRequest {
  toJSON(): object {
    return { messageId: this.messageId, baseDN: this.baseDN, scope: this.scope };
  }
}

/** One paged search (RFC 2696), sent page by page with `UpstreamConnection.nextPage` on one connection. */
export class PagedSearch extends CompactSearchRequest {
  /** False once a page came without a cookie: it was the last. */
  more = true;
  private readonly paging: PagedResultsControl;

  constructor(
    base: string,
    options: PagedSearchOptions,
    /** Attributes whose values stay bytes. */
    readonly binary: BinaryAttributes,
  ) {
    const paging = new PagedResultsControl({ value: { size: options.pageSize } });
    const { scope, filter, attributes, timeLimit } = options;
    super({ messageId: 0, baseDN: base, scope, filter, attributes, timeLimit, controls: [paging] });
    this.paging = paging;
  }

  /** Takes the cookie of the page just received (from its result's controls) for the next request. */
  continueAfter(controls: readonly unknown[] | undefined): void {
    const cookie = controls?.find((c): c is PagedResultsControl => c instanceof PagedResultsControl)?.value?.cookie;
    this.more = (cookie?.length ?? 0) > 0;
    this.paging.value = { size: this.paging.value?.size ?? 0, cookie };
  }
}

const NO_OPTIONS = {};
const ANY_OBJECT = new PresenceFilter({ attribute: 'objectClass' });
const NO_BINARY = new BinaryAttributes([]);

/** The reply when its status is one of `accepted`; otherwise the refusal is thrown. */
function expect(reply: UpstreamReply, accepted: readonly number[]): UpstreamReply {
  if (!accepted.includes(reply.status)) throw new UpstreamRefusal(reply);
  return reply;
}

/**
 * A search entry as the server sent it: its own copy of the protocolOp's contents (the message lies
 * in the socket's read buffer), decoded when the search reaches it, so a page waiting to be read
 * holds bytes rather than objects the garbage collector must move.
 */
class ArrivedEntry extends SearchEntry implements ReceivedEntry {
  constructor(
    messageId: number,
    private readonly bytes: Buffer,
    private readonly binary: BinaryAttributes,
  ) {
    super({ messageId });
  }

  decode(): Entry | LdapError {
    try {
      return entryFromBer(new EntryReader(this.bytes), this.binary);
    } catch (err) {
      if (err instanceof LdapError) return err;
      return new LdapError(ResultCode.other, `the server sent a malformed search entry (${(err as Error).message})`);
    }
  }
}

/** LDAPResult's referral [3] (RFC 4511 §4.1.10) where the reader stands after a result's fields; undefined when absent or malformed. */
function referralUrls(reader: BerReader): string[] | undefined {
  try {
    if (reader.peek() !== REFERRAL_TAG) return undefined;
    reader.readSequence(REFERRAL_TAG);
    const end = reader.offset + reader.length;
    const urls: string[] = [];
    while (reader.offset < end) {
      const url = reader.readString();
      if (url === null) break;
      urls.push(url);
    }
    return urls.length > 0 ? urls : undefined;
  } catch {
    return undefined;
  }
}

const REFERRAL_TAG = 0xa3;

/**
 * What ldapts' `_send` does for a request, without its per-message costs: a fresh zero-filled KiB
 * to encode into, the message serialised for a debug log that is off, and a second promise. The
 * request is registered where ldapts' parser and socket handlers look for it, then written.
 */
function transmit(client: ClientInternals, request: Message): Promise<Answer | undefined> {
  const socket = client.socket;
  if (!socket) throw new ConnectionLost();
  const bytes = encode(request);
  return new Promise((resolve, reject) => {
    client.messageDetailsByMessageId.set(String(request.messageId), { message: request, resolve, reject, socket });
    socket.write(bytes);
  });
}

/** Encodes every request this process sends, one at a time (encoding is synchronous). */
let requestWriter = new BerWriter();
/** A writer grown past this (a large add) is replaced rather than kept. */
const WRITER_KEEP_BYTES = 64 * 1024;
const CONTROLS_TAG = 0xa0;

/** The LDAPMessage of `request` (RFC 4511 §4.2), as ldapts' Message.write encodes it, in a buffer of its own. */
function encode(request: Message): Buffer {
  const writer = requestWriter;
  const state = writerInternals(writer);
  state.currentOffset = 0;
  state.sequenceOffsets.length = 0;
  const message = request as unknown as MessageInternals;
  writer.startSequence();
  writer.writeInt(message.messageId);
  writer.startSequence(message.protocolOperation);
  message.writeMessage(writer);
  writer.endSequence();
  if (message.controls?.length) {
    writer.startSequence(CONTROLS_TAG);
    for (const control of message.controls) control.write(writer);
    writer.endSequence();
  }
  writer.endSequence();
  // A copy (small ones come from Node's buffer pool): the socket may hold the bytes until it writes them.
  const bytes = Buffer.from(writer.buffer);
  if (state.size > WRITER_KEEP_BYTES) requestWriter = new BerWriter();
  return bytes;
}

/** The ldapts BerWriter members (private in its types) `encode` resets to reuse one writer. */
interface WriterInternals {
  currentOffset: number;
  readonly size: number;
  readonly sequenceOffsets: number[];
}

function writerInternals(writer: BerWriter): WriterInternals {
  return writer as unknown as WriterInternals;
}

/** The ldapts Message members `encode` writes. */
interface MessageInternals {
  readonly messageId: number;
  readonly protocolOperation: number;
  readonly controls?: Control[];
  writeMessage(writer: BerWriter): void;
}

/** A response as ldapts resolves `_send` with it. */
interface Answer {
  readonly status: number;
  readonly controls?: Control[];
}

/** The ldapts Client members Canopy relies on beyond its public API. */
interface ClientInternals {
  readonly isConnected: boolean;
  readonly socket?: Socket;
  readonly messageParser: ParserInternals;
  readonly messageDetailsByMessageId: Map<string, MessageDetails>;
  _nextMessageId(): number;
  _connect(): Promise<void>;
  _send(message: Message): Promise<Answer | undefined>;
}

/** What ldapts keeps of an outstanding request: its parser, response handler and socket handlers read these. */
interface MessageDetails {
  readonly message: Message;
  readonly socket: Socket;
  resolve(response: Answer | undefined): void;
  reject(err: Error): void;
}

/** The ldapts MessageParser member that builds each response (`request`: the message it answers). */
interface ParserInternals extends EventEmitter {
  _getMessageFromProtocolOperation(messageId: number, protocolOperation: number, reader: BerReader, request: unknown): Message;
}

function internals(client: Client): ClientInternals {
  return client as unknown as ClientInternals;
}

/**
 * Throws, naming what is missing, when the installed ldapts lacks an internal this file uses: a
 * renamed private field would otherwise fail every upstream request with "internal error".
 */
export function checkLdaptsSeam(): void {
  const client = internals(new Client({ url: 'ldap://127.0.0.1:1' }));
  const writer = writerInternals(new BerWriter());
  const missing = [
    typeof client._nextMessageId !== 'function' && 'Client._nextMessageId',
    typeof client._connect !== 'function' && 'Client._connect',
    typeof client._send !== 'function' && 'Client._send',
    !(client.messageDetailsByMessageId instanceof Map) && 'Client.messageDetailsByMessageId',
    typeof client.messageParser?._getMessageFromProtocolOperation !== 'function' && 'MessageParser._getMessageFromProtocolOperation',
    typeof writer.currentOffset !== 'number' && 'BerWriter.currentOffset',
    typeof writer.size !== 'number' && 'BerWriter.size',
    !Array.isArray(writer.sequenceOffsets) && 'BerWriter.sequenceOffsets',
    typeof (new BindRequest({ messageId: 0 }) as unknown as MessageInternals).writeMessage !== 'function' && 'Message.writeMessage',
  ].filter((m): m is string => typeof m === 'string');
  if (missing.length > 0) {
    throw new Error(`the installed ldapts lacks internals Canopy's ldap backend uses (${missing.join(', ')}); install the version package.json pins`);
  }
}

/** A simple bind with the password's bytes as given (ldapts writes text only); never serialised with its password. */
class SimpleBindRequest extends BindRequest {
  private readonly bytes: Buffer;

  constructor(dn: string, password: string | Buffer, controls?: Control[]) {
    super({ messageId: 0, dn, controls });
    this.bytes = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  }

  override writeMessage(writer: BerWriter): void {
    writer.writeInt(this.version);
    writer.writeString(this.dn);
    writer.writeBuffer(this.bytes, 0x80);
  }

  toJSON(): object {
    return { messageId: this.messageId, dn: this.dn };
  }
}

class BytesCompareRequest extends CompareRequest {
  constructor(
    dn: string,
    attribute: string,
    private readonly bytes: Buffer,
  ) {
    super({ messageId: 0, dn, attribute, value: bytes.toString('utf8') });
  }

  override writeMessage(writer: BerWriter): void {
    writer.writeString(this.dn);
    writer.startSequence();
    writer.writeString(this.attribute);
    writer.writeBuffer(this.bytes, 0x04);
    writer.endSequence();
  }
}

/**
 * Socket factories that open at most one connection per Client (a StartTLS upgrade of that
 * socket is allowed), with Canopy's socket options: ldapts leaves them at Node's defaults.
 */
function singleSocket(): { createConnection: typeof netConnect; createSecureConnection: typeof tlsConnect } {
  let opened = false;
  const once = (): void => {
    if (opened) throw new ConnectionLost();
    opened = true;
  };
  const createConnection = ((port: number, host: string) => {
    once();
    return netConnect({ port, host, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS });
  }) as typeof netConnect;
  const createSecureConnection = ((...args: [ConnectionOptions] | [number, string, ConnectionOptions | undefined]) => {
    if (args.length === 1) return tlsConnect(args[0]); // StartTLS: upgrades the socket already opened (options set)
    once();
    const socket = tlsConnect({ ...args[2], port: args[0], host: args[1] });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    return socket;
  }) as typeof tlsConnect;
  return { createConnection, createSecureConnection };
}
