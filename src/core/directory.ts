import type { Dn } from './dn.js';
import type { Attribute, AttributeValue, Entry } from './entry.js';
import type { Filter } from './filter.js';
import { foldedUpn, type Identity } from './identity.js';
import type { PolicyNotes } from './password-policy.js';
import { SearchTrailer } from './search-trailer.js';
import type { SessionResources } from './session-resources.js';

export type Scope = 'base' | 'one' | 'sub';

/** Who is asking: the front end fills it from the session, stages read it. */
export interface OperationContext {
  /** Aborted when the client abandons the operation, unbinds or disconnects. */
  readonly signal: AbortSignal;
  readonly connectionId: number;
  /** The client's address (a PROXY header's when a balancer sent one); absent outside client connections. */
  readonly clientAddress?: string;
  /** The bound DN as the client sent it; empty for anonymous. */
  readonly boundDn: string;
  /** Who is bound; absent counts as anonymous. */
  readonly identity?: Identity;
  /**
   * Where a bind, modify or Password Modify records the password policy state (draft-behera),
   * present when the client sent the request control: the front end returns it in the response control.
   */
  readonly policy?: PolicyNotes;
  /** What the client connection holds while its bind lasts; absent outside client connections. */
  readonly session?: SessionResources;
  /**
   * Set by the access stage on a write by a forest user to its own forest: the forest applies the
   * user's own permissions (ldap: the user's own upstream connection; memory: what Active
   * Directory lets SELF change on its own entry, and what the access rules allow).
   * Absent: the write uses the forest's service account, Canopy's access rules having allowed it.
   */
  readonly asUser?: UserWriter;
}

/**
 * Whose share of a per-identity quota an operation counts against (an ldap forest's paged searches
 * and searches under way, sort buffers): one key per canonical DN or login; anonymous clients one
 * per address (all of them as one, one anonymous client would hold every other's share), or per
 * connection where no address is known.
 */
export function holderOf(ctx: OperationContext): string {
  const { identity } = ctx;
  if (identity && identity.kind !== 'anonymous') {
    if (identity.dn) return identity.dn.key;
    if (identity.kind === 'user') return `${identity.forest}\\${foldedUpn(identity.login)}`;
  }
  return ctx.clientAddress === undefined ? `anonymous (connection ${ctx.connectionId})` : `anonymous from ${ctx.clientAddress}`;
}

/** A forest user writing as itself. */
export interface UserWriter {
  /** The user's entry in the terms of the directory receiving the write; absent when unknown (native UPN login). */
  readonly dn?: Dn;
  /**
   * Whether Canopy's access rules alone would let this identity make the write. A forest without
   * permissions of its own (memory) goes by them, besides letting users change on their own entry
   * what Active Directory lets SELF change (its Personal-Information and Web-Information, its password).
   */
  readonly rulesAllow: boolean;
}

/** The context of a search: besides who asks, the trailer its stages write its side results to. */
export interface SearchContext extends OperationContext {
  readonly trailer: SearchTrailer;
  /**
   * For a client's paged search, when it last asked for a page (performance.now()): between pages
   * it is parked, whatever its forests still hold for it.
   */
  readonly paging?: { at: number };
}

/**
 * The context for a search that `ctx`'s operation starts (a lookup within a bind or compare, a
 * tool's search): a fresh trailer, which the caller reads or deliberately ignores.
 */
export function searchContext(ctx: OperationContext): SearchContext {
  return { ...ctx, trailer: new SearchTrailer() };
}

/** One server-side sort key (RFC 2891). */
export interface SortKey {
  readonly attribute: string;
  /** Matching rule OID; the attribute's own ordering when absent. */
  readonly orderingRule?: string;
  readonly reverse: boolean;
}

export interface SortRequest {
  readonly keys: readonly SortKey[];
  /** The client marked the control critical: no entries rather than unsorted ones. */
  readonly required: boolean;
  /**
   * Whether the client may read an attribute of an entry, set by the access stage where that varies
   * by entry: the sort takes no key from a value the client may not read (RFC 2891 sortResult 50).
   */
  readonly mayRead?: (entry: Entry, attribute: string) => boolean;
}

export interface SearchRequest {
  readonly base: Dn;
  readonly scope: Scope;
  readonly filter: Filter;
  /** Requested attribute names as sent (`*`, `+`, `1.1` included); empty means all user attributes. */
  readonly attributes: readonly string[];
  readonly typesOnly: boolean;
  /** 0 = no limit. Applied where the stream is consumed, so a backend may ignore it. */
  readonly sizeLimit: number;
  /** Seconds; 0 = no limit. */
  readonly timeLimit: number;
  /** Server-side sort (RFC 2891), applied by the router across forests. */
  readonly sort?: SortRequest;
  /**
   * Whether the client may see an entry at all, set by the access stage where that varies in the
   * search region. What the router decides across entries (a sort and its limits, which forest's
   * entry keeps a unique value, the sync guard's counts) must leave out entries the access stage
   * drops later, or its answer would tell that a hidden entry matched.
   */
  readonly sees?: (entry: Entry) => boolean;
  /**
   * Whether the client may read nothing at all below a forest's mount, set by the access stage. The
   * router leaves such a forest out of a search above it: its entries would all be dropped, and its
   * outage, its hidden attributes (a sort key it hides) or its references would tell it is there.
   */
  readonly skips?: (mount: Dn) => boolean;
}

/**
 * Entries of a search, produced lazily: the consumer pulls one at a time, so a slow client slows
 * the producer. It ends by returning, or fails with an LdapError (noSuchObject, unavailable, …).
 */
export type SearchStream = AsyncIterable<Entry>;

export type ModificationOperation = 'add' | 'delete' | 'replace';

export interface Modification {
  readonly operation: ModificationOperation;
  readonly attribute: Attribute;
}

export interface ModifyDnRequest {
  readonly dn: Dn;
  /** The new RDN as text, e.g. `cn=Jane Doe`. */
  readonly newRdn: string;
  readonly deleteOldRdn: boolean;
  readonly newSuperior?: Dn;
}

/** RFC 3062 Password Modify, resolved: the front end fills in the bound user when the client named none. */
export interface PasswordModifyRequest {
  readonly user: Dn;
  /** The current password, when the client sent it: the directory checks it. */
  readonly oldPassword?: Buffer;
  readonly newPassword: Buffer;
  /**
   * Canopy proved oldPassword with the user's own login, which the forest refused only because the
   * password must change: the user's own change, made with the forest's service account (access
   * rules do not apply: the password is the proof), the forest checking the old password again.
   */
  readonly oldPasswordProven?: true;
}

/**
 * The table of operations every backend implements and every pipeline stage wraps (slapd's
 * backend/overlay model). Failures are LdapErrors carrying the result code the client gets.
 */
export interface Directory {
  /** The naming contexts this directory holds, for routing and the root DSE. */
  namingContexts(): readonly Dn[];
  search(request: SearchRequest, ctx: SearchContext): SearchStream;
  /** Resolves when the credentials are valid; rejects with invalidCredentials otherwise. */
  bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void>;
  add(entry: Entry, ctx: OperationContext): Promise<void>;
  modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void>;
  delete(dn: Dn, ctx: OperationContext): Promise<void>;
  modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void>;
  /** True for compareTrue, false for compareFalse. */
  compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean>;
  /** Sets a user's password (RFC 3062); the forest decides how (extended operation, unicodePwd, its own store). */
  passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void>;
  close(): Promise<void>;
}
