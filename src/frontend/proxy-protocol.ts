/**
 * HAProxy's PROXY protocol, version 1 (text) and version 2 (binary), as a load balancer sends it
 * at the start of each TCP connection to say whose connection it forwards
 * (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt). Only the source address and port
 * are kept: they are what limits, the bind throttle and the logs see instead of the balancer's.
 */
import { isIPv4, isIPv6, SocketAddress, type Socket } from 'node:net';

/** Where a client connects from. */
export interface ClientAddress {
  readonly address: string;
  readonly port: number;
}

/** A complete header: its length in bytes, and the client it names (none: the connection's own address stands). */
export interface ProxyHeader {
  readonly length: number;
  readonly client?: ClientAddress;
}

/** Why a connection's start is not a valid PROXY header; the connection is closed. */
export class ProxyHeaderError extends Error {
  /** `routine`: the connection closed before sending a byte, as a balancer's TCP health check does. */
  constructor(
    message: string,
    readonly routine = false,
  ) {
    super(message);
  }
}

/**
 * The largest header accepted. Version 1 lines are at most 107 bytes (spec §2.1); a version 2
 * header is 16 bytes plus its length field, whose TLVs (a cloud balancer's endpoint ID, TLS
 * details) stay well under this. Nothing more is ever buffered while waiting for a header.
 */
export const MAX_PROXY_HEADER_BYTES = 4096;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX_BYTES = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_BYTES = 16;
/** Version 2's address family and transport byte: UNSPEC, then TCP, UDP over IPv4, IPv6, UNIX (spec §2.2). */
const V2_FAMILIES = new Set([0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32]);
const V2_TCP4 = 0x11;
const V2_TCP6 = 0x21;

/**
 * The PROXY header at the start of `data`: undefined while more bytes are needed, a ProxyHeaderError
 * thrown as soon as the bytes cannot be one (or one would exceed MAX_PROXY_HEADER_BYTES).
 */
export function parseProxyHeader(data: Buffer): ProxyHeader | undefined {
  if (startsAs(data, V2_SIGNATURE)) return data.length < V2_FIXED_BYTES ? undefined : parseV2(data);
  if (startsAs(data, V1_PREFIX)) return parseV1(data);
  throw new ProxyHeaderError('the connection does not start with a PROXY protocol header');
}

/** Whether `data` is `signature`, or the start of it so far. */
function startsAs(data: Buffer, signature: Buffer): boolean {
  const n = Math.min(data.length, signature.length);
  return data.subarray(0, n).equals(signature.subarray(0, n));
}

/** `PROXY TCP4 192.0.2.1 198.51.100.1 56324 389\r\n`, or `PROXY UNKNOWN …\r\n` (the connection's own address). */
function parseV1(data: Buffer): ProxyHeader | undefined {
  const end = data.subarray(0, V1_MAX_BYTES).indexOf('\r\n');
  if (end < 0) {
    if (data.length >= V1_MAX_BYTES) throw new ProxyHeaderError(`PROXY v1 header longer than ${V1_MAX_BYTES} bytes`);
    return undefined;
  }
  const length = end + 2;
  const fields = data.toString('latin1', V1_PREFIX.length, end).split(' ');
  if (fields[0] === 'UNKNOWN') return { length };
  const [protocol, source, destination, sourcePort, destinationPort] = fields;
  const family = protocol === 'TCP4' ? 'ipv4' : protocol === 'TCP6' ? 'ipv6' : undefined;
  const isAddress = family === 'ipv4' ? isIPv4 : isIPv6;
  if (!family || fields.length !== 5 || !isAddress(source) || !isAddress(destination) || !isPort(sourcePort) || !isPort(destinationPort)) {
    throw new ProxyHeaderError(`malformed PROXY v1 header ${JSON.stringify(data.toString('latin1', 0, end))}`);
  }
  return { length, client: { address: canonical(source, family), port: Number(sourcePort) } };
}

/** Decimal 0-65535 without leading zeros (spec §2.1). */
function isPort(text: string | undefined): text is string {
  return text !== undefined && /^(0|[1-9]\d{0,4})$/.test(text) && Number(text) <= 65535;
}

function parseV2(data: Buffer): ProxyHeader | undefined {
  const versionCommand = data[12];
  const family = data[13];
  if (versionCommand >> 4 !== 2) throw new ProxyHeaderError(`PROXY v2 header with version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) throw new ProxyHeaderError(`PROXY v2 header with unknown command ${command}`);
  if (!V2_FAMILIES.has(family)) throw new ProxyHeaderError(`PROXY v2 header with unknown address family 0x${family.toString(16)}`);
  const length = V2_FIXED_BYTES + data.readUInt16BE(14);
  if (length > MAX_PROXY_HEADER_BYTES) throw new ProxyHeaderError(`PROXY v2 header of ${length} bytes, more than ${MAX_PROXY_HEADER_BYTES}`);
  if (data.length < length) return undefined;
  // LOCAL: the balancer's own connection (a health check); UNSPEC, UDP, UNIX: no TCP client to name.
  if (command === 0 || (family !== V2_TCP4 && family !== V2_TCP6)) return { length };
  const addresses = data.subarray(V2_FIXED_BYTES, length);
  if (family === V2_TCP4) {
    if (addresses.length < 12) throw new ProxyHeaderError('PROXY v2 header too short for IPv4 addresses');
    return { length, client: { address: addresses.subarray(0, 4).join('.'), port: addresses.readUInt16BE(8) } };
  }
  if (addresses.length < 36) throw new ProxyHeaderError('PROXY v2 header too short for IPv6 addresses');
  const groups = Array.from({ length: 8 }, (_, i) => addresses.readUInt16BE(i * 2).toString(16));
  return { length, client: { address: canonical(groups.join(':'), 'ipv6'), port: addresses.readUInt16BE(32) } };
}

/** One spelling per address (`2001:db8::1`), as Node gives a socket's own. */
function canonical(address: string, family: 'ipv4' | 'ipv6'): string {
  try {
    return new SocketAddress({ address, family }).address;
  } catch {
    throw new ProxyHeaderError(`PROXY header with an unusable address ${JSON.stringify(address)}`);
  }
}

/**
 * Reads the PROXY header a connection starts with, within `timeoutMs`; resolves with the client
 * it names (undefined: the socket's own address stands). The socket is left paused with the bytes
 * after the header unshifted, for whoever reads it next (the LDAP connection, or a TLS handshake,
 * which takes bytes already buffered on the socket). Rejects with a ProxyHeaderError, the socket
 * untouched otherwise, when the bytes are not a header, too many, too late, or the socket closes.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ClientAddress | undefined> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (outcome: ProxyHeader | ProxyHeaderError): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (outcome instanceof ProxyHeaderError) return reject(outcome);
      if (buffered.length > outcome.length) socket.unshift(buffered.subarray(outcome.length));
      resolve(outcome.client);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let header: ProxyHeader | undefined;
      try {
        header = parseProxyHeader(buffered);
      } catch (err) {
        return finish(err as ProxyHeaderError);
      }
      if (header) finish(header);
    };
    const onClose = (): void =>
      finish(buffered.length === 0 ? new ProxyHeaderError('closed before sending anything', true) : new ProxyHeaderError('closed within the PROXY header'));
    const timer = setTimeout(() => finish(new ProxyHeaderError(`no complete PROXY header within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
