/** Which cap refused a take: the key's own, or the one over all keys. */
export type QuotaCap = 'perKey' | 'total';

/**
 * Units held per key and in all, each against its cap (0 = none): connections per client
 * address, sort-buffer entries per connection, paged searches per identity. One key at its cap is
 * refused while other keys are still served, so no client can take what others need.
 */
export class KeyedQuota<K> {
  private total = 0;
  private readonly byKey = new Map<K, number>();

  constructor(
    readonly perKey: number,
    readonly inAll: number,
  ) {}

  /** Takes one unit for `key`; the cap reached instead (nothing taken). */
  take(key: K): QuotaCap | undefined {
    const held = this.byKey.get(key) ?? 0;
    if (this.perKey > 0 && held >= this.perKey) return 'perKey';
    if (this.inAll > 0 && this.total >= this.inAll) return 'total';
    this.byKey.set(key, held + 1);
    this.total++;
    return undefined;
  }

  /** Gives back `n` units of `key`. */
  release(key: K, n = 1): void {
    if (n === 0) return;
    const held = (this.byKey.get(key) ?? 0) - n;
    if (held > 0) this.byKey.set(key, held);
    else this.byKey.delete(key);
    this.total -= n;
  }

  /** Units held by `key`, or in all. */
  held(key?: K): number {
    return key === undefined ? this.total : (this.byKey.get(key) ?? 0);
  }
}
