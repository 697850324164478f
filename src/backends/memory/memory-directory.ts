import { setImmediate } from 'node:timers/promises';
import {
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
import type { Attribute, AttributeValue, Entry } from '../../core/entry.js';
import { compileFilter, FilterMeter, type EntryMatcher } from '../../core/filter-eval.js';
import { filterWeight } from '../../core/filter.js';
import { AdLogonReason, adLogonMessage } from '../../core/ad-logon.js';
import { LdapError } from '../../core/ldap-error.js';
import { equalityKey, integerValue, normalise } from '../../core/matching.js';
import { ResultCode } from '../../core/result-codes.js';
import { HookedSearch } from '../../core/search-stream.js';
import { attributeKey, syntaxOf } from '../../core/schema.js';
import { SchemaUsage } from '../../core/schema-usage.js';
import { adTime, domainRootReferences, highestUsn, rangeRequests, withRanges, type AdProfile } from './ad-profile.js';
import { adLogon, computedAccountControl, withPasswordChanged } from './ad-account-state.js';
import { AttributeIndex } from './attribute-index.js';
import { applyModifications, checkNewEntry, checkSelfWrittenSize, checkUserWrite, inStoredForm, renamedEntry, storedForm } from './entry-writes.js';
import { LdifError, parseLdif, type LdifRecord, type LdifText } from './ldif.js';
import { expandObjectCategory, objectCategoryOf, setObjectCategory } from './object-category.js';
import { StoredEntry } from './stored-entry.js';
import { admitPasswords, checkNewPassword, governingPolicy, policyBind, qualityError, withPolicyChange, type Policy } from './password-policy.js';
import { verifyPassword, withNewPassword } from './password.js';
import { candidates } from './query-plan.js';

interface Node {
  /** Replaced, never changed, on writes: a search may be sending the old object. */
  entry: StoredEntry;
  readonly parentKey: string | undefined;
  /** DN keys of the children; absent until the first one (most entries are leaves). */
  children?: Set<string>;
}

export interface LdifSource {
  /** Shown in load errors, e.g. the file name. */
  readonly name: string;
  /** The LDIF, as text or as a file's bytes (read without decoding the whole file). */
  readonly text: LdifText;
}

export interface MemoryOptions {
  /** Behave like an Active Directory domain controller (back links, USNs, range retrieval, …). */
  readonly ad?: AdProfile;
  /** Record every write so that `undoTo` can take it back (the mock directory's reset). */
  readonly journal?: boolean;
  /** The time in milliseconds for account states (lockout, expiry); a mock's clock that tests move. */
  readonly now?: () => number;
}

/** One change to the tree: what a DN key held before it (undefined: nothing). */
interface JournalRecord {
  readonly key: string;
  readonly previous: Entry | undefined;
}

/** Attributes looked up by exact value in practice: sync and login filters, group and manager links, AD's category. */
const INDEXED = ['objectClass', 'objectCategory', 'cn', 'uid', 'sAMAccountName', 'userPrincipalName', 'mail', 'member', 'manager', 'objectGUID'];

/**
 * Login names one account at most may hold, checked on writes as Active Directory checks them:
 * a userPrincipalName unique in the forest (constraintViolation, AD's 000021C8
 * ERROR_DS_UPN_VALUE_NOT_UNIQUE_IN_FOREST), a sAMAccountName unique in the domain
 * (entryAlreadyExists, AD's 00000524 ERROR_USER_EXISTS). Loaded data is not checked (nor is
 * replicated data in AD).
 */
const UNIQUE_LOGINS = [
  { name: 'userPrincipalName', code: ResultCode.constraintViolation, scope: 'forest' },
  { name: 'sAMAccountName', code: ResultCode.entryAlreadyExists, scope: 'domain' },
] as const;

/** AD's constructed account flags (lockout, password expired), returned only when asked for by name. */
const COMPUTED = 'msDS-User-Account-Control-Computed';
const COMPUTED_KEY = attributeKey(COMPUTED);

/** Bit 0x2 of userAccountControl: ACCOUNTDISABLE. */
const ACCOUNT_DISABLED = 2n;

/**
 * Work a scan does between turns of the event loop (for each entry examined, the filter's weight or
 * the values its assertions tested, whichever is more): a filter that matches little, or costs much (an OR of a
 * thousand substrings, assertions on a group of ten thousand members), scanning a forest must not
 * keep other clients waiting until it ends. Counted, not timed, so the order in which forests'
 * entries interleave stays the same from run to run (canopy export's output).
 */
const YIELD_AFTER_WORK = 512;

/** A scan's work since its last turn (see YIELD_AFTER_WORK). */
class ScanTurns {
  private work = 0;
  private tests = 0;

  /** `weight`: the assertions one entry costs (filterWeight); `meter`: the values the filter tested. */
  constructor(
    private readonly weight: number,
    private readonly meter: FilterMeter,
  ) {}

  /** Counts one entry; true when other clients' turn is due. */
  due(): boolean {
    this.work += Math.max(this.weight, this.meter.tests - this.tests);
    this.tests = this.meter.tests;
    if (this.work < YIELD_AFTER_WORK) return false;
    this.work = 0;
    return true;
  }
}

/**
 * The mock directory: one naming context held in memory, loaded from LDIF. Entries live in a
 * tree keyed by DN key; searches use equality/prefix indexes when the filter allows and scan the
 * scope otherwise. Stored Entry objects are shared with consumers (no copy per search): callers
 * must clone before changing one, and writes here replace them instead of changing them.
 */
export class MemoryDirectory implements Directory {
  private readonly nodes = new Map<string, Node>();
  private readonly indexes = new Map<string, AttributeIndex>(
    INDEXED.map((a) => [attributeKey(a), new AttributeIndex(a, syntaxOf(a) === 'dn' ? (v) => (typeof v === 'string' ? this.dnKeys.get(v) : undefined) : undefined)]),
  );
  /** The DN key of each entry by its DN's text: DN values naming entries (member, manager) are keyed without parsing them. */
  private readonly dnKeys = new Map<string, string>();
  private readonly resolve = (dnKey: string): Entry | undefined => this.nodes.get(dnKey)?.entry;
  private readonly ad: AdProfile | undefined;
  private journal: JournalRecord[] | undefined;
  /** AD's update sequence number: the last one given to a change. */
  private usn = 0n;
  private readonly now: () => number;
  /** What the entries use, once asked for (see schemaInUse). */
  private usage: SchemaUsage | undefined;

  private constructor(
    readonly suffix: Dn,
    options: MemoryOptions,
  ) {
    this.ad = options.ad;
    this.now = options.now ?? Date.now;
    if (options.journal) this.journal = [];
  }

  /** Loads LDIF content; parents may come after children or in another source. Errors name `file:line`. */
  static fromLdif(options: { suffix: Dn; sources: readonly LdifSource[] } & MemoryOptions): MemoryDirectory {
    const records = options.sources.flatMap((s) => parseLdif(s.text, s.name).map((r) => ({ ...r, source: s.name })));
    return MemoryDirectory.fromRecords({ ...options, records });
  }

  /** Loads parsed LDIF records (each naming its source for errors), as `fromLdif` does. */
  static fromRecords(
    options: { suffix: Dn; records: readonly (LdifRecord & { readonly source: string })[] } & MemoryOptions,
  ): MemoryDirectory {
    const dir = new MemoryDirectory(options.suffix, options);
    const journal = dir.journal;
    dir.journal = undefined; // loaded data is the state a reset returns to
    const records = [...options.records].sort((a, b) => a.entry.dn.depth - b.entry.dn.depth); // stable: file order within a level
    // Every entry's DN key by its text before any is indexed: groups and managers may come before the entries they name.
    for (const { entry } of records) dir.dnKeys.set(entry.dn.text, entry.dn.key);
    const backLinks = dir.ad && memberOfByKey(records.map((r) => r.entry), dir.dnKeys);
    // One string and one attribute each shared by the loaded entries; one list of what is added, reused.
    const now = [generalizedTime()];
    const created = { name: 'createTimestamp', values: now };
    const modified = { name: 'modifyTimestamp', values: now };
    const added: Attribute[] = [];
    for (const record of records) {
      const { entry } = record;
      const dn = entry.dn;
      if (!dn.isWithin(dir.suffix)) loadError(record, `entry "${dn.text}" is outside the naming context "${dir.suffix.text}"`);
      const isSuffix = dn.equals(dir.suffix);
      const parent = isSuffix ? undefined : dir.loadedParent(dn);
      if (!isSuffix && !parent) loadError(record, `parent of "${dn.text}" does not exist`);
      if (!entry.get('objectClass')?.values.length) loadError(record, `entry "${dn.text}" has no objectClass`);
      // Counted rather than emptied: an array whose length is set to 0 lets go of its storage.
      let count = 0;
      if (!entry.has('createTimestamp')) added[count++] = created;
      if (!entry.has('modifyTimestamp')) added[count++] = modified;
      if (backLinks) {
        // A back link: computed from the groups, never taken from the data.
        const groups = backLinks.get(dn.key);
        added[count++] = { name: 'memberOf', values: groups === undefined ? NO_VALUES : typeof groups === 'string' ? [groups] : groups };
        const category = entry.has('objectCategory') ? undefined : objectCategoryOf(entry, dir.suffix);
        if (category !== undefined) added[count++] = { name: 'objectCategory', values: [category] };
        dir.usn = highestUsn(entry, dir.usn);
      }
      const stored = loadedForm(entry, parent ? dn.sharingParent(parent.entry.dn) : dn, added, count);
      if (!dir.insertLoaded(stored, parent)) {
        // Found again only for the error: a map of where each entry came from would cost every load.
        const first = records.find((r) => r.entry.dn.key === dn.key)!;
        loadError(record, `duplicate entry "${dn.text}" (first defined at ${first.source}:${first.line})`);
      }
    }
    // Each index built over every entry when first read (one at a time: its tables stay in the
    // processor's cache, as ten built entry by entry do not), from the entries then.
    for (const index of dir.indexes.values()) index.indexLater((add) => dir.forEachEntry(add));
    dir.journal = journal;
    return dir;
  }

  /** A position in the journal of writes, for `undoTo`. */
  mark(): number {
    if (!this.journal) throw new Error('this memory directory keeps no journal');
    return this.journal.length;
  }

  /**
   * Takes back every write made since `mark`, newest first: work proportional to the changes,
   * not to the directory. Marks taken after `mark` are no longer valid afterwards.
   */
  undoTo(mark: number): void {
    const journal = this.journal;
    if (!journal) throw new Error('this memory directory keeps no journal');
    if (mark > journal.length) throw new Error('this state was already undone');
    this.journal = undefined;
    try {
      while (journal.length > mark) {
        const { key, previous } = journal.pop()!;
        const node = this.nodes.get(key);
        if (previous === undefined) {
          if (node) this.remove(node);
        } else if (node) {
          this.replace(node, previous);
        } else {
          this.insert(previous);
        }
      }
    } finally {
      this.journal = journal;
    }
  }

  get size(): number {
    return this.nodes.size;
  }

  namingContexts(): readonly Dn[] {
    return [this.suffix];
  }

  /**
   * The attribute types and object classes the entries use (for the subschema entry): one pass
   * over the entries on the first call, kept current by each write after it; nothing at load,
   * where most mocks never have their schema read.
   */
  schemaInUse(): SchemaUsage {
    if (!this.usage) {
      this.usage = new SchemaUsage();
      for (const entry of this.entries()) this.usage.note(entry);
    }
    return this.usage;
  }

  /** Every entry, parents before children (the order LDIF needs for saving). */
  *entries(): Generator<Entry> {
    const root = this.nodes.get(this.suffix.key);
    if (!root) return;
    yield root.entry;
    yield* this.descendants(root);
  }

  search(request: SearchRequest, ctx: SearchContext): SearchStream {
    return this.ad ? this.asAd(this.runSearch(request, ctx), request.attributes, this.ad.maxValRange) : this.runSearch(request, ctx);
  }

  /** Entries as AD returns them: in ranges, with the constructed account flags when asked for by name (never with `*`). */
  private asAd(entries: SearchStream, attributes: readonly string[], maxValRange: number): SearchStream {
    const windows = rangeRequests(attributes);
    const computed = attributes.some((a) => attributeKey(a) === COMPUTED_KEY);
    return HookedSearch.of(entries, {
      entry: (entry) => {
        const ranged = withRanges(entry, windows, maxValRange);
        if (!computed || !entry.has('userAccountControl')) return ranged;
        const withFlags = ranged.clone();
        withFlags.set(COMPUTED, [computedAccountControl(entry, this.domainEntry(), this.now())]);
        return withFlags;
      },
    });
  }

  /** The domain object holding AD's lockout and password age policy: the naming context's entry. */
  private domainEntry(): Entry | undefined {
    return this.nodes.get(this.suffix.key)?.entry;
  }

  private async *runSearch(request: SearchRequest, ctx: SearchContext): AsyncGenerator<Entry, void, undefined> {
    const { base, scope } = request;
    const filter = this.ad ? expandObjectCategory(request.filter, this.suffix) : request.filter;
    const meter = new FilterMeter();
    const matches = compileFilter(filter, { resolve: this.resolve, meter });
    const signal = ctx.signal;
    signal.throwIfAborted();

    let node = this.nodes.get(base.key);
    if (!base.isWithin(this.suffix) && this.suffix.isWithin(base)) {
      // A base above the naming context (a router fanning out from a common ancestor): the
      // subtree holds the whole tree, one level holds the suffix entry if it is a direct child.
      const root = this.nodes.get(this.suffix.key);
      if (scope === 'base') throw this.noSuchObject(base);
      if (!root) return;
      if (scope === 'one') {
        if (this.suffix.depth === base.depth + 1 && matches(root.entry)) yield root.entry;
        return;
      }
      node = root;
    }
    if (!node) throw this.noSuchObject(base);
    if (scope === 'base') {
      if (matches(node.entry)) yield node.entry;
      return;
    }
    const indexed = candidates(filter, this.indexes);
    if (indexed) {
      yield* this.fromCandidates(indexed, node.entry.dn.key, scope, matches, new ScanTurns(filterWeight(filter), meter), signal);
    } else {
      yield* this.scan(node, scope, matches, new ScanTurns(filterWeight(filter), meter), signal);
    }
    if (scope === 'sub' && this.ad?.referrals && node.entry.dn.equals(this.suffix)) {
      ctx.trailer.addReferences(domainRootReferences(this.suffix));
    }
  }

  private async *scan(node: Node, scope: 'one' | 'sub', matches: EntryMatcher, turns: ScanTurns, signal: AbortSignal): AsyncGenerator<Entry> {
    if (scope === 'sub' && matches(node.entry)) yield node.entry;
    const entries = scope === 'sub' ? this.descendants(node) : this.children(node);
    for (const entry of entries) {
      if (turns.due()) await setImmediate();
      signal.throwIfAborted();
      if (matches(entry)) yield entry;
    }
  }

  private async *fromCandidates(
    keys: ReadonlySet<string>,
    baseKey: string,
    scope: 'one' | 'sub',
    matches: EntryMatcher,
    turns: ScanTurns,
    signal: AbortSignal,
  ): AsyncGenerator<Entry> {
    const below = ',' + baseKey;
    // Copied: the index's own set may change while the consumer is paused between entries.
    for (const key of [...keys]) {
      if (turns.due()) await setImmediate();
      signal.throwIfAborted();
      const node = this.nodes.get(key);
      if (!node) continue;
      const inScope = scope === 'one' ? node.parentKey === baseKey : key === baseKey || key.endsWith(below);
      if (inScope && matches(node.entry)) yield node.entry;
    }
  }

  private *children(node: Node): Generator<Entry> {
    for (const key of node.children ?? []) {
      const child = this.nodes.get(key);
      if (child) yield child.entry;
    }
  }

  /** Pre-order walk below a node; live sets, so entries written meanwhile may or may not be seen. */
  private *descendants(node: Node): Generator<Entry> {
    if (!node.children) return;
    const stack: Iterator<string>[] = [node.children.values()];
    while (stack.length > 0) {
      const next = stack[stack.length - 1].next();
      if (next.done) {
        stack.pop();
        continue;
      }
      const child = this.nodes.get(next.value);
      if (!child) continue;
      yield child.entry;
      if (child.children?.size) stack.push(child.children.values());
    }
  }

  async bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    if (password.length === 0) throw this.bindRefused(); // never an unauthenticated "success" (RFC 4513 §5.1.2)
    const node = this.nodes.get(dn.key);
    const entry = node?.entry;
    if (!entry) throw this.bindRefused(AdLogonReason.noSuchUser);
    const matches = (entry.get('userPassword')?.values ?? []).some((v) => verifyPassword(v, password));
    if (this.ad) {
      const { reason, next } = adLogon(entry, matches, this.domainEntry(), this.now());
      if (next) this.replace(node, next);
      if (reason !== undefined) throw this.bindRefused(reason);
      return;
    }
    const policy = this.policyOf(entry);
    if (!policy) {
      if (!matches || isDisabled(entry)) throw this.bindRefused();
      return;
    }
    const outcome = policyBind(entry, policy, matches, this.now());
    if (outcome.next) this.replace(node, outcome.next);
    if (ctx.policy && outcome.state) ctx.policy.state = outcome.state;
    if (outcome.refused || isDisabled(entry)) throw this.bindRefused();
  }

  /**
   * A refused bind, in the words of the server imitated: AD's message with its reason, slapd's
   * invalidCredentials (which says nothing of why, so callers cannot learn which accounts exist).
   */
  private bindRefused(reason: AdLogonReason = AdLogonReason.wrongPassword): LdapError {
    return new LdapError(ResultCode.invalidCredentials, this.ad ? adLogonMessage(reason) : 'invalid credentials');
  }

  /** The ppolicy entry governing `entry` (plain profile only: AD keeps its policy on the domain object). */
  private policyOf(entry: Entry): Policy | undefined {
    return this.ad ? undefined : governingPolicy(entry, this.suffix, (text) => this.entryAt(text));
  }

  private entryAt(text: string): Entry | undefined {
    try {
      return this.nodes.get(Dn.parse(text).key)?.entry;
    } catch {
      return undefined;
    }
  }

  async add(entry: Entry, ctx: OperationContext): Promise<void> {
    checkUserWrite(ctx.asUser, 'add');
    const dn = entry.dn;
    if (!dn.isWithin(this.suffix)) throw this.noSuchObject(dn);
    if (this.nodes.has(dn.key)) throw new LdapError(ResultCode.entryAlreadyExists, `entry "${dn.text}" already exists`);
    if (!dn.equals(this.suffix) && !this.nodes.has(dn.parent()!.key)) throw this.noSuchObject(dn);
    checkNewEntry(entry);
    if (this.ad) rejectBackLink(entry.has('memberOf'));
    const stored = storedForm(entry, this.spelled(dn));
    this.rejectTakenLogins(stored, dn.key);
    const policy = this.policyOf(stored);
    if (policy) {
      for (const a of [...stored.attributes()].filter((a) => isUserPassword(a.name))) stored.set(a.name, admitPasswords(policy, a.values, ctx.policy));
    }
    const now = generalizedTime();
    stored.set('createTimestamp', [now]);
    stored.set('modifyTimestamp', [now]);
    if (this.ad) {
      const when = adTime();
      stored.set('whenCreated', [when]);
      stored.set('uSNCreated', [String(this.usn + 1n)]);
      setObjectCategory(stored, this.suffix);
      this.stamp(stored, when);
    }
    this.insert(stored);
    if (this.ad) this.relink([dn.key, ...this.memberKeys(stored)]);
  }

  async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    const node = this.existing(dn);
    checkUserWrite(ctx.asUser, 'modify', dn, changes.map((c) => c.attribute.name), this.ad !== undefined);
    if (this.ad) rejectBackLink(changes.some((c) => attributeKey(c.attribute.name) === 'memberof'));
    const before = node.entry;
    const policy = this.policyOf(before);
    // A new userPassword, under a policy: checked, perhaps hashed, and the policy's state follows (pwdReset, pwdChangedTime).
    const setsPassword = policy !== undefined && changes.some((c) => c.operation !== 'delete' && isUserPassword(c.attribute.name));
    const written = setsPassword
      ? changes.map((c) => (c.operation === 'delete' || !isUserPassword(c.attribute.name) ? c : { ...c, attribute: { ...c.attribute, values: admitPasswords(policy, c.attribute.values, ctx.policy) } }))
      : changes;
    const next = applyModifications(before, written, this.ad ? ResultCode.notAllowedOnRDN : ResultCode.namingViolation);
    if (ctx.asUser?.dn?.equals(dn)) checkSelfWrittenSize(before, next);
    if (setsPassword) withPolicyChange(next, policy, ctx.asUser?.dn?.equals(dn) === true, this.now());
    this.rejectTakenLogins(next, dn.key, before);
    this.touch(next);
    this.replace(node, next);
    if (this.ad) this.relink([...this.memberKeys(before), ...this.memberKeys(next)]);
  }

  async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    const node = this.existing(dn);
    checkUserWrite(ctx.asUser, 'delete');
    if (node.children?.size) {
      throw new LdapError(ResultCode.notAllowedOnNonLeaf, `entry "${dn.text}" has subordinates`);
    }
    this.remove(node);
    if (this.ad) {
      // AD keeps links whole: a deleted object leaves every group it was a member of.
      this.relinkGroups(dn, undefined);
      this.relink(this.memberKeys(node.entry));
    }
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    const { dn, newSuperior } = request;
    const node = this.existing(dn);
    checkUserWrite(ctx.asUser, 'modifyDN');
    if (dn.equals(this.suffix)) {
      throw new LdapError(ResultCode.unwillingToPerform, 'the naming context entry cannot be renamed');
    }
    const parent = newSuperior ?? dn.parent()!;
    if (newSuperior) {
      if (!newSuperior.isWithin(this.suffix)) {
        throw new LdapError(ResultCode.affectsMultipleDSAs, `"${newSuperior.text}" is outside the naming context`);
      }
      if (!this.nodes.has(newSuperior.key)) throw this.noSuchObject(newSuperior);
      if (newSuperior.isWithin(dn)) {
        throw new LdapError(ResultCode.unwillingToPerform, 'an entry cannot be moved below itself');
      }
    }
    const newDn = this.spelled(parent.child(request.newRdn));
    if (newDn.key !== dn.key && this.nodes.has(newDn.key)) {
      throw new LdapError(ResultCode.entryAlreadyExists, `entry "${newDn.text}" already exists`);
    }
    const renamed = renamedEntry(node.entry, newDn, request.deleteOldRdn);
    this.rejectTakenLogins(renamed, dn.key, node.entry);
    this.touch(renamed);
    const subtree = [...this.descendants(node)]; // pre-order: parents are re-inserted before children
    // Children before parents, so that undoing (newest first) puts parents back first.
    for (const entry of subtree.toReversed()) this.remove(this.nodes.get(entry.dn.key)!);
    this.remove(node);
    this.insert(renamed);
    for (const entry of subtree) this.insert(entry.clone(entry.dn.rebase(dn, newDn)));
    if (this.ad) {
      // Links follow a renamed object: groups name its new DN, its members' memberOf the group's.
      const moved = [node.entry, ...subtree];
      for (const entry of moved) this.relinkGroups(entry.dn, entry.dn.rebase(dn, newDn));
      this.relink(moved.flatMap((e) => [e.dn.rebase(dn, newDn).key, ...this.memberKeys(e)]));
    }
  }

  async compare(dn: Dn, attribute: string, value: AttributeValue, _ctx: OperationContext): Promise<boolean> {
    const entry = this.existing(dn).entry;
    if (!compileFilter({ type: 'present', attribute })(entry)) {
      throw new LdapError(ResultCode.noSuchAttribute, `entry has no attribute "${attribute}"`);
    }
    const assertion = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return compileFilter({ type: 'equality', attribute, value: assertion })(entry);
  }

  async passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    const node = this.existing(request.user);
    checkUserWrite(ctx.asUser, 'password modify', request.user);
    const policy = this.policyOf(node.entry);
    const rejected = policy && checkNewPassword(policy, request.newPassword);
    if (rejected) {
      if (ctx.policy) ctx.policy.state = rejected;
      throw qualityError(rejected);
    }
    const next = withNewPassword(node.entry, request.oldPassword, request.newPassword);
    const now = this.now();
    if (this.ad) withPasswordChanged(next, now);
    // The user's own change: as itself, or proven by its old password through Canopy.
    const byOwner = ctx.asUser?.dn?.equals(request.user) === true || request.oldPasswordProven === true;
    if (policy) withPolicyChange(next, policy, byOwner, now);
    this.touch(next);
    this.replace(node, next);
  }

  async close(): Promise<void> {}

  /** A new DN's RDN under its parent as the directory spells the parent, so one subtree has one spelling. */
  private spelled(dn: Dn): Dn {
    const parent = dn.parent() && this.nodes.get(dn.parent()!.key)?.entry.dn;
    return parent ? Dn.fromRdns([dn.rdns[0], ...parent.rdns]) : dn;
  }

  private existing(dn: Dn): Node {
    const node = this.nodes.get(dn.key);
    if (!node) throw this.noSuchObject(dn);
    return node;
  }

  /** noSuchObject naming the longest existing ancestor, as spelled in the directory. */
  private noSuchObject(dn: Dn): LdapError {
    let matched = '';
    for (let p = dn.parent(); p && p.isWithin(this.suffix); p = p.parent()) {
      const node = this.nodes.get(p.key);
      if (node) {
        matched = node.entry.dn.text;
        break;
      }
    }
    return new LdapError(ResultCode.noSuchObject, `no such entry "${dn.text}"`, matched);
  }

  /**
   * Refuses a login name the write gives `entry` (a value `before` did not have) that another
   * entry holds. Values are found by attribute type, whatever name or OID the client wrote them
   * under, and compared by the type's equality rule (case-insensitively).
   */
  private rejectTakenLogins(entry: Entry, ownKey: string, before?: Entry): void {
    for (const { name, code, scope } of UNIQUE_LOGINS) {
      const type = attributeKey(name);
      const index = this.indexes.get(type)!;
      const keys = (e: Entry | undefined): string[] =>
        [...(e?.attributes() ?? [])]
          .filter((a) => attributeKey(a.name) === type)
          .flatMap((a) => a.values.flatMap((v) => equalityKey(index.rules, v) ?? []));
      const had = new Set(keys(before));
      for (const key of keys(entry)) {
        if (had.has(key)) continue;
        if ([...index.equal(key)].some((holder) => holder !== ownKey)) {
          throw new LdapError(code, `${name}: another entry has this value already; it must be unique in the ${scope}`);
        }
      }
    }
  }

  /** Records a change on a new entry version: modifyTimestamp, and AD's whenChanged and uSNChanged. */
  private touch(entry: Entry): void {
    entry.set('modifyTimestamp', [generalizedTime()]);
    if (this.ad) this.stamp(entry, adTime());
    else if (entry.has('whenChanged')) entry.set('whenChanged', [adTime()]);
  }

  /** AD numbers every originating write with the next USN. */
  private stamp(entry: Entry, when: string): void {
    this.usn += 1n;
    entry.set('uSNChanged', [String(this.usn)]);
    entry.set('whenChanged', [when]);
  }

  /** DN keys an entry's `member` values name. */
  private memberKeys(entry: Entry): string[] {
    return (entry.get('member')?.values ?? []).map((v) => normalise('member', v));
  }

  /**
   * Recomputes `memberOf` of the entries with these DN keys from the groups naming them (the
   * member index), as AD maintains its back links. Back-link changes are not originating writes:
   * they change no USN.
   */
  private relink(keys: Iterable<string>): void {
    const members = this.indexes.get('member')!;
    for (const key of new Set(keys)) {
      const node = this.nodes.get(key);
      if (!node) continue;
      const groups = [...members.equal(key)].map((k) => this.nodes.get(k)!.entry.dn.text);
      const current = node.entry.get('memberOf')?.values ?? [];
      if (groups.length === current.length && groups.every((g, i) => g === current[i])) continue;
      const next = node.entry.clone();
      next.set('memberOf', groups);
      this.replace(node, next);
    }
  }

  /** Replaces `from` by `to` (or removes it) in every group's `member` naming it. */
  private relinkGroups(from: Dn, to: Dn | undefined): void {
    const members = this.indexes.get('member')!;
    for (const groupKey of [...members.equal(from.key)]) {
      const group = this.nodes.get(groupKey);
      if (!group) continue;
      const next = group.entry.clone();
      const values = next.get('member')!.values.flatMap((v) => (normalise('member', v) !== from.key ? [v] : to ? [to.text] : []));
      next.set('member', values);
      this.touch(next);
      this.replace(group, next);
    }
  }

  /**
   * The node of a loaded entry's parent. Found by the parent's DN as the entry spells it, whose
   * key the load holds already (LDIF names parents as they name themselves): a key worked out from
   * the entry's DN would normalise its RDN again.
   */
  private loadedParent(dn: Dn): Node | undefined {
    if (dn.builtOn !== undefined) return this.nodes.get(dn.builtOn.key);
    const own = dn.rdns[0].text.length;
    const key = dn.text.charCodeAt(own) === COMMA ? this.dnKeys.get(dn.text.slice(own + 1)) : undefined;
    return this.nodes.get(key ?? dn.parentKey!);
  }

  /** Every entry with its DN key, as an index wants them. */
  private forEachEntry(visit: (entry: Entry, dnKey: string) => void): void {
    for (const node of this.nodes.values()) visit(node.entry, node.entry.dn.key);
  }

  /**
   * A loaded entry under its parent's node: the load keyed every entry's DN text before, and the
   * indexes take it when first read. False for a DN loaded already (the load then fails): found by
   * the map's size: a lookup before each insert cost a 100,000-entry load 60 ms.
   */
  private insertLoaded(entry: StoredEntry, parent: Node | undefined): boolean {
    const key = entry.dn.key;
    const size = this.nodes.size;
    this.nodes.set(key, { entry, parentKey: parent?.entry.dn.key });
    if (this.nodes.size === size) return false;
    if (parent) (parent.children ??= new Set()).add(key);
    return true;
  }

  private insert(written: Entry): void {
    const entry = StoredEntry.of(written);
    const key = entry.dn.key;
    this.journal?.push({ key, previous: undefined });
    // The parent's own key string, not a new copy per child.
    const parent = entry.dn.equals(this.suffix) ? undefined : this.nodes.get(entry.dn.parentKey!)!;
    const parentKey = parent?.entry.dn.key;
    this.nodes.set(key, { entry, parentKey });
    this.dnKeys.set(entry.dn.text, key);
    this.usage?.note(entry);
    if (parent) (parent.children ??= new Set()).add(key);
    for (const index of this.indexes.values()) index.add(entry, key);
  }

  private remove(node: Node): void {
    const key = node.entry.dn.key;
    this.journal?.push({ key, previous: node.entry });
    this.nodes.delete(key);
    if (this.dnKeys.get(node.entry.dn.text) === key) this.dnKeys.delete(node.entry.dn.text);
    if (node.parentKey !== undefined) this.nodes.get(node.parentKey)?.children?.delete(key);
    for (const index of this.indexes.values()) index.remove(node.entry, key);
  }

  private replace(node: Node, written: Entry): void {
    const entry = StoredEntry.of(written);
    const key = entry.dn.key;
    this.journal?.push({ key, previous: node.entry });
    for (const index of this.indexes.values()) index.remove(node.entry, key);
    node.entry = entry;
    this.usage?.note(entry);
    for (const index of this.indexes.values()) index.add(entry, key);
  }
}

const COMMA = 0x2c;

/** A load error pointing at the record's file and line. */
function loadError(record: { readonly source: string; readonly line: number }, detail: string): never {
  throw new LdifError(record.source, record.line, detail);
}

function isUserPassword(name: string): boolean {
  return attributeKey(name) === 'userpassword';
}

/**
 * A loaded entry as stored: under `dn`, in stored form, with the attributes the load adds set. A
 * stored entry the LDIF parser made (most) is extended as it is, without a writable copy of it.
 */
function loadedForm(entry: Entry, dn: Dn, added: readonly Attribute[], count: number): StoredEntry {
  if (entry instanceof StoredEntry && inStoredForm(entry, dn)) return entry.withAttributes(dn, added, count);
  const stored = storedForm(entry, dn);
  for (let i = 0; i < count; i++) stored.set(added[i].name, added[i].values);
  return StoredEntry.of(stored);
}

/** No memberOf values: shared by the loaded entries in no group. */
const NO_VALUES = Object.freeze([]) as unknown as AttributeValue[];

function isDisabled(entry: Entry): boolean {
  const uac = entry.get('userAccountControl')?.values[0];
  const flags = uac === undefined ? undefined : integerValue(uac.toString());
  if (flags !== undefined && (flags & ACCOUNT_DISABLED) !== 0n) return true;
  const adlds = entry.get('msDS-UserAccountDisabled')?.values[0];
  return adlds !== undefined && adlds.toString().trim().toUpperCase() === 'TRUE';
}

/**
 * The DNs of the groups naming each DN key in `member`: AD's memberOf, computed once at load. One
 * group is its DN alone, not a list (most entries are in one group or none, and each list would
 * outlive many collections until the load ends). Members spelled as the entries spell their DNs
 * (`keys`, by text) are keyed without parsing.
 */
function memberOfByKey(entries: readonly Entry[], keys: ReadonlyMap<string, string>): Map<string, string | string[]> {
  const groups = new Map<string, string | string[]>();
  for (const group of entries) {
    for (const v of group.get('member')?.values ?? []) {
      const key = (typeof v === 'string' && keys.get(v)) || normalise('member', v);
      const list = groups.get(key);
      if (list === undefined) groups.set(key, group.dn.text);
      else if (typeof list === 'string') groups.set(key, [list, group.dn.text]);
      else list.push(group.dn.text);
    }
  }
  return groups;
}

/** memberOf is AD's back link of `member`: written through the groups only. */
function rejectBackLink(written: boolean): void {
  if (written) throw new LdapError(ResultCode.constraintViolation, 'memberOf is maintained by the directory: change the group\'s member instead');
}

/** GeneralizedTime in UTC to the second, e.g. `20240131120000Z`. */
function generalizedTime(date = new Date()): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}
