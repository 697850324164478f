import {
  searchContext,
  type Directory,
  type Modification,
  type ModifyDnRequest,
  type OperationContext,
  type PasswordModifyRequest,
  type SearchContext,
  type SearchRequest,
  type SearchStream,
} from '../../core/directory.js';
import { Dn } from '../../core/dn.js';
import { Entry, type AttributeValue } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import { attributeKey, testsAnyAttribute } from '../../core/schema.js';
import { EMPTY_SEARCH, failedSearch, HookedSearch } from '../../core/search-stream.js';
import { AttributeRequest } from './attribute-request.js';
import { messageToVirtual } from './diagnostic-rewrite.js';
import { EntryRewriter } from './entry-rewrite.js';
import { rewriteFilter, upstreamFilter } from './filter-rewrite.js';
import type { ForestView } from './forest-view.js';
import type { NamespaceMap } from './namespace-map.js';
import { attributeToUpstream, modificationToUpstream, rdnToUpstream } from './write-rewrite.js';

/** A search as it will be sent to one forest; `execute` runs it and rewrites what comes back. */
export interface SearchPlan {
  readonly forest: string;
  /** The request in the forest's own terms. */
  readonly request: SearchRequest;
  execute(ctx: SearchContext): SearchStream;
}

/**
 * One forest's Directory presented at its mount in the virtual tree: requests are rewritten into
 * the forest's terms (DNs, attribute names, DN values, UPN suffixes, filters), results and errors
 * back into virtual ones. The router calls it only for DNs within the mount, and may call `plan`
 * first to skip forests where the filter cannot match.
 */
export class NamespaceStage implements Directory {
  /**
   * Rewriters by requested attribute list: an application asks for the same list search after
   * search (a lookup's own cost was mostly compiling it and deciding each attribute again). Bounded,
   * as the lists come from clients.
   */
  private readonly rewriters = new Map<string, EntryRewriter>();

  constructor(
    readonly view: ForestView,
    private readonly map: NamespaceMap,
    private readonly inner: Directory,
  ) {}

  namingContexts(): readonly Dn[] {
    return [this.view.mount];
  }

  /**
   * The search in the forest's terms, or undefined when its filter cannot match in this forest
   * (then the forest need not be asked). Throws noSuchObject for a base outside the mount.
   */
  plan(request: SearchRequest): SearchPlan | undefined {
    const base = this.toUpstream(request.base);
    const filter = upstreamFilter(this.map, this.view, request.filter);
    if (filter === undefined) return undefined;
    const requested = request.attributes;
    const rewriter = this.rewriter(requested);
    const upstream: SearchRequest = { ...request, base, filter, attributes: rewriter.request.upstream };
    return {
      forest: this.view.name,
      request: upstream,
      execute: (ctx) =>
        HookedSearch.over(() => this.inner.search(upstream, ctx), { entry: (e) => rewriter.rewrite(e, requested), error: (err) => this.virtualError(err) }),
    };
  }

  private rewriter(requested: readonly string[]): EntryRewriter {
    const key = listKey(requested);
    let rewriter = this.rewriters.get(key);
    if (rewriter === undefined) {
      rewriter = new EntryRewriter(this.map, this.view, AttributeRequest.compile(this.view, requested));
      if (key.length <= MAX_KEPT_LIST_CHARS) {
        if (this.rewriters.size >= MAX_KEPT_LISTS) this.rewriters.clear();
        this.rewriters.set(key, rewriter);
      }
    }
    return rewriter;
  }

  search(request: SearchRequest, ctx: SearchContext): SearchStream {
    let plan: SearchPlan | undefined;
    try {
      plan = this.plan(request);
    } catch (err) {
      return failedSearch(err as Error);
    }
    return plan === undefined ? EMPTY_SEARCH : plan.execute(ctx);
  }

  async bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    // A name outside the mount fails exactly like a wrong password.
    if (!dn.isWithin(this.view.mount)) throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
    return this.guard(this.inner.bind(this.toUpstream(dn), password, ctx));
  }

  async add(entry: Entry, ctx: OperationContext): Promise<void> {
    let dn = this.toUpstream(entry.dn);
    this.writable('add');
    // The RDN's types are written too: refused where hidden, renamed where mapped.
    const rdn = entry.dn.firstRdn;
    const upstreamRdn = rdn && rdnToUpstream(this.map, this.view, rdn.text);
    if (rdn && upstreamRdn !== rdn.text) dn = dn.parent()!.child(upstreamRdn!);
    const attributes = [...entry.attributes()].map((a) => attributeToUpstream(this.map, this.view, a));
    return this.guard(this.inner.add(new Entry(dn, attributes), this.writeContext(ctx)));
  }

  async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    const target = this.toUpstream(dn);
    this.writable('modify');
    const upstream = changes.map((c) => modificationToUpstream(this.map, this.view, c));
    return this.guard(this.inner.modify(target, upstream, this.writeContext(ctx)));
  }

  async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    const target = this.toUpstream(dn);
    this.writable('delete');
    return this.guard(this.inner.delete(target, this.writeContext(ctx)));
  }

  async passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    const user = this.toUpstream(request.user);
    this.writable('password modify');
    // A reset writes the password's type (userPassword, or AD's unicodePwd), which a forest hiding it
    // never has written, as a modify of it is refused. A user's own change (bound as itself, or
    // proven by the old password) is between the user and its forest.
    const own = request.oldPasswordProven === true || ctx.asUser?.dn?.equals(request.user) === true;
    const hidden = own ? undefined : PASSWORD_TYPES.find((type) => this.view.virtualName(type) === undefined);
    if (hidden !== undefined) {
      throw new LdapError(ResultCode.insufficientAccessRights, `password modify: forest "${this.view.name}" hides ${hidden}: a password can only be changed by its user`);
    }
    return this.guard(this.inner.passwordModify({ ...request, user }, this.writeContext(ctx)));
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    const dn = this.toUpstream(request.dn);
    this.writable('modifyDN');
    // The mount's entry is the forest's base: renamed or moved, it would take the whole forest out of the tree.
    if (request.dn.equals(this.view.mount)) {
      throw new LdapError(ResultCode.affectsMultipleDSAs, `"${request.dn.text}" is the mount of forest "${this.view.name}": it cannot be renamed or moved`);
    }
    const newRdn = rdnToUpstream(this.map, this.view, request.newRdn);
    let newSuperior: Dn | undefined;
    if (request.newSuperior !== undefined) {
      const target = this.map.toUpstream(request.newSuperior);
      if (target?.forest !== this.view) {
        throw new LdapError(ResultCode.affectsMultipleDSAs, `cannot move "${request.dn.text}" out of forest "${this.view.name}"`);
      }
      newSuperior = target.dn;
    }
    return this.guard(this.inner.modifyDn({ ...request, dn, newRdn, ...(newSuperior ? { newSuperior } : {}) }, this.writeContext(ctx)));
  }

  /**
   * Compare as the equality assertion it is, rewritten like a filter: an assertion that cannot hold
   * here is false without asking, and one that becomes another kind of filter
   * (msDS-UserAccountDisabled) is answered by a base search.
   */
  async compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    const base = this.toUpstream(dn);
    const name = this.view.assertedName(attribute);
    if (name === undefined || (testsAnyAttribute(attributeKey(attribute)) && this.view.hidesAttributes)) {
      throw new LdapError(ResultCode.unwillingToPerform, `attribute "${attribute}" cannot be compared through this directory`);
    }
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    const filter = rewriteFilter(this.map, this.view, { type: 'equality', attribute, value: bytes });
    if (typeof filter === 'boolean') return filter;
    if (filter.type === 'equality') {
      const upstreamValue = filter.value === bytes ? value : typeof value === 'string' ? filter.value.toString('utf8') : filter.value;
      return this.guard(this.inner.compare(base, filter.attribute, upstreamValue, ctx));
    }
    const request: SearchRequest = { base, scope: 'base', filter, attributes: ['1.1'], typesOnly: true, sizeLimit: 1, timeLimit: 0 };
    try {
      for await (const _ of this.inner.search(request, searchContext(ctx))) return true;
    } catch (err) {
      throw this.virtualError(err);
    }
    return false;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private writable(operation: string): void {
    if (this.view.readOnly) throw new LdapError(ResultCode.unwillingToPerform, `${operation}: forest "${this.view.name}" is read-only`);
  }

  /** A user writing as itself, named in the forest's terms. */
  private writeContext(ctx: OperationContext): OperationContext {
    const writer = ctx.asUser;
    if (writer?.dn === undefined) return ctx;
    const { dn, ...rest } = writer;
    return { ...ctx, asUser: dn.isWithin(this.view.mount) ? { ...rest, dn: dn.rebase(this.view.mount, this.view.base) } : rest };
  }

  private toUpstream(dn: Dn): Dn {
    if (!dn.isWithin(this.view.mount)) {
      throw new LdapError(ResultCode.noSuchObject, `"${dn.text}" is not in forest "${this.view.name}"`);
    }
    return dn.rebase(this.view.mount, this.view.base);
  }

  private async guard<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (err) {
      throw this.virtualError(err);
    }
  }

  /** An error of the forest in virtual terms: its matchedDN (empty when outside the forest's base) and the DNs its message names. */
  private virtualError(err: unknown): unknown {
    if (!(err instanceof LdapError)) return err;
    const message = messageToVirtual(this.view, err.message);
    if (err.matchedDn === '' && message === err.message) return err;
    let matched = '';
    try {
      const dn = err.matchedDn === '' ? undefined : Dn.parse(err.matchedDn);
      if (dn?.isWithin(this.view.base)) matched = dn.rebase(this.view.base, this.view.mount).text;
    } catch {
      // an unparsable matchedDN is dropped rather than passed on in the forest's terms
    }
    const rewritten = new LdapError(err.code, message, matched, err.forest, err.detail);
    rewritten.stack = err.stack;
    return rewritten;
  }
}

/** Attribute lists whose rewriters a stage keeps, and the longest list (as JSON) it keeps one for. */
/** The types a password change writes: OpenLDAP's and the mock's, and Active Directory's. */
const PASSWORD_TYPES = ['userPassword', 'unicodePwd'];

const MAX_KEPT_LISTS = 256;
const MAX_KEPT_LIST_CHARS = 4096;

/** The list last keyed, and its key: every forest of a search asks for the same list (one array), keyed once. */
let lastList: readonly string[] | undefined;
let lastListKey = '';

/** An attribute list as a key, the same only for the same names in the same order (JSON: no two lists share one). */
function listKey(requested: readonly string[]): string {
  if (requested !== lastList) {
    lastListKey = JSON.stringify(requested);
    lastList = requested;
  }
  return lastListKey;
}
