import type { Dn } from '../core/dn.js';
import type {
  Directory,
  Modification,
  ModifyDnRequest,
  OperationContext,
  SearchRequest,
  SearchStream,
} from '../core/directory.js';
import type { AttributeValue, Entry } from '../core/entry.js';
import { compileFilter } from '../core/filter-eval.js';
import { LdapError } from '../core/ldap-error.js';
import { normalise } from '../core/matching.js';
import { ResultCode } from '../core/result-codes.js';
import { failedSearch } from '../core/search-stream.js';
import type { Logger } from '../observability/logger.js';
import { DuplicateFilter } from './duplicates.js';
import { concatStreams, ForestStreamError, mergeStreams, type NamedStream } from './merge-streams.js';
import { SyntheticTree } from './synthetic-entries.js';

/** A forest as the router sees it: a Directory already speaking the virtual tree at `mount`. */
export interface RoutedForest {
  readonly name: string;
  readonly mount: Dn;
  readonly priority: number;
  readonly directory: Directory;
}

export interface RouterOptions {
  /** The virtual tree's root; without it each forest is served at its own mount. */
  readonly suffix?: Dn;
  readonly uniqueAttributes: readonly string[];
  readonly onDuplicate: 'all' | 'priority';
  readonly logger: Logger;
}

/**
 * Decides which forests an operation touches: by DN for everything but searches above the mounts,
 * which fan out to every forest whose mount lies in scope, concurrently, merged into one stream,
 * together with the synthetic entries (suffix, intermediate containers) no forest backs.
 */
export class NamespaceRouter implements Directory {
  private readonly synthetic?: SyntheticTree;
  private readonly byPriority: readonly RoutedForest[];

  constructor(
    private readonly forests: readonly RoutedForest[],
    private readonly options: RouterOptions,
  ) {
    if (options.suffix) {
      this.synthetic = new SyntheticTree(
        options.suffix,
        forests.map((f) => f.mount),
      );
    }
    this.byPriority = [...forests].sort((a, b) => a.priority - b.priority);
  }

  namingContexts(): readonly Dn[] {
    return this.options.suffix ? [this.options.suffix] : this.forests.map((f) => f.mount);
  }

  search(request: SearchRequest, ctx: OperationContext): SearchStream {
    const owner = this.owner(request.base);
    if (owner) return owner.directory.search(request, ctx);
    const base = this.synthetic?.get(request.base);
    if (!base) return failedSearch(this.missing(request.base, 'search'));
    return this.searchAbove(base, request, ctx);
  }

  async bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    const owner = this.owner(dn);
    // An unknown name fails exactly like a wrong password.
    if (!owner) throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
    return owner.directory.bind(dn, password, ctx);
  }

  async add(entry: Entry, ctx: OperationContext): Promise<void> {
    return this.writer(entry.dn, 'add').directory.add(entry, ctx);
  }

  async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    return this.writer(dn, 'modify').directory.modify(dn, changes, ctx);
  }

  async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.writer(dn, 'delete').directory.delete(dn, ctx);
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    const owner = this.writer(request.dn, 'modifyDN');
    if (request.newSuperior && this.owner(request.newSuperior) !== owner) {
      if (!this.owner(request.newSuperior) && !this.synthetic?.get(request.newSuperior)) {
        throw this.missing(request.newSuperior, 'modifyDN');
      }
      throw new LdapError(ResultCode.affectsMultipleDSAs, 'modifyDN: cannot move an entry to another forest');
    }
    return owner.directory.modifyDn(request, ctx);
  }

  async compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    const owner = this.owner(dn);
    if (owner) return owner.directory.compare(dn, attribute, value, ctx);
    const entry = this.synthetic?.get(dn);
    if (!entry) throw this.missing(dn, 'compare');
    const attr = entry.get(attribute);
    if (!attr) throw new LdapError(ResultCode.noSuchAttribute, `compare: "${dn.text}" has no ${attribute}`);
    const wanted = normalise(attribute, value);
    return attr.values.some((v) => normalise(attribute, v) === wanted);
  }

  async close(): Promise<void> {
    await Promise.all(this.forests.map((f) => f.directory.close()));
  }

  private async *searchAbove(base: Entry, request: SearchRequest, ctx: OperationContext): AsyncGenerator<Entry, void, undefined> {
    const matches = compileFilter(request.filter);
    const local =
      request.scope === 'base' ? [base] : request.scope === 'one' ? this.synthetic!.childrenOf(base.dn) : this.synthetic!.subtree(base.dn);
    for (const e of local) if (matches(e)) yield e;
    if (request.scope === 'base') return;

    const below = request.scope === 'one' ? (f: RoutedForest) => f.mount.parent()?.equals(base.dn) === true : (f: RoutedForest) => f.mount.isWithin(base.dn);
    const scope = request.scope === 'one' ? 'base' : 'sub';
    const downstream = this.withUniqueAttributes(request);
    const forests = (this.options.onDuplicate === 'priority' ? this.byPriority : this.forests).filter(below);
    const sources: NamedStream[] = forests.map((f) => ({
      forest: f.name,
      stream: f.directory.search({ ...downstream, base: f.mount, scope }, ctx),
    }));
    try {
      if (this.options.onDuplicate === 'priority' && this.options.uniqueAttributes.length > 0) {
        const duplicates = new DuplicateFilter(this.options.uniqueAttributes, this.options.logger);
        // Sequential, in priority order, so the entry kept is always the preferred forest's.
        for (const s of sources) {
          for await (const e of concatStreams([s])) if (duplicates.admit(e, s.forest)) yield e;
        }
      } else {
        yield* mergeStreams(sources);
      }
    } catch (err) {
      throw err instanceof ForestStreamError ? forestFailure(err.forest, err.cause) : err;
    }
  }

  /** Unique attributes must reach the router to compare them; the front end returns only what was asked. */
  private withUniqueAttributes(request: SearchRequest): SearchRequest {
    const unique = this.options.onDuplicate === 'priority' ? this.options.uniqueAttributes : [];
    if (unique.length === 0 || request.attributes.length === 0 || request.attributes.includes('*')) return request;
    return { ...request, attributes: [...request.attributes.filter((a) => a !== '1.1'), ...unique] };
  }

  private owner(dn: Dn): RoutedForest | undefined {
    return this.forests.find((f) => dn.isWithin(f.mount));
  }

  private writer(dn: Dn, operation: string): RoutedForest {
    const owner = this.owner(dn);
    if (owner) return owner;
    if (this.synthetic?.get(dn)) {
      throw new LdapError(ResultCode.unwillingToPerform, `${operation}: "${dn.text}" is a virtual container and cannot be changed`);
    }
    throw this.missing(dn, operation);
  }

  /** noSuchObject with the longest existing virtual DN above `dn` as matchedDN. */
  private missing(dn: Dn, operation: string): LdapError {
    for (let p = dn.parent(); p; p = p.parent()) {
      const e = this.synthetic?.get(p);
      if (e) return new LdapError(ResultCode.noSuchObject, `${operation}: no such object "${dn.text}"`, e.dn.text);
    }
    return new LdapError(ResultCode.noSuchObject, `${operation}: "${dn.text}" is not in any naming context`);
  }
}

/**
 * A forest's failure inside a search ends the whole search with an error naming the forest:
 * an outage must never look like an empty or partial success. Directory answers that are not
 * outages (noSuchObject, limits, …) keep their code.
 */
function forestFailure(forest: string, err: unknown): Error {
  if (!(err instanceof LdapError)) return new LdapError(ResultCode.unavailable, `forest "${forest}" failed: internal error`);
  if (err.message.includes(`forest "${forest}"`)) return err;
  const outage = [ResultCode.unavailable, ResultCode.busy, ResultCode.other, ResultCode.operationsError] as number[];
  const code = outage.includes(err.code) ? ResultCode.unavailable : err.code;
  return new LdapError(code, `forest "${forest}": ${err.message}`, err.matchedDn);
}
