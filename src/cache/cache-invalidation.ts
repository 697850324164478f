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
 * The pipeline stage that keeps the result cache honest about writes made through Canopy: after
 * every add, modify, delete, modifyDN and password change — whatever its outcome, since a write that failed or
 * timed out may still have reached the forest — the results that could hold the entry (at its old
 * and its new place) are evicted.
 */
export class CacheInvalidation implements Directory {
  constructor(
    private readonly cache: ResultCache,
    private readonly inner: Directory,
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
      this.cache.invalidate(entry.dn);
    }
  }

  async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    try {
      await this.inner.modify(dn, changes, ctx);
    } finally {
      this.cache.invalidate(dn);
    }
  }

  async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    try {
      await this.inner.delete(dn, ctx);
    } finally {
      this.cache.invalidate(dn);
    }
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    try {
      await this.inner.modifyDn(request, ctx);
    } finally {
      this.cache.invalidate(request.dn);
      // Without a new superior the entry stays beside its old place, in the same forest.
      if (request.newSuperior) this.cache.invalidate(request.newSuperior);
    }
  }

  async passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    try {
      await this.inner.passwordModify(request, ctx);
    } finally {
      this.cache.invalidate(request.user);
    }
  }

  compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    return this.inner.compare(dn, attribute, value, ctx);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
