import { KeyedQuota } from '../core/keyed-quota.js';

/**
 * Entries held in server-side sort buffers, per client connection and in all. One instance serves
 * the whole process (it outlives configuration reloads), so pipelined sorted searches on one
 * connection, or sorted searches on many, cannot together hold more than the configured bounds.
 */
export class SortBuffers {
  private readonly entries: KeyedQuota<number>;

  /** Either bound 0: no limit. */
  constructor(perConnection: number, processWide: number) {
    this.entries = new KeyedQuota(perConnection, processWide);
  }

  /** Takes room for one entry of `connection`; otherwise (nothing taken) the configuration key of the bound reached. */
  take(connection: number): string | undefined {
    const cap = this.entries.take(connection);
    if (cap === undefined) return undefined;
    return cap === 'perKey' ? `limits.maxSortEntriesPerConnection: ${this.entries.perKey}` : `limits.maxSortEntriesTotal: ${this.entries.inAll}`;
  }

  /** Gives back `n` entries of `connection` (a sort's buffer was let go). */
  release(connection: number, n: number): void {
    this.entries.release(connection, n);
  }

  /** Entries held now (tests, metrics). */
  get held(): number {
    return this.entries.held();
  }
}
