import { KeyedQuota } from '../core/keyed-quota.js';

/** Why a new connection is refused, for the log line. */
export interface Refusal {
  /** The configuration key of the limit reached. */
  readonly key: 'maxConnections' | 'maxConnectionsPerAddress';
  readonly limit: number;
}

/**
 * Counts the open connections, in all and per client address, from the moment a socket is
 * accepted (TLS handshakes included) until it closes. An address at its cap is refused while
 * clients from other addresses are still served, so one client holding sockets cannot lock
 * everyone out.
 */
export class Admission {
  private readonly open: KeyedQuota<string>;
  /**
   * Connections from a load balancer whose PROXY header, naming the client, has not arrived yet:
   * counted in maxConnections only, since the address they will be counted under is not known.
   */
  private awaitingHeader = 0;

  /** `maxPerAddress` 0: no per-address limit. */
  constructor(
    private readonly maxConnections: number,
    maxPerAddress: number,
  ) {
    this.open = new KeyedQuota(maxPerAddress, maxConnections);
  }

  /** Takes a place for a connection from `address`; a refusal (nothing taken) when a limit is reached. */
  admit(address: string): Refusal | undefined {
    if (this.full()) return { key: 'maxConnections', limit: this.maxConnections };
    const cap = this.open.take(addressKey(address));
    if (cap === undefined) return undefined;
    return cap === 'total'
      ? { key: 'maxConnections', limit: this.open.inAll }
      : { key: 'maxConnectionsPerAddress', limit: this.open.perKey };
  }

  release(address: string): void {
    this.open.release(addressKey(address));
  }

  /** Takes a place for a connection that must first say, in a PROXY header, whose it is; see headerRead. */
  awaitHeader(): Refusal | undefined {
    if (this.full()) return { key: 'maxConnections', limit: this.maxConnections };
    this.awaitingHeader++;
    return undefined;
  }

  /** Gives back awaitHeader's place: the connection is admitted under its client's address next, or closed. */
  headerRead(): void {
    this.awaitingHeader--;
  }

  private full(): boolean {
    return this.maxConnections > 0 && this.open.held() + this.awaitingHeader >= this.maxConnections;
  }
}

/** An IPv4 client reached over an IPv6 socket (`::ffff:192.0.2.1`) is the same address as over IPv4. */
function addressKey(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
