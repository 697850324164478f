import type {
  Directory,
  Modification,
  ModifyDnRequest,
  OperationContext,
  PasswordModifyRequest,
  SearchRequest,
  SearchStream,
} from '../core/directory.js';
import type { Dn } from '../core/dn.js';
import type { AttributeValue, Entry } from '../core/entry.js';
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
export class CacheInvalidation implements Directory {
  constructor(
    private readonly cache: ResultCache,
    private readonly inner: Directory,
    private readonly peers?: CachePeers,
  ) {}

  namingContexts(): readonly Dn[] {
    return this.inner.namingContexts();
  }

  search(request: SearchRequest, ctx: OperationContext): SearchStream {
    return this.inner.search(request, ctx);
  }

  bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    return this.inner.bind(dn, password, ctx);
  }

  async add(entry: Entry, ctx: OperationContext): Promise<void> {
    try {
      await this.inner.add(entry, ctx);
    } finally {
      await this.evict(entry.dn);
    }
  }

  async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    try {
      await this.inner.modify(dn, changes, ctx);
    } finally {
      await this.evict(dn);
    }
  }

  async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    try {
      await this.inner.delete(dn, ctx);
    } finally {
      await this.evict(dn);
    }
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    try {
      await this.inner.modifyDn(request, ctx);
    } finally {
      // Without a new superior the entry stays beside its old place, in the same forest.
      await this.evict(request.dn, ...(request.newSuperior ? [request.newSuperior] : []));
    }
  }

  async passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    try {
      await this.inner.passwordModify(request, ctx);
    } finally {
      await this.evict(request.user);
    }
  }

  private async evict(...dns: Dn[]): Promise<void> {
    for (const dn of dns) this.cache.invalidate(dn);
    await this.peers?.evict(dns);
  }

  compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    return this.inner.compare(dn, attribute, value, ctx);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
