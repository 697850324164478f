import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { EventEmitter } from 'node:events';
import {
  Client,
  CompareRequest,
  ModifyDNRequest,
  PagedResultsControl,
  SearchEntry,
  SearchReference,
  SearchRequest,
  SearchResponse,
  StatusCodeParser,
  type BerReader,
  type BerWriter,
  type Filter,
  type Message,
} from 'ldapts';
import { MAX_SEARCH_REFERENCES } from '../../core/directory.js';
import type { Entry } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import { BerReader as EntryReader } from '../../protocol/ber-reader.js';
import { Op } from '../../protocol/tags.js';
import { entryFromBer, type BinaryAttributes } from './entry-from-ber.js';
import { isServerFailure, upstreamError, type UpstreamResult } from './errors.js';
import type { ServerTls } from './tls-options.js';

export interface ConnectOptions {
  readonly url: string;
  readonly tls: ServerTls;
  readonly connectMs: number;
  readonly operationMs: number;
}

export interface Credentials {
  readonly dn: string;
  readonly password: string;
}

/** The connection's socket closed before the request was sent: nothing reached the server. */
export class ConnectionLost extends Error {
  constructor() {
    super('connection closed before the request was sent');
  }
}

/** Probes dead peers on idle pooled connections (firewalls drop silent TCP sessions). */
const KEEPALIVE_MS = 60_000;
// Every upstream socket also has Nagle's algorithm off (noDelay): a request is one small write
// followed by a wait for its answer, and with Nagle on, a request written while an earlier one
// is unacknowledged waits for the peer's delayed ACK (up to 40 ms on Linux). Measured on one
// forest: 990 lookups/s with Nagle, 4,623 without.

/**
 * One ldapts Client on one socket to one server. It never reconnects by itself: ldapts would
 * silently open a new socket for the next request, without StartTLS and without the service
 * bind, so a lost socket makes this connection unusable and the pool opens a fresh one.
 */
export class UpstreamConnection {
  private last: UpstreamResult | undefined;
  private pagedSearchOpen = false;
  /** Continuation references received since they were last taken, each one message's URLs. */
  private references: string[][] = [];
  /** The referral field of the result being parsed (ldapts does not read it). */
  private referral: string[] | undefined;

  private constructor(
    readonly client: Client,
    /** Which of the forest's servers this connection reaches. */
    readonly serverIndex: number,
  ) {
    // ldapts keeps matchedDN and paging cookies to itself; its message parser (a private field)
    // is the one place that sees every response. The connection runs one operation at a time,
    // so the last response is the current operation's.
    const parser = (client as unknown as { messageParser?: ParserInternals }).messageParser;
    parser?.on('message', (m: unknown) => this.observe(m));
    // ldapts stops reading a search result before its referral field: read the URLs from there.
    // The entries of a PagedSearch are decoded here, straight into core entries.
    const parse = parser?._getMessageFromProtocolOperation;
    if (parser && typeof parse === 'function') {
      parser._getMessageFromProtocolOperation = (...args) => {
        const [messageId, operation, reader, request] = args;
        if (operation === Op.searchResultEntry && request instanceof PagedSearch) {
          return new DecodedEntry(messageId, decodeEntry(reader, request.binary));
        }
        const message = parse.apply(parser, args);
        if (message instanceof SearchResponse) this.referral = referralUrls(args[2]);
        return message;
      };
    }
  }

  /** Connects (TLS or StartTLS as configured) and binds when credentials are given. */
  static async open(options: ConnectOptions, serverIndex: number, credentials?: Credentials): Promise<UpstreamConnection> {
    const { tls } = options;
    const client = new Client({
      url: options.url,
      connectTimeout: options.connectMs,
      timeout: options.operationMs,
      // ldapts treats any tlsOptions as "connect with TLS", so they go here only for ldaps.
      tlsOptions: tls.mode === 'ldaps' ? tls.options : undefined,
      ...singleSocket(),
    });
    const connection = new UpstreamConnection(client, serverIndex);
    try {
      // ldapts' startTLS writes the socket into the options it is given: hand it a copy.
      if (tls.mode === 'startTls') await client.startTLS({ ...tls.options });
      // An anonymous forest binds anonymously: it proves the server answers before the connection is pooled.
      await client.bind(credentials?.dn ?? '', credentials?.password ?? '');
      return connection;
    } catch (err) {
      connection.close();
      throw isServerFailure(err) ? err : upstreamError(err, connection.last);
    }
  }

  /** The last result message the server sent (for matchedDN and its diagnostic text). */
  get lastResult(): UpstreamResult | undefined {
    return this.last;
  }

  /** The continuation references received since the last call (at most MAX_SEARCH_REFERENCES). */
  takeReferences(): string[][] {
    const taken = this.references;
    if (taken.length > 0) this.references = [];
    return taken;
  }

  /** True while the socket is open and no paged search is left unfinished on it. */
  get reusable(): boolean {
    return this.client.isConnected && !this.pagedSearchOpen;
  }

  get connected(): boolean {
    return this.client.isConnected;
  }

  /**
   * ModifyDN with the request's own deleteOldRdn and newSuperior (ldapts' modifyDN always
   * deletes the old RDN and splits the new DN at the first comma).
   */
  async modifyDn(dn: string, newRdn: string, deleteOldRdn: boolean, newSuperior: string | undefined): Promise<void> {
    await this.send(new ModifyDNRequest({ messageId: 0, dn, newRdn, deleteOldRdn, newSuperior }), [0]);
  }

  /** Compare with the value's bytes (ldapts' compare takes text only); true for compareTrue. */
  async compare(dn: string, attribute: string, value: Buffer): Promise<boolean> {
    return (await this.send(new BytesCompareRequest(dn, attribute, value), [5, 6])) === 6;
  }

  /**
   * Asks for the next page of `search` (its first, then each one its last page's cookie names);
   * resolves with the page's entries, an LdapError in place of one that could not be decoded.
   */
  async nextPage(search: PagedSearch): Promise<readonly (Entry | LdapError)[]> {
    const response = (await this.exchange(search)) as SearchResponse | undefined;
    if (response?.status !== 0) throw StatusCodeParser.parse(response);
    search.continueAfter(response.controls);
    return response.searchEntries.map((e) => (e as DecodedEntry).decoded);
  }

  /** Unbinds and closes the socket; anything outstanding on it fails. Never throws. */
  close(): void {
    this.client.unbind().catch(() => undefined);
  }

  /** Sends one request through ldapts' private request path; resolves with an accepted status. */
  private async send(request: Message, accepted: readonly number[]): Promise<number> {
    const response = await this.exchange(request);
    if (!response || !accepted.includes(response.status)) throw StatusCodeParser.parse(response);
    return response.status;
  }

  /** One request and its response, through ldapts' private request path. */
  private exchange(request: Message): ReturnType<LdaptsInternals['_send']> {
    const client = this.client as unknown as LdaptsInternals;
    if (!client.isConnected) throw new ConnectionLost();
    request.messageId = client._nextMessageId();
    return client._send(request);
  }

  private observe(message: unknown): void {
    if (message instanceof SearchEntry) return;
    if (message instanceof SearchReference) {
      if (this.references.length < MAX_SEARCH_REFERENCES) this.references.push(message.uris);
      return;
    }
    const result = message as { matchedDN?: unknown; errorMessage?: unknown };
    if (typeof result.matchedDN !== 'string') return; // not a result message
    const referral = this.referral;
    this.referral = undefined;
    this.last = {
      matchedDn: result.matchedDN,
      message: typeof result.errorMessage === 'string' ? result.errorMessage : '',
      ...(referral && { referral }),
    };
    if (message instanceof SearchResponse) {
      const paged = message.controls?.find((c): c is PagedResultsControl => c instanceof PagedResultsControl);
      this.pagedSearchOpen = (paged?.value?.cookie?.length ?? 0) > 0;
    }
  }
}

/** The ldapts MessageParser members used to see every response and the referral fields it skips. */
interface ParserInternals extends EventEmitter {
  /** `request`: the message this one answers. */
  _getMessageFromProtocolOperation(messageId: number, protocolOperation: number, reader: BerReader, request: unknown): Message;
}

export interface PagedSearchOptions {
  readonly scope: SearchRequest['scope'];
  readonly filter: Filter;
  readonly attributes: string[];
  readonly timeLimit: number;
  readonly pageSize: number;
}

/** One paged search (RFC 2696), sent page by page with `UpstreamConnection.nextPage` on one connection. */
export class PagedSearch extends SearchRequest {
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

  /** ldapts stringifies every request it sends for its debug log, even when that log is off: keep it short. */
  toJSON(): object {
    return { messageId: this.messageId, baseDN: this.baseDN, scope: this.scope };
  }

  /** Takes the cookie of the page just received (from its result's controls) for the next request. */
  continueAfter(controls: readonly unknown[] | undefined): void {
    const cookie = controls?.find((c): c is PagedResultsControl => c instanceof PagedResultsControl)?.value?.cookie;
    this.more = (cookie?.length ?? 0) > 0;
    this.paging.value = { size: this.paging.value?.size ?? 0, cookie };
  }
}

/** A search entry decoded by the connection: the core entry, or why it could not be read (reported in its turn). */
class DecodedEntry extends SearchEntry {
  constructor(
    messageId: number,
    readonly decoded: Entry | LdapError,
  ) {
    super({ messageId });
  }
}

/**
 * The entry in ldapts' reader, which stands at the protocolOp's contents. Never throws, so the
 * message stream stays in step: a malformed entry is an error of the search, not of the server.
 */
function decodeEntry(reader: BerReader, binary: BinaryAttributes): Entry | LdapError {
  try {
    return entryFromBer(new EntryReader(reader.buffer, reader.offset, reader.offset + reader.length), binary);
  } catch (err) {
    if (err instanceof LdapError) return err;
    return new LdapError(ResultCode.other, `the server sent a malformed search entry (${(err as Error).message})`);
  }
}

/** LDAPResult's referral [3] (RFC 4511 §4.1.10) where the reader stands after a result's fields; undefined when absent or malformed. */
function referralUrls(reader: BerReader): string[] | undefined {
  if (reader.peek() !== REFERRAL_TAG) return undefined;
  try {
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

/** The ldapts Client members used for requests its public API cannot express. */
interface LdaptsInternals {
  readonly isConnected: boolean;
  _nextMessageId(): number;
  _send(message: Message): Promise<Parameters<typeof StatusCodeParser.parse>[0]>;
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
