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
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { failedSearch } from '../core/search-stream.js';

export interface Forest {
  readonly name: string;
  readonly directory: Directory;
}

/**
 * Routes each operation to the forest whose naming context holds its DN, each forest under its
 * own suffix. (The single virtual tree over several forests replaces this with mounts.)
 */
export class SuffixRouter implements Directory {
  constructor(private readonly forests: readonly Forest[]) {}

  namingContexts(): readonly Dn[] {
    return this.forests.flatMap((f) => f.directory.namingContexts());
  }

  search(request: SearchRequest, ctx: OperationContext): SearchStream {
    const forest = this.find(request.base);
    return forest ? forest.directory.search(request, ctx) : failedSearch(outside(request.base, 'search'));
  }

  async bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    const forest = this.find(dn);
    // An unknown name fails exactly like a wrong password.
    if (!forest) throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
    return forest.directory.bind(dn, password, ctx);
  }

  add(entry: Entry, ctx: OperationContext): Promise<void> {
    return this.owner(entry.dn, 'add').add(entry, ctx);
  }

  modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    return this.owner(dn, 'modify').modify(dn, changes, ctx);
  }

  delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.owner(dn, 'delete').delete(dn, ctx);
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    const directory = this.owner(request.dn, 'modifyDN');
    if (request.newSuperior && this.find(request.newSuperior)?.directory !== directory) {
      throw new LdapError(ResultCode.affectsMultipleDSAs, 'cannot move an entry to another forest');
    }
    return directory.modifyDn(request, ctx);
  }

  compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    return this.owner(dn, 'compare').compare(dn, attribute, value, ctx);
  }

  async close(): Promise<void> {
    await Promise.all(this.forests.map((f) => f.directory.close()));
  }

  private find(dn: Dn): Forest | undefined {
    let best: Forest | undefined;
    let bestDepth = -1;
    for (const f of this.forests) {
      for (const nc of f.directory.namingContexts()) {
        if (nc.depth > bestDepth && dn.isWithin(nc)) {
          best = f;
          bestDepth = nc.depth;
        }
      }
    }
    return best;
  }

  private owner(dn: Dn, operation: string): Directory {
    const forest = this.find(dn);
    if (!forest) throw outside(dn, operation);
    return forest.directory;
  }
}

function outside(dn: Dn, operation: string): LdapError {
  return new LdapError(ResultCode.noSuchObject, `${operation}: "${dn.text}" is not in any naming context`);
}
