import type { SecurityConfig } from '../config/auth-schema.js';

export type ThrottleSettings = SecurityConfig['throttle'];

interface Window {
  start: number;
  failures: number;
}

/** Counters kept before expired windows are swept out. */
const SWEEP_AT = 10_000;

/**
 * Failed binds counted per source address and per login name in fixed windows. After `slowAfter`
 * failures of one name its failed binds are answered only after `delayMs` (an address, shared by
 * many users behind one gateway, is not slowed); after either maximum, binds are refused until the
 * window passes, even with the right password (otherwise guessing would go on). Successful binds
 * are never slowed.
 */
export class BindThrottle {
  private readonly addresses = new Map<string, Window>();
  private readonly names = new Map<string, Window>();

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the address or name may bind again; 0 when it may now. */
  blockedFor(address: string, name: string): number {
    const a = this.current(this.addresses, address);
    const n = this.current(this.names, name);
    const blocked = [
      a && a.failures >= this.settings.maxFailuresPerAddress ? a : undefined,
      n && n.failures >= this.settings.maxFailuresPerAccount ? n : undefined,
    ].filter((w) => w !== undefined);
    if (blocked.length === 0) return 0;
    const until = Math.max(...blocked.map((w) => w.start + this.settings.windowSeconds * 1000));
    return Math.ceil((until - this.now()) / 1000);
  }

  /** Records a failure; returns how long (ms) its answer should wait. */
  failed(address: string, name: string): number {
    this.count(this.addresses, address);
    return this.count(this.names, name) > this.settings.slowAfter ? this.settings.delayMs : 0;
  }

  /** A successful bind clears the name's failures (like AD's badPwdCount), not the address's. */
  succeeded(name: string): void {
    this.names.delete(name);
  }

  private current(map: Map<string, Window>, key: string): Window | undefined {
    const w = map.get(key);
    if (w && this.now() - w.start >= this.settings.windowSeconds * 1000) {
      map.delete(key);
      return undefined;
    }
    return w;
  }

  private count(map: Map<string, Window>, key: string): number {
    const w = this.current(map, key);
    if (w) return ++w.failures;
    if (map.size >= SWEEP_AT) for (const k of [...map.keys()]) this.current(map, k);
    map.set(key, { start: this.now(), failures: 1 });
    return 1;
  }
}
