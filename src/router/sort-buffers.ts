import { KeyedQuota } from '../core/keyed-quota.js';

/** The bounds of the process's sort buffers; each 0: no limit. */
export interface SortBufferLimits {
  readonly perConnection: number;
  /** One identity's share, over all its connections (the holder key of `holderOf`). */
  readonly perIdentity: number;
  readonly processWide: number;
}

/** Whose sort takes room: its client connection and the identity it runs as. */
export interface SortHolder {
  readonly connection: number;
  /** The identity's key (`holderOf`): a canonical DN, a forest login, an anonymous client's address. */
  readonly identity: string;
}

/**
 * Entries held in server-side sort buffers, per client connection, per identity and in all. One
 * instance serves the whole process (it outlives configuration reloads), so pipelined sorted
 * searches on one connection, sorted searches parked on many connections by one identity, or
 * sorted searches on many, cannot together hold more than the configured bounds: an identity at
 * its share is refused while other identities are still served.
 */
export class SortBuffers {
  private readonly byConnection: KeyedQuota<number>;
  private readonly byIdentity: KeyedQuota<string>;

  constructor(limits: SortBufferLimits) {
    this.byConnection = new KeyedQuota(limits.perConnection, limits.processWide);
    this.byIdentity = new KeyedQuota(limits.perIdentity, 0);
  }

  /** Takes room for one entry of `holder`; otherwise (nothing taken) the configuration key of the bound reached. */
  take(holder: SortHolder): string | undefined {
    if (this.byIdentity.take(holder.identity) !== undefined) return `limits.maxSortEntriesPerIdentity: ${this.byIdentity.perKey}`;
    const cap = this.byConnection.take(holder.connection);
    if (cap === undefined) return undefined;
    this.byIdentity.release(holder.identity);
    return cap === 'perKey' ? `limits.maxSortEntriesPerConnection: ${this.byConnection.perKey}` : `limits.maxSortEntriesTotal: ${this.byConnection.inAll}`;
  }

  /** Gives back `n` entries of `holder` (sent on, or a sort's buffer let go). */
  release(holder: SortHolder, n: number): void {
    this.byConnection.release(holder.connection, n);
    this.byIdentity.release(holder.identity, n);
  }

  /** Entries held now, in all or by one identity (tests, metrics). */
  held(identity?: string): number {
    return identity === undefined ? this.byConnection.held() : this.byIdentity.held(identity);
  }
}
