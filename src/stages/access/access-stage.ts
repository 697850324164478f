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
import { IN_CHAIN_RULE } from '../../core/extensible-rules.js';
import { attributeKey, testsAnyAttribute } from '../../core/schema.js';
import { foldFilter, UNDEFINED } from '../../core/filter-fold.js';
import type { Filter } from '../../core/filter.js';
import { ANONYMOUS } from '../../core/identity.js';
import { isOutage, LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import { EMPTY_SEARCH, HookedSearch } from '../../core/search-stream.js';
import { Stage } from '../../core/stage.js';
import { allows, SUBORDINATE_ATTRIBUTES, type AccessPolicy, type AccessView, type EntryAccess, type RegionAccess } from './access-policy.js';
import { readableSort } from './readable-sort.js';

/** What a filter that folds to TRUE is sent as. */
const ANY_ENTRY: Filter = { type: 'present', attribute: 'objectClass' };


/**
 * What a bound identity may see and change. Searches run below with the forests' service
 * accounts; this stage returns only the entries the identity may read, strips the attributes it
 * may not, and makes UNDEFINED (RFC 4511 §4.5.1.7: neither they nor their negations match) every
 * assertion it may not make on some entry it sees in the search region: on an attribute, a subtype
 * of it or what it is computed from; extensible matches naming no attribute (they test them all);
 * and the in-chain rule unless it reads everything (it walks through entries). An operation on an
 * entry the identity may not see fails like a missing entry, so refusals never reveal what exists.
 *
 * Writes: a forest user writing in its own forest writes as itself (`asUser`), and the forest's
 * own permissions decide; anyone else needs `write` from the rules and writes with the forest's
 * service account.
 */
export class AccessStage extends Stage {
  constructor(
    private readonly policy: AccessPolicy,
    next: Directory,
    /** Each forest's mount by name: where its users write as themselves. */
    private readonly forestMounts: ReadonlyMap<string, Dn> = new Map(),
  ) {
    super(next);
  }

  override search(request: SearchRequest, ctx: SearchContext): SearchStream {
    return request.base.plainNaming ? this.searchAt(request, ctx) : this.searchResolved(request, ctx);
  }

  /** A search from a DN other than a plain one, starting at the DN the forest gives back for it (see resolve). */
  private async *searchResolved(request: SearchRequest, ctx: SearchContext): SearchStream {
    try {
      const base = await this.resolve(request.base, ctx);
      yield* this.searchAt({ ...request, base }, ctx);
    } catch (err) {
      throw missing(err) ? this.unseenAnswer(ctx, request.base, err.matchedDn) : err;
    }
  }

  private searchAt(request: SearchRequest, ctx: SearchContext): SearchStream {
    const view = this.view(ctx);
    request = readableSort(request, view);
    // A base a rule hides is answered as a missing one, whatever the scope: its children would tell it exists.
    if (!view.reaches(request.base, request.scope, 'read') || view.covering(request.base).hidden) {
      return this.askedAnyway(this.unseenAnswer(ctx, request.base), request.base, ctx);
    }
    // The forest evaluates the filter with every value: an assertion stays only where it may be
    // made on every entry the identity sees in the region; elsewhere it is UNDEFINED (never
    // decided again per entry from what comes back: that entry lacks what the forest matched on).
    let region: RegionAccess | undefined;
    const scope = (): RegionAccess => (region ??= view.region(request.base, request.scope));
    let subtree: boolean | undefined;
    const seesEveryChild = (): boolean => (subtree ??= view.region(request.base, 'sub').seesEverything);
    const filter = foldFilter(request.filter, (leaf) => {
      if (leaf.type === 'extensible' && leaf.rule === IN_CHAIN_RULE && !this.readsEveryForest(view)) return UNDEFINED;
      if (leaf.attribute !== undefined && SUBORDINATE_ATTRIBUTES.has(attributeKey(leaf.attribute)) && !seesEveryChild()) return UNDEFINED;
      if (!view.attributeLimited) return leaf;
      const anyAttribute = leaf.attribute === undefined || testsAnyAttribute(attributeKey(leaf.attribute));
      return (anyAttribute ? scope().assertsEvery : scope().asserts(leaf.attribute!)) ? leaf : UNDEFINED;
    });
    if (filter === false) return EMPTY_SEARCH;
    // The router asks which entries the client may see only where it decides across entries (a sort,
    // duplicates, the sync guard): the region is looked at then, once, and each entry only where
    // some entry of the region is hidden (SearchRequest.sees).
    let everything: boolean | undefined;
    const sees = (entry: Entry): boolean => (everything ??= scope().seesEverything) || allows(view.covering(entry.dn).entry, 'read');
    const skips = (mount: Dn): boolean => !view.reaches(mount, 'sub', 'read') || view.covering(mount).hidden;
    // A continuation reference names a place in the region as the forest calls it: passed on only to
    // a client that sees the whole region (the region is looked at only when one arrives).
    ctx.trailer.screenReferences(() => (everything ??= scope().seesEverything));
    const downstream: SearchRequest = { ...request, sees, skips, ...(filter !== request.filter && { filter: filter === true ? ANY_ENTRY : filter }) };
    return this.visible(view, downstream, ctx);
  }

  /**
   * Whether the identity reads every attribute of every entry of every forest: the in-chain rule
   * walks group links anywhere in a forest, through entries and values the identity may not see.
   */
  private readsEveryForest(view: AccessView): boolean {
    for (const mount of this.forestMounts.values()) if (!view.region(mount, 'sub').readsEverything) return false;
    return true;
  }

  /** The entries `view` may read, each with the attributes it may read. */
  private visible(view: AccessView, request: SearchRequest, ctx: SearchContext): SearchStream {
    // Servers return these operational attributes only when asked for (by name or `+`): most searches look at no entry for them.
    const childCounts = request.attributes.some((a) => a === '+' || SUBORDINATE_ATTRIBUTES.has(attributeKey(a)));
    return HookedSearch.over(() => this.next.search(request, ctx), {
      entry: (entry) => {
        const access = view.covering(entry.dn);
        if (!allows(access.entry, 'read')) return undefined;
        const shown = access.uniform ? entry : readable(entry, access);
        return childCounts && countsChildren(shown) && !view.showsChildren(entry.dn) ? withoutSubordinates(shown) : shown;
      },
      // A missing base is answered as one the identity may not see (see unseenAnswer).
      error: (err) => (missing(err) ? this.unseenAnswer(ctx, request.base, err.matchedDn) : err),
    });
  }

  override add(entry: Entry, ctx: OperationContext): Promise<void> {
    const parent = entry.dn.parent();
    return this.spelledAs(
      entry.dn,
      ctx,
      MATCHED,
      async () => {
        if (parent && !parent.plainNaming) entry = new Entry((await this.resolve(parent, ctx)).child(entry.dn.firstRdn!.text), [...entry.attributes()]);
        // Under a parent a rule hides: answered as under a missing one.
        const under = entry.dn.parent();
        if (under && this.view(ctx).covering(under).hidden) throw this.unseenAnswer(ctx, under);
        await this.refuseHiddenNamesake(entry.dn, ctx);
        // The RDN's values are the entry's too (the server adds them when the client leaves them out).
        const attributes = [...Array.from(entry.attributes(), (a) => a.name), ...rdnTypes(entry.dn)];
        return this.next.add(entry, this.writer(entry.dn, ctx, 'add', { attributes, whole: true }));
      },
      // The new entry does not exist yet: its parent must.
      () => (parent ? [parent] : []),
    );
  }

  override modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    return this.spelledAs(dn, ctx, MATCHED, async () => {
      const target = await this.resolve(dn, ctx);
      const attributes = changes.map((c) => c.attribute.name);
      return this.next.modify(target, changes, this.writer(target, ctx, 'modify', { attributes }));
    });
  }

  override delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.spelledAs(dn, ctx, MATCHED, async () => {
      const target = await this.resolve(dn, ctx);
      return this.next.delete(target, this.writer(target, ctx, 'delete', { whole: true, subtree: true }));
    });
  }

  override modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    // No matchedDN: slapd names none for a missing new superior, and this answer may be about either DN.
    return this.spelledAs(request.dn, ctx, NO_MATCHED, async () => {
      const dn = await this.resolve(request.dn, ctx);
      const newSuperior = request.newSuperior && (await this.resolve(request.newSuperior, ctx));
      if (newSuperior && this.view(ctx).covering(newSuperior).hidden) throw this.unseenAnswer(ctx, newSuperior);
      const resolved = { ...request, dn, ...(newSuperior && { newSuperior }) };
      const parent = newSuperior ?? dn.parent();
      // The rules must allow writing at the new place too.
      const alsoAt = parent?.child(request.newRdn);
      if (alsoAt) await this.refuseHiddenNamesake(alsoAt, ctx);
      // A rename writes the new RDN's values, and removes the old one's with deleteOldRdn.
      const attributes = [...(alsoAt ? rdnTypes(alsoAt) : []), ...(request.deleteOldRdn ? rdnTypes(dn) : [])];
      return this.next.modifyDn(resolved, this.writer(dn, ctx, 'modifyDN', { whole: true, subtree: true, attributes, ...(alsoAt && { alsoAt }) }));
    }, () => (request.newSuperior ? [request.dn, request.newSuperior] : [request.dn]));
  }

  override passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    // A change proven by the user's own password is the user's, whoever's connection carries it.
    if (request.oldPasswordProven) return this.next.passwordModify(request, ctx);
    // No matchedDN: an extended operation's result names none (slapd's never does).
    return this.spelledAs(request.user, ctx, NO_MATCHED, async () => {
      const user = await this.resolve(request.user, ctx);
      const writer = this.writer(user, ctx, 'password modify', { attributes: ['userPassword'], passwordChange: true });
      return this.next.passwordModify({ ...request, user }, writer);
    });
  }

  override compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    return this.spelledAs(dn, ctx, MATCHED, async () => {
      const target = await this.resolve(dn, ctx);
      const access = this.view(ctx).covering(target);
      if (!allows(access.entry, 'read')) throw this.unseenAnswer(ctx, target);
      const key = attributeKey(attribute);
      const anyAttribute = testsAnyAttribute(key);
      const hidesChild = SUBORDINATE_ATTRIBUTES.has(key) && !this.view(ctx).showsChildren(target);
      if (!allows(access.assertion(attribute), 'read') || (anyAttribute && !access.readsEvery) || hidesChild) {
        throw new LdapError(ResultCode.insufficientAccessRights, `compare: no read access to ${attribute}`);
      }
      return this.next.compare(target, attribute, value, ctx);
    });
  }

  /**
   * The DN the rules decide on: as given when it is plain (Dn.plainNaming: every server names by it
   * what its key names), otherwise as the forest gives it back (a base lookup with the service
   * account): `CN=Ｅlizabeth`, `telephoneNumber=+1-408-555-0100` or a Unicode spelling a forest
   * prepares its own way names the entry it names there, and the write goes to that DN. An entry the
   * forest does not have is answered like one the identity may not see.
   */
  private async resolve(dn: Dn, ctx: OperationContext): Promise<Dn> {
    if (dn.plainNaming) return dn;
    const { found, matchedDn } = await this.lookup(dn, ctx);
    // From what the forest matched, never from dn's parent: a parent spelled so that only the forest
    // knows what it names (`CN=#04084a6f…`) may be missing, or an entry the rules hide.
    if (found === undefined) throw this.unseenAnswer(ctx, dn, matchedDn);
    return found;
  }

  /**
   * A DN an add or a rename is to create: where it is not plain, the forest's comparison of names
   * decides what it names, and it may name an entry the rules hide under another spelling
   * (`CN=οδυσσεασ` for `CN=ΟΔΥΣΣΕΑΣ`, `CN=Elİzabeth` for `CN=Elizabeth`): the forest's "already
   * exists" would tell that entry exists, and success would create it where a rule protects it.
   * Answered as a missing entry when a rule hides a name it might be (whether or not that entry
   * exists), or when the forest names by it an entry the rules hide.
   */
  private async refuseHiddenNamesake(dn: Dn, ctx: OperationContext): Promise<void> {
    if (dn.plainNaming) return;
    const view = this.view(ctx);
    if (view.hidesNamesake(dn)) throw this.unseenAnswer(ctx, dn);
    const { found } = await this.lookup(dn, ctx);
    if (found !== undefined && !allows(view.covering(found).entry, 'read')) throw this.unseenAnswer(ctx, dn);
  }

  /**
   * The DN of the entry the forest names by `dn` (a base lookup with the service account), if any;
   * else what the forest matched above it ('' for nothing).
   */
  private async lookup(dn: Dn, ctx: OperationContext): Promise<{ found?: Dn; matchedDn: string }> {
    const request: SearchRequest = { base: dn, scope: 'base', filter: ANY_ENTRY, attributes: ['1.1'], typesOnly: true, sizeLimit: 1, timeLimit: 0 };
    try {
      for await (const entry of this.next.search(request, searchContext(ctx))) return { found: entry.dn, matchedDn: '' };
    } catch (err) {
      if (!missing(err)) throw err;
      return { matchedDn: err.matchedDn };
    }
    return { matchedDn: '' };
  }

  /**
   * Runs an operation on `dn`, a missing entry answered exactly as one the identity may not see
   * (see unseenAnswer), in the client's spelling of `dn` whatever DN the forest gave back for it.
   * Any other refusal is answered only where the entries the operation needs (`needed`: its entry,
   * an add's parent, a move's new superior) exist: the rules decide some before the entry is read
   * (50, 53) and a forest checks a value's syntax before it looks for the entry (21, 17), while a
   * hidden entry always gets noSuchObject; so a missing one gets it too. Not an outage or a write
   * whose outcome is unknown: a lookup would not tell what happened to the entry.
   */
  private async spelledAs<T>(dn: Dn, ctx: OperationContext, matched: boolean, operation: () => Promise<T>, needed: () => readonly Dn[] = () => [dn]): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (err instanceof LdapError && DECIDED_HERE.has(err)) await this.lookup(dn, ctx).catch(() => undefined); // see askedAnyway
      if (missing(err)) throw this.unseenAnswer(ctx, dn, matched ? err.matchedDn : '');
      // An outage, a write's unknown outcome or a time limit decided nothing about the entry: passed on.
      if (err instanceof LdapError && !isOutage(err) && err.code !== ResultCode.timeLimitExceeded) {
        for (const place of needed()) {
          // A forest that cannot say whether the entry exists leaves the refusal as it was.
          const looked = await this.lookup(place, ctx).catch(() => undefined);
          // Answered for the operation's DN, as for a hidden `place` (whose answer was made for it above).
          if (looked && looked.found === undefined) throw this.unseenAnswer(ctx, dn, matched ? looked.matchedDn : '');
        }
      }
      throw err;
    }
  }

  /**
   * What an identity hears about an entry it may not see, and about one that does not exist: the
   * same noSuchObject, naming as matchedDN the deepest entry above it that it may see, starting from
   * the parent of an entry it may not see and from what the forest matched above a missing one.
   * Otherwise the answers would tell which hidden DNs exist. An anonymous client that may read
   * nothing at all is told to bind.
   */
  private unseenAnswer(ctx: OperationContext, dn: Dn, matchedDn?: string): LdapError {
    const view = this.view(ctx);
    if ((ctx.identity ?? ANONYMOUS).kind === 'anonymous' && !view.readsAnything) {
      return new LdapError(ResultCode.insufficientAccessRights, 'anonymous clients may read the root DSE and the schema only: bind first');
    }
    let above = matchedDn === undefined ? dn.parent() : matchedDn === '' ? undefined : parsedOrParent(matchedDn, dn);
    while (above && !above.isRoot && !allows(view.covering(above).entry, 'read')) above = above.parent();
    let answer: LdapError;
    if (!above || above.isRoot) answer = new LdapError(ResultCode.noSuchObject, `no such object "${dn.text}"`);
    else {
      // Spelled as the client spelled that part of its DN: the forest's own spelling would tell the two answers apart.
      let spelled: Dn | undefined = dn;
      while (spelled && spelled.depth > above.depth) spelled = spelled.parent();
      answer = new LdapError(ResultCode.noSuchObject, `no such object "${dn.text}"`, (spelled?.equals(above) ? spelled : above).text);
    }
    if (matchedDn === undefined) DECIDED_HERE.add(answer);
    return answer;
  }

  /**
   * A search of an entry the rules hide fails with `answer` after the forest was asked about its base
   * all the same (its answer dropped): a missing entry's answer comes from the forest, and the two
   * must take as long (spelledAs does the same for other operations).
   */
  private askedAnyway(answer: LdapError, base: Dn, ctx: SearchContext): SearchStream {
    const failed = this.lookup(base, ctx).then(
      () => Promise.reject(answer),
      () => Promise.reject(answer),
    );
    failed.catch(() => undefined); // delivered by next(); a consumer may never ask
    return { [Symbol.asyncIterator]: () => ({ next: () => failed }) };
  }

  private view(ctx: OperationContext): AccessView {
    return this.policy.view(ctx.identity ?? ANONYMOUS);
  }

  /**
   * The context a write runs with. A forest user writing in its own forest writes as itself
   * (`asUser`: its forest's permissions decide), but never an attribute the rules hide from it;
   * anyone else writes with the forest's service account, where the rules must allow writing the
   * entry (and `alsoAt`, a rename's new place) and each named attribute.
   */
  private writer(dn: Dn, ctx: OperationContext, operation: string, needs: WriteNeeds): OperationContext {
    const identity = ctx.identity ?? ANONYMOUS;
    const mount = identity.kind === 'user' ? this.forestMounts.get(identity.forest) : undefined;
    const denied =
      this.denial(dn, ctx, operation, needs) ?? (needs.alsoAt && this.denial(needs.alsoAt, ctx, operation, needs)) ?? this.belowDenial(dn, ctx, operation, needs, 'write');
    if (identity.kind === 'user' && mount !== undefined && dn.isWithin(mount)) {
      const asUser = { ...ctx, asUser: { ...(identity.dn && { dn: identity.dn }), rulesAllow: denied === undefined } };
      // A user's own password change is between it and its forest, whatever the rules let it see.
      if (needs.passwordChange && identity.dn?.equals(dn)) return asUser;
      const view = this.view(ctx);
      const access = view.covering(dn);
      if (!allows(access.entry, 'read')) throw this.unseenAnswer(ctx, dn);
      // A rename's new place is seen or not like any entry: the forest's "already exists" would tell.
      if (needs.alsoAt && !allows(view.covering(needs.alsoAt).entry, 'read')) throw this.unseenAnswer(ctx, needs.alsoAt);
      const hidden = needs.attributes?.find((a) => !allows(access.attribute(a), 'read'));
      if (hidden !== undefined) throw new LdapError(ResultCode.insufficientAccessRights, `${operation}: no write access to ${hidden} of "${dn.text}"`);
      const below = this.belowDenial(dn, ctx, operation, needs, 'read');
      if (below) throw below;
      return asUser;
    }
    if (denied) throw denied;
    return ctx;
  }

  /** Why the rules do not let the identity make the write; undefined when they do. */
  private denial(dn: Dn, ctx: OperationContext, operation: string, needs: WriteNeeds): LdapError | undefined {
    const access = this.view(ctx).covering(dn);
    if (!allows(access.entry, 'read')) return this.unseenAnswer(ctx, dn);
    if (!allows(needs.whole ? access.whole : access.entry, 'write')) {
      return new LdapError(ResultCode.insufficientAccessRights, `${operation}: no write access to "${dn.text}"`);
    }
    const attribute = needs.attributes?.find((a) => !allows(access.attribute(a), 'write'));
    if (attribute === undefined) return undefined;
    return new LdapError(ResultCode.insufficientAccessRights, `${operation}: no write access to ${attribute} of "${dn.text}"`);
  }

  /**
   * Why a delete or a move may not touch what may lie below the entry, decided by the rules, not by
   * what exists there. A move takes the entries below along, and the rules name DNs: it may not take
   * any of them out of rules that decide on it otherwise (AccessView.keepsDecisions). A delete
   * refused by the forest for a child the identity may not write (`level` write) or, writing as
   * itself, not see (read) would tell that the child exists.
   */
  private belowDenial(dn: Dn, ctx: OperationContext, operation: string, needs: WriteNeeds, level: 'read' | 'write'): LdapError | undefined {
    if (!needs.subtree) return undefined;
    const view = this.view(ctx);
    if (needs.alsoAt) {
      if (view.keepsDecisions(dn, needs.alsoAt)) return undefined;
      return new LdapError(ResultCode.insufficientAccessRights, `${operation}: the access rules decide otherwise on entries that may lie below "${dn.text}" at its new place`);
    }
    const region = view.region(dn, 'sub');
    if (level === 'write' ? region.writesEverything : region.seesEverything) return undefined;
    return new LdapError(ResultCode.insufficientAccessRights, `${operation}: the access rules withhold entries that may lie below "${dn.text}"`);
  }
}

/** What a write needs from the access rules. */
interface WriteNeeds {
  /** Attributes written: each needs `write`. */
  readonly attributes?: readonly string[];
  /** Add, delete, rename: the entry as a whole needs `write` (a rule without an attribute list). */
  readonly whole?: boolean;
  /** A rename's new DN, which the rules must allow too. */
  readonly alsoAt?: Dn;
  /** Delete, rename: what may lie below the entry is concerned too (see belowDenial). */
  readonly subtree?: boolean;
  /** Password Modify: a forest user changing its own password is not held to the rules. */
  readonly passwordChange?: boolean;
}

/** The matchedDN a forest gave, parsed; `dn`'s parent if it is no DN. */
function parsedOrParent(matchedDn: string, dn: Dn): Dn | undefined {
  try {
    return Dn.parse(matchedDn);
  } catch {
    return dn.parent();
  }
}

/** spelledAs: whether a noSuchObject names the deepest entry above that the identity may see. */
const MATCHED = true;
const NO_MATCHED = false;
/** unseenAnswer's answers for entries the rules hide, decided without asking the forest (see askedAnyway). */
const DECIDED_HERE = new WeakSet<LdapError>();

function missing(err: unknown): err is LdapError {
  return err instanceof LdapError && err.code === ResultCode.noSuchObject;
}

/** The attribute types of a DN's first RDN. */
function rdnTypes(dn: Dn): string[] {
  return dn.firstRdn?.avas.map((a) => a.type) ?? [];
}

/** Whether the entry carries an attribute computed from its children (SUBORDINATE_ATTRIBUTES). */
function countsChildren(entry: Entry): boolean {
  for (const key of SUBORDINATE_ATTRIBUTES) if (entry.get(key)) return true;
  return false;
}

function withoutSubordinates(entry: Entry): Entry {
  return new Entry(entry.dn, [...entry.attributes()].filter((a) => !SUBORDINATE_ATTRIBUTES.has(attributeKey(a.name))));
}

function readable(entry: Entry, access: EntryAccess): Entry {
  const kept = [...entry.attributes()].filter((a) => allows(access.attribute(a.name), 'read'));
  return new Entry(entry.dn, kept);
}
