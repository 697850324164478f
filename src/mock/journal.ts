import { authzId } from '../core/identity.js';
import { filterToLogString } from '../core/filter-text.js';
import { resultName } from '../core/result-codes.js';
import type { ObservedOperation } from '../frontend/operation-observer.js';
import type { Control } from '../protocol/decoder.js';
import { ControlOid } from '../protocol/controls/oids.js';
import { decodePagedResults } from '../protocol/controls/paged-results.js';
import { decodeSortRequest } from '../protocol/controls/server-side-sort.js';

/** A control as the journal shows it: the paged and sort controls decoded. */
export interface JournalControl {
  readonly oid: string;
  readonly critical: boolean;
  /** Paged results (RFC 2696): the page size asked for and whether a cookie continued a search. */
  readonly pageSize?: number;
  readonly cookie?: boolean;
  /** Server-side sort (RFC 2891). */
  readonly sortKeys?: readonly { readonly attribute: string; readonly orderingRule?: string; readonly reverse: boolean }[];
}

/** One operation the mock answered. No password (bind, Password Modify, filter or value) is ever in it. */
export interface JournalEntry {
  /** Position since the directory started: increases by one per operation, across `clear()`. */
  readonly seq: number;
  readonly time: string;
  readonly connection: number;
  readonly messageId: number;
  /** bind, search, add, modify, delete, modifyDn, compare, extended. */
  readonly operation: string;
  /** The entry operated on, the search base, or the bind name as the client sent it. */
  readonly dn?: string;
  readonly scope?: 'base' | 'one' | 'sub';
  /** The search filter as text (RFC 4515), password values replaced by `***`. */
  readonly filter?: string;
  /** Search: the attributes asked for; add and modify: those written; compare: the one compared. */
  readonly attributes?: readonly string[];
  /** Modify: each change as `replace: telephoneNumber`. */
  readonly changes?: readonly string[];
  /** Bind: simple or sasl (and the mechanism). */
  readonly method?: string;
  /** Extended operation's OID. */
  readonly oid?: string;
  /** ModifyDN: the new RDN and superior. */
  readonly newRdn?: string;
  readonly newSuperior?: string;
  readonly controls: readonly JournalControl[];
  /** Who the connection is bound as once the operation ended (RFC 4532 form: `dn:…`, `u:…`, `` for anonymous). */
  readonly identity: string;
  /** The connection was protected by TLS (LDAPS, or after StartTLS). */
  readonly tls: boolean;
  /** The result code, and its name; absent when the client abandoned the operation. */
  readonly result?: number;
  readonly resultName?: string;
  /** Search: entries sent. */
  readonly entries?: number;
}

export const DEFAULT_JOURNAL_SIZE = 10_000;

/**
 * Every operation the mock directory answered, in order, for a test to assert on ("it bound over
 * TLS before it searched", "it paged with size 500"). A ring: past `capacity` the oldest entries
 * are dropped (`dropped` counts them), so a long run cannot exhaust memory.
 */
export class Journal {
  private readonly ring: (JournalEntry | undefined)[];
  private start = 0;
  private size = 0;
  private seq = 0;
  private droppedCount = 0;
  private readonly waiters = new Set<{ predicate: (e: JournalEntry) => boolean; resolve: (e: JournalEntry) => void }>();

  constructor(readonly capacity: number = DEFAULT_JOURNAL_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`journal size must be a positive integer, not ${capacity}`);
    this.ring = new Array<JournalEntry | undefined>(capacity);
  }

  /** The entries held, oldest first. */
  get entries(): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.ring[(this.start + i) % this.capacity]!);
    return out;
  }

  /** Entries dropped from the ring since the last `clear()`. */
  get dropped(): number {
    return this.droppedCount;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.start = 0;
    this.size = 0;
    this.droppedCount = 0;
  }

  /**
   * The first entry held that matches, or the next one to arrive within `timeoutMs` (default 5 s);
   * rejects after that. Looking at entries already held means no race with an operation that
   * ended before the call: `clear()` first to wait for a new one only.
   */
  waitFor(predicate: (entry: JournalEntry) => boolean, timeoutMs = 5000): Promise<JournalEntry> {
    const held = this.entries.find(predicate);
    if (held) return Promise.resolve(held);
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (e: JournalEntry) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no journal entry matched within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** The front end's observer: records one answered operation. */
  readonly record = (operation: ObservedOperation): void => {
    const entry = toEntry(operation, ++this.seq);
    if (this.size < this.capacity) this.size++;
    else {
      this.start = (this.start + 1) % this.capacity;
      this.droppedCount++;
    }
    this.ring[(this.start + this.size - 1) % this.capacity] = entry;
    for (const w of this.waiters) if (w.predicate(entry)) w.resolve(entry);
  };

  /** What `GET /journal` serves: the entries after `since` (a `seq`), and how many the ring dropped. */
  toJSON(since = 0): { entries: JournalEntry[]; dropped: number } {
    return { entries: this.entries.filter((e) => e.seq > since), dropped: this.dropped };
  }
}

function toEntry(o: ObservedOperation, seq: number): JournalEntry {
  // One object, its fields added in the order shown: no copy of it per kind of operation (a mock
  // answers thousands of binds a second, each journaled).
  const entry: Mutable<JournalEntry> = {
    seq,
    time: isoTime(),
    connection: o.connectionId,
    messageId: o.messageId,
    operation: o.request.op,
    controls: o.controls.length === 0 ? NO_CONTROLS : o.controls.map(describeControl),
    identity: authzId(o.identity),
    tls: o.secure,
  };
  if (o.code !== undefined) {
    entry.result = o.code;
    entry.resultName = resultName(o.code);
  }
  if (o.entries !== undefined) entry.entries = o.entries;
  const r = o.request;
  switch (r.op) {
    case 'bind':
      // The name only: the password (or SASL credentials) never gets into the journal.
      entry.dn = r.name;
      entry.method = r.auth.method === 'sasl' ? `sasl ${r.auth.mechanism}` : 'simple';
      break;
    case 'search': {
      const s = r.search;
      entry.dn = s.base.text;
      entry.scope = s.scope;
      entry.filter = filterToLogString(s.filter);
      entry.attributes = [...s.attributes];
      break;
    }
    case 'add':
      entry.dn = r.entry.dn.text;
      entry.attributes = [...r.entry.attributes()].map((a) => a.name);
      break;
    case 'modify':
      entry.dn = r.dn.text;
      entry.attributes = r.changes.map((c) => c.attribute.name);
      entry.changes = r.changes.map((c) => `${c.operation}: ${c.attribute.name}`);
      break;
    case 'delete':
      entry.dn = r.dn.text;
      break;
    case 'compare':
      entry.dn = r.dn.text;
      entry.attributes = [r.attribute];
      break;
    case 'modifyDn':
      entry.dn = r.request.dn.text;
      entry.newRdn = r.request.newRdn;
      if (r.request.newSuperior) entry.newSuperior = r.request.newSuperior.text;
      break;
    case 'extended':
      // Password Modify's passwords and any other request value stay out.
      entry.oid = r.oid;
      if (r.passwordModify?.userIdentity !== undefined) entry.dn = r.passwordModify.userIdentity;
      break;
  }
  return entry;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Operations without controls (nearly all) share one empty list. */
const NO_CONTROLS: readonly JournalControl[] = Object.freeze([]);

/** The time now as ISO text, made once per millisecond: many operations end within one. */
let lastMs = NaN;
let lastIso = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

function describeControl(control: Control): JournalControl {
  const base = { oid: control.oid, critical: control.critical };
  try {
    if (control.oid === ControlOid.pagedResults) {
      const paged = decodePagedResults(control);
      return { ...base, pageSize: paged.size, cookie: paged.cookie.length > 0 };
    }
    if (control.oid === ControlOid.sortRequest) {
      return { ...base, sortKeys: decodeSortRequest(control).map((k) => ({ attribute: k.attribute, ...(k.orderingRule && { orderingRule: k.orderingRule }), reverse: k.reverse })) };
    }
  } catch {
    // A malformed value: the operation's result says so; the journal shows the control undecoded.
  }
  return base;
}
