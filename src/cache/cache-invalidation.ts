import type {
  Directory,
  Modification,
  ModifyDnRequest,
  OperationContext,
  PasswordModifyRequest,
} from '../core/directory.js';
import type { Dn } from '../core/dn.js';
import type { Entry } from '../core/entry.js';
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
 * every add, modify, delete, modifyDN and password change — whatever its outcome, since a write that failed or
 * timed out may still have reached the forest — the results that could hold the entry (at its old
 * and its new place) are evicted — here and, with workers, in every other worker's cache before
 * the write's result goes back to its client.
 */
export class CacheInvalidation extends Stage {
  constructor(
    private readonly cache: ResultCache,
    next: Directory,
    private readonly peers?: CachePeers,
  ) {
    super(next);
  }

  override async add(entry: Entry, ctx: OperationContext): Promise<void> {
    try {
      await this.next.add(entry, ctx);
    } finally {
      await this.evict(entry.dn);
    }
  }

  override async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    try {
      await this.next.modify(dn, changes, ctx);
    } finally {
      await this.evict(dn);
    }
  }

  override async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    try {
      await this.next.delete(dn, ctx);
    } finally {
      await this.evict(dn);
    }
  }

  override async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    try {
      await this.next.modifyDn(request, ctx);
    } finally {
      // Without a new superior the entry stays beside its old place, in the same forest.
      await this.evict(request.dn, ...(request.newSuperior ? [request.newSuperior] : []));
    }
  }

  override async passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    try {
      await this.next.passwordModify(request, ctx);
    } finally {
      await this.evict(request.user);
    }
  }

  private async evict(...dns: Dn[]): Promise<void> {
    for (const dn of dns) this.cache.invalidate(dn);
    await this.peers?.evict(dns);
  }
}
