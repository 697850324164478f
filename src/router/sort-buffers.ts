/**
 * Entries held in server-side sort buffers, per client connection and in all. One instance serves
 * the whole process (it outlives configuration reloads), so pipelined sorted searches on one
 * connection, or sorted searches on many, cannot together hold more than the configured bounds.
 */
export class SortBuffers {
  private total = 0;
  private readonly byConnection = new Map<number, number>();

  constructor(
    /** 0 = no limit. */
    private readonly perConnection: number,
    /** 0 = no limit. */
    private readonly processWide: number,
  ) {}

  /** Takes room for one entry of `connection`; otherwise (nothing taken) the configuration key of the bound reached. */
  take(connection: number): string | undefined {
    const held = this.byConnection.get(connection) ?? 0;
    if (this.perConnection > 0 && held >= this.perConnection) return `limits.maxSortEntriesPerConnection: ${this.perConnection}`;
    if (this.processWide > 0 && this.total >= this.processWide) return `limits.maxSortEntriesTotal: ${this.processWide}`;
    this.byConnection.set(connection, held + 1);
    this.total++;
    return undefined;
  }

  /** Gives back `n` entries of `connection` (a sort's buffer was let go). */
  release(connection: number, n: number): void {
    if (n === 0) return;
    const held = (this.byConnection.get(connection) ?? 0) - n;
    if (held > 0) this.byConnection.set(connection, held);
    else this.byConnection.delete(connection);
    this.total -= n;
  }

  /** Entries held now (tests, metrics). */
  get held(): number {
    return this.total;
  }
}
