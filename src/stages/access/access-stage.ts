import type {
  Directory,
  Modification,
  ModifyDnRequest,
  OperationContext,
  SearchRequest,
  SearchStream,
} from '../../core/directory.js';
import { Dn } from '../../core/dn.js';
import { Entry, type AttributeValue } from '../../core/entry.js';
import { compileFilter } from '../../core/filter-eval.js';
import { foldFilter, type Folded } from '../../core/filter-fold.js';
import type { Filter } from '../../core/filter.js';
import { ANONYMOUS } from '../../core/identity.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import { EMPTY_SEARCH, failedSearch } from '../../core/search-stream.js';
import { allows, type AccessPolicy, type AccessView, type EntryAccess } from './access-policy.js';
import { filterAttributes } from './filter-attributes.js';

/** What a filter that folds to TRUE is sent as. */
const ANY_ENTRY: Filter = { type: 'present', attribute: 'objectClass' };

/**
 * What a bound identity may see and change. Searches run below with the forests' service
 * accounts; this stage returns only the entries the identity may read, strips the attributes it
 * may not, and makes assertions on those attributes FALSE. An operation on an entry the identity
 * may not see fails like a missing entry, so refusals never reveal what exists.
 */
export class AccessStage implements Directory {
  constructor(
    private readonly policy: AccessPolicy,
    private readonly inner: Directory,
  ) {}

  namingContexts(): readonly Dn[] {
    return this.inner.namingContexts();
  }

  search(request: SearchRequest, ctx: OperationContext): SearchStream {
    const view = this.view(ctx);
    if (!view.reaches(request.base, request.scope, 'read')) return failedSearch(refusal(ctx, request.base));
    // Assertions on attributes readable nowhere in the region are FALSE for every entry.
    const filter = foldFilter(request.filter, (leaf) =>
      leaf.attribute === undefined || view.mayRead(leaf.attribute, request.base, request.scope) ? leaf : false,
    );
    if (filter === false) return EMPTY_SEARCH;
    const downstream: SearchRequest = {
      ...request,
      filter: filter === true ? ANY_ENTRY : filter,
      // Where readability varies by entry, the filter is checked again here, on the filter's attributes.
      attributes: view.attributeLimited ? withFilterAttributes(request.attributes, request.filter) : request.attributes,
    };
    return this.visible(view, downstream, ctx);
  }

  private async *visible(view: AccessView, request: SearchRequest, ctx: OperationContext): AsyncGenerator<Entry, void, undefined> {
    for await (const entry of this.inner.search(request, ctx)) {
      const access = view.covering(entry.dn);
      if (!allows(access.entry, 'read')) continue;
      if (access.uniform) {
        yield entry;
        continue;
      }
      if (!recheck(request.filter, access, entry)) continue;
      yield readable(entry, access);
    }
  }

  bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    return this.inner.bind(dn, password, ctx);
  }

  async add(entry: Entry, ctx: OperationContext): Promise<void> {
    const access = this.entryAccess(entry.dn, ctx, 'add');
    for (const a of entry.attributes()) this.demand(access, a.name, 'add', entry.dn);
    return this.inner.add(entry, ctx);
  }

  async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    const access = this.entryAccess(dn, ctx, 'modify');
    for (const c of changes) this.demand(access, c.attribute.name, 'modify', dn);
    return this.inner.modify(dn, changes, ctx);
  }

  async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    this.entryAccess(dn, ctx, 'delete');
    return this.inner.delete(dn, ctx);
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    this.entryAccess(request.dn, ctx, 'modifyDN');
    const parent = request.newSuperior ?? request.dn.parent();
    if (parent) this.entryAccess(Dn.parse(`${request.newRdn},${parent.text}`), ctx, 'modifyDN');
    return this.inner.modifyDn(request, ctx);
  }

  async compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    const access = this.view(ctx).covering(dn);
    if (!allows(access.entry, 'read')) throw refusal(ctx, dn);
    if (!allows(access.attribute(attribute), 'read')) {
      throw new LdapError(ResultCode.insufficientAccessRights, `compare: no read access to ${attribute}`);
    }
    return this.inner.compare(dn, attribute, value, ctx);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private view(ctx: OperationContext): AccessView {
    return this.policy.view(ctx.identity ?? ANONYMOUS);
  }

  /** The entry's decisions when the identity may write it; throws otherwise. */
  private entryAccess(dn: Dn, ctx: OperationContext, operation: string): EntryAccess {
    const access = this.view(ctx).covering(dn);
    const level = access.entry;
    if (!allows(level, 'read')) throw refusal(ctx, dn);
    if (!allows(level, 'write')) throw new LdapError(ResultCode.insufficientAccessRights, `${operation}: no write access to "${dn.text}"`);
    return access;
  }

  private demand(access: EntryAccess, attribute: string, operation: string, dn: Dn): void {
    if (!allows(access.attribute(attribute), 'write')) {
      throw new LdapError(ResultCode.insufficientAccessRights, `${operation}: no write access to ${attribute} of "${dn.text}"`);
    }
  }
}

/**
 * What an identity hears about an entry it may not see: anonymous clients are told to bind;
 * others get noSuchObject, the same answer whether the entry exists or not.
 */
function refusal(ctx: OperationContext, dn: Dn): LdapError {
  if ((ctx.identity ?? ANONYMOUS).kind === 'anonymous') {
    return new LdapError(ResultCode.insufficientAccessRights, 'anonymous clients may read the root DSE and the schema only: bind first');
  }
  return new LdapError(ResultCode.noSuchObject, `no such object "${dn.text}"`);
}

/** The filter decided again on one entry, with the attributes this entry hides from the identity FALSE. */
function recheck(filter: Filter, access: EntryAccess, entry: Entry): boolean {
  const folded: Folded = foldFilter(filter, (leaf) =>
    leaf.attribute === undefined || allows(access.attribute(leaf.attribute), 'read') ? leaf : false,
  );
  if (typeof folded === 'boolean') return folded;
  return folded === filter || compileFilter(folded)(entry);
}

function readable(entry: Entry, access: EntryAccess): Entry {
  const kept = [...entry.attributes()].filter((a) => allows(access.attribute(a.name), 'read'));
  return new Entry(entry.dn, kept);
}

function withFilterAttributes(requested: readonly string[], filter: Filter): readonly string[] {
  if (requested.length === 0 || requested.includes('*')) return requested;
  return [...requested.filter((a) => a !== '1.1'), ...filterAttributes(filter)];
}
