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

/**
 * Slots per key, taken in turn: a key at its cap waits (first come, first served) until one of its
 * own is given back, while other keys go on. For what a client cannot be refused outright but
 * must not pile up: searches holding a forest's answers until the client reads them.
 */
export class KeyedSlots<K> {
  private readonly taken: KeyedQuota<K>;
  private readonly waiting = new Map<K, (() => void)[]>();

  constructor(perKey: number) {
    this.taken = new KeyedQuota(perKey, 0);
  }

  /** A slot for `key`, once one is free; rejects with the signal's reason if it aborts first. */
  take(key: K, signal: AbortSignal): Promise<void> | undefined {
    if (this.taken.take(key) === undefined) return undefined;
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(key) ?? [];
      this.waiting.set(key, queue);
      const turn = (): void => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        const at = queue.indexOf(turn);
        if (at >= 0) queue.splice(at, 1);
        if (queue.length === 0 && this.waiting.get(key) === queue) this.waiting.delete(key);
        reject(signal.reason as Error);
      };
      queue.push(turn);
      signal.addEventListener('abort', abort, { once: true });
    });
  }

  /** Gives back a slot of `key`: to the next waiting for one, if any. */
  give(key: K): void {
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(key);
    if (next) return next();
    this.taken.release(key);
  }
}
