import type {
  Directory,
  Modification,
  ModifyDnRequest,
  OperationContext,
  PasswordModifyRequest,
} from '../core/directory.js';
import type { Dn } from '../core/dn.js';
import type { Entry } from '../core/entry.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { Stage } from '../core/stage.js';
import type { ResultCache } from './result-cache.js';

/**
 * The other processes' caches (the workers of `serve.workers`): told of a write so they evict the
 * same results; resolves once every one of them has. Never rejects: a worker that ends holds no cache.
 */
export interface CachePeers {
  evict(dns: readonly Dn[]): Promise<void>;
}

/**
 * The pipeline stage that keeps the result cache honest about writes made through Canopy: after
 * an add, modify, delete, modifyDN or password change that may have changed the forest, the results
 * that could hold the entry (at its old and its new place) are evicted — here and, with workers, in
 * every other worker's cache before the write's result goes back to its client.
 */
export class CacheInvalidation extends Stage {
  constructor(
    private readonly cache: ResultCache,
    next: Directory,
    private readonly peers?: CachePeers,
  ) {
    super(next);
  }

  override add(entry: Entry, ctx: OperationContext): Promise<void> {
    return this.evictAfter(this.next.add(entry, ctx), entry.dn);
  }

  override modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    return this.evictAfter(this.next.modify(dn, changes, ctx), dn);
  }

  override delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.evictAfter(this.next.delete(dn, ctx), dn);
  }

  override modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    // Without a new superior the entry stays beside its old place, in the same forest.
    return this.evictAfter(this.next.modifyDn(request, ctx), request.dn, ...(request.newSuperior ? [request.newSuperior] : []));
  }

  override passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    return this.evictAfter(this.next.passwordModify(request, ctx), request.user);
  }

  /**
   * Evicts once the write is done, unless its answer says it changed nothing: a forest applies a
   * write whole or not at all (RFC 4511 §4.6), so its refusal, and Canopy's busy or unavailable
   * before sending, leave every kept result true. Evicting then would let any client empty the
   * cache (and its stale-if-error reserve) for everyone with writes it may not make. An unknown
   * outcome (`other`: the connection failed after sending, or the forest did not answer in time)
   * evicts. (A write the client abandons runs to its end all the same: see OperationHandler.)
   */
  private async evictAfter(write: Promise<void>, ...dns: Dn[]): Promise<void> {
    try {
      await write;
    } catch (err) {
      if (err instanceof LdapError && err.code !== ResultCode.other) throw err;
      await this.evict(dns);
      throw err;
    }
    await this.evict(dns);
  }

  private async evict(dns: readonly Dn[]): Promise<void> {
    for (const dn of dns) this.cache.invalidate(dn);
    await this.peers?.evict(dns);
  }
}
