import type {
  Directory,
  Modification,
  ModifyDnRequest,
  OperationContext,
  SearchRequest,
  SearchStream,
} from '../../core/directory.js';
import { Dn } from '../../core/dn.js';
import type { AttributeValue, Entry } from '../../core/entry.js';
import { compileFilter, type EntryMatcher } from '../../core/filter-eval.js';
import { LdapError } from '../../core/ldap-error.js';
import { integerValue } from '../../core/matching.js';
import { ResultCode } from '../../core/result-codes.js';
import { AttributeIndex } from './attribute-index.js';
import { applyModifications, checkNewEntry, renamedEntry, storedForm } from './entry-writes.js';
import { LdifError, parseLdif } from './ldif.js';
import { verifyPassword } from './password.js';
import { candidates, indexKey } from './query-plan.js';

interface Node {
  /** Replaced, never changed, on writes: a search may be sending the old object. */
  entry: Entry;
  readonly parentKey: string | undefined;
  readonly children: Set<string>;
}

export interface LdifSource {
  /** Shown in load errors, e.g. the file name. */
  readonly name: string;
  readonly text: string;
}

/** Attributes looked up by exact value in practice: sync and login filters, group and manager links. */
const INDEXED = ['objectClass', 'cn', 'uid', 'sAMAccountName', 'userPrincipalName', 'mail', 'member', 'manager', 'objectGUID'];

/** Bit 0x2 of userAccountControl: ACCOUNTDISABLE. */
const ACCOUNT_DISABLED = 2n;

/**
 * The mock directory: one naming context held in memory, loaded from LDIF. Entries live in a
 * tree keyed by DN key; searches use equality/prefix indexes when the filter allows and scan the
 * scope otherwise. Stored Entry objects are shared with consumers (no copy per search): callers
 * must clone before changing one, and writes here replace them instead of changing them.
 */
export class MemoryDirectory implements Directory {
  private readonly nodes = new Map<string, Node>();
  private readonly indexes = new Map<string, AttributeIndex>(INDEXED.map((a) => [indexKey(a), new AttributeIndex(a)]));
  private readonly resolve = (dnKey: string): Entry | undefined => this.nodes.get(dnKey)?.entry;

  private constructor(readonly suffix: Dn) {}

  /** Loads LDIF content; parents may come after children or in another source. Errors name `file:line`. */
  static fromLdif(options: { suffix: Dn; sources: readonly LdifSource[] }): MemoryDirectory {
    const dir = new MemoryDirectory(options.suffix);
    const records = options.sources.flatMap((s) => parseLdif(s.text, s.name).map((r) => ({ ...r, source: s.name })));
    records.sort((a, b) => a.entry.dn.depth - b.entry.dn.depth); // stable: file order within a level
    const where = new Map<string, string>();
    for (const { entry, line, source } of records) {
      const fail = (detail: string): never => {
        throw new LdifError(source, line, detail);
      };
      const dn = entry.dn;
      if (!dn.isWithin(dir.suffix)) fail(`entry "${dn.text}" is outside the naming context "${dir.suffix.text}"`);
      const first = where.get(dn.key);
      if (first) fail(`duplicate entry "${dn.text}" (first defined at ${first})`);
      if (!dn.equals(dir.suffix) && !dir.nodes.has(dn.parent()!.key)) {
        fail(`parent of "${dn.text}" does not exist`);
      }
      if (!entry.get('objectClass')?.values.length) fail(`entry "${dn.text}" has no objectClass`);
      const stored = storedForm(entry);
      const now = generalizedTime();
      if (!stored.has('createTimestamp')) stored.set('createTimestamp', [now]);
      if (!stored.has('modifyTimestamp')) stored.set('modifyTimestamp', [now]);
      dir.insert(stored);
      where.set(dn.key, `${source}:${line}`);
    }
    return dir;
  }

  get size(): number {
    return this.nodes.size;
  }

  namingContexts(): readonly Dn[] {
    return [this.suffix];
  }

  /** Every entry, parents before children (the order LDIF needs for saving). */
  *entries(): Generator<Entry> {
    const root = this.nodes.get(this.suffix.key);
    if (!root) return;
    yield root.entry;
    yield* this.descendants(root);
  }

  search(request: SearchRequest, ctx: OperationContext): SearchStream {
    return this.runSearch(request, ctx);
  }

  private async *runSearch(request: SearchRequest, ctx: OperationContext): AsyncGenerator<Entry, void, undefined> {
    const { base, scope } = request;
    const matches = compileFilter(request.filter, { resolve: this.resolve });
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
    const indexed = candidates(request.filter, this.indexes);
    if (indexed) {
      yield* this.fromCandidates(indexed, node.entry.dn.key, scope, matches, signal);
    } else {
      yield* this.scan(node, scope, matches, signal);
    }
  }

  private async *scan(node: Node, scope: 'one' | 'sub', matches: EntryMatcher, signal: AbortSignal): AsyncGenerator<Entry> {
    if (scope === 'sub' && matches(node.entry)) yield node.entry;
    const entries = scope === 'sub' ? this.descendants(node) : this.children(node);
    for (const entry of entries) {
      signal.throwIfAborted();
      if (matches(entry)) yield entry;
    }
  }

  private async *fromCandidates(
    keys: ReadonlySet<string>,
    baseKey: string,
    scope: 'one' | 'sub',
    matches: EntryMatcher,
    signal: AbortSignal,
  ): AsyncGenerator<Entry> {
    const below = ',' + baseKey;
    // Copied: the index's own set may change while the consumer is paused between entries.
    for (const key of [...keys]) {
      signal.throwIfAborted();
      const node = this.nodes.get(key);
      if (!node) continue;
      const inScope = scope === 'one' ? node.parentKey === baseKey : key === baseKey || key.endsWith(below);
      if (inScope && matches(node.entry)) yield node.entry;
    }
  }

  private *children(node: Node): Generator<Entry> {
    for (const key of node.children) {
      const child = this.nodes.get(key);
      if (child) yield child.entry;
    }
  }

  /** Pre-order walk below a node; live sets, so entries written meanwhile may or may not be seen. */
  private *descendants(node: Node): Generator<Entry> {
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
      if (child.children.size > 0) stack.push(child.children.values());
    }
  }

  async bind(dn: Dn, password: Buffer, _ctx: OperationContext): Promise<void> {
    // One error for every failure: callers must not learn which accounts exist.
    const invalid = new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
    if (password.length === 0) throw invalid; // never an unauthenticated "success" (RFC 4513 §5.1.2)
    const entry = this.nodes.get(dn.key)?.entry;
    if (!entry || isDisabled(entry)) throw invalid;
    const stored = entry.get('userPassword')?.values ?? [];
    if (!stored.some((v) => verifyPassword(v, password))) throw invalid;
  }

  async add(entry: Entry, _ctx: OperationContext): Promise<void> {
    const dn = entry.dn;
    if (!dn.isWithin(this.suffix)) throw this.noSuchObject(dn);
    if (this.nodes.has(dn.key)) throw new LdapError(ResultCode.entryAlreadyExists, `entry "${dn.text}" already exists`);
    if (!dn.equals(this.suffix) && !this.nodes.has(dn.parent()!.key)) throw this.noSuchObject(dn);
    checkNewEntry(entry);
    const stored = storedForm(entry, this.spelled(dn));
    const now = generalizedTime();
    stored.set('createTimestamp', [now]);
    stored.set('modifyTimestamp', [now]);
    this.insert(stored);
  }

  async modify(dn: Dn, changes: readonly Modification[], _ctx: OperationContext): Promise<void> {
    const node = this.existing(dn);
    const next = applyModifications(node.entry, changes);
    touch(next);
    this.replace(node, next);
  }

  async delete(dn: Dn, _ctx: OperationContext): Promise<void> {
    const node = this.existing(dn);
    if (node.children.size > 0) {
      throw new LdapError(ResultCode.notAllowedOnNonLeaf, `entry "${dn.text}" has subordinates`);
    }
    this.remove(node);
  }

  async modifyDn(request: ModifyDnRequest, _ctx: OperationContext): Promise<void> {
    const { dn, newSuperior } = request;
    const node = this.existing(dn);
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
    touch(renamed);
    const subtree = [...this.descendants(node)]; // pre-order: parents are re-inserted before children
    for (const entry of subtree) this.remove(this.nodes.get(entry.dn.key)!);
    this.remove(node);
    this.insert(renamed);
    for (const entry of subtree) this.insert(entry.clone(entry.dn.rebase(dn, newDn)));
  }

  async compare(dn: Dn, attribute: string, value: AttributeValue, _ctx: OperationContext): Promise<boolean> {
    const entry = this.existing(dn).entry;
    if (!compileFilter({ type: 'present', attribute })(entry)) {
      throw new LdapError(ResultCode.noSuchAttribute, `entry has no attribute "${attribute}"`);
    }
    const assertion = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return compileFilter({ type: 'equality', attribute, value: assertion })(entry);
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

  private insert(entry: Entry): void {
    const key = entry.dn.key;
    const parentKey = entry.dn.equals(this.suffix) ? undefined : entry.dn.parent()!.key;
    this.nodes.set(key, { entry: seal(entry), parentKey, children: new Set() });
    if (parentKey !== undefined) this.nodes.get(parentKey)!.children.add(key);
    for (const index of this.indexes.values()) index.add(entry, key);
  }

  private remove(node: Node): void {
    const key = node.entry.dn.key;
    this.nodes.delete(key);
    if (node.parentKey !== undefined) this.nodes.get(node.parentKey)?.children.delete(key);
    for (const index of this.indexes.values()) index.remove(node.entry, key);
  }

  private replace(node: Node, entry: Entry): void {
    const key = entry.dn.key;
    for (const index of this.indexes.values()) index.remove(node.entry, key);
    node.entry = seal(entry);
    for (const index of this.indexes.values()) index.add(entry, key);
  }
}

function isDisabled(entry: Entry): boolean {
  const uac = entry.get('userAccountControl')?.values[0];
  const flags = uac === undefined ? undefined : integerValue(uac.toString());
  if (flags !== undefined && (flags & ACCOUNT_DISABLED) !== 0n) return true;
  const adlds = entry.get('msDS-UserAccountDisabled')?.values[0];
  return adlds !== undefined && adlds.toString().trim().toUpperCase() === 'TRUE';
}

/** Freezes value arrays so a consumer that changes a shared entry in place fails loudly. */
function seal(entry: Entry): Entry {
  for (const a of entry.attributes()) Object.freeze(a.values);
  return entry;
}

/** Records a change on a new entry version: modifyTimestamp always, AD's whenChanged when the entry has one. */
function touch(entry: Entry): void {
  const now = generalizedTime();
  entry.set('modifyTimestamp', [now]);
  if (entry.has('whenChanged')) entry.set('whenChanged', [`${now.slice(0, -1)}.0Z`]);
}

/** GeneralizedTime in UTC to the second, e.g. `20240131120000Z`. */
function generalizedTime(date = new Date()): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}
