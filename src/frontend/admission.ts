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
  private total = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    /** 0 = no per-address limit. */
    private readonly maxPerAddress: number,
  ) {}

  /** Takes a place for a connection from `address`; a refusal (nothing taken) when a limit is reached. */
  admit(address: string): Refusal | undefined {
    if (this.total >= this.maxConnections) return { key: 'maxConnections', limit: this.maxConnections };
    const key = addressKey(address);
    const held = this.byAddress.get(key) ?? 0;
    if (this.maxPerAddress > 0 && held >= this.maxPerAddress) {
      return { key: 'maxConnectionsPerAddress', limit: this.maxPerAddress };
    }
    this.byAddress.set(key, held + 1);
    this.total++;
    return undefined;
  }

  release(address: string): void {
    const key = addressKey(address);
    const held = this.byAddress.get(key) ?? 0;
    if (held <= 1) this.byAddress.delete(key);
    else this.byAddress.set(key, held - 1);
    this.total--;
  }
}

/** An IPv4 client reached over an IPv6 socket (`::ffff:192.0.2.1`) is the same address as over IPv4. */
function addressKey(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
