import { authzId, type Identity } from '../core/identity.js';
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
 *
 * The ring is held in columns, an entry made only when read: a busy mock journals thousands of
 * operations a second and keeps the last 10,000, and an object (and strings) made for each lived
 * through many young collections, then had V8 mark the whole heap every few seconds: a tenth of a
 * bind's processor time. A simple bind now leaves numbers, the name the client sent and who it
 * then was; other operations one object of their details.
 */
export class Journal {
  /** Per place in the ring: when, then connection, message ID, result code (NaN: abandoned) and entries sent (NaN: not a search). */
  private readonly times: Float64Array;
  private readonly numbers: Float64Array;
  private readonly secure: Uint8Array;
  private readonly operations: (string | undefined)[];
  /** A bind's name as the client sent it (other operations keep their DN in their details). */
  private readonly bindNames: (string | undefined)[];
  /** Who the connection was bound as (authzId): one string for the operations of one identity. */
  private readonly identities: (string | undefined)[];
  private lastIdentity: Identity | undefined;
  private lastAuthzId = '';
  private readonly details: (Details | undefined)[];
  private start = 0;
  private size = 0;
  private seq = 0;
  private droppedCount = 0;
  private readonly waiters = new Set<{ predicate: (e: JournalEntry) => boolean; resolve: (e: JournalEntry) => void }>();

  constructor(readonly capacity: number = DEFAULT_JOURNAL_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`journal size must be a positive integer, not ${capacity}`);
    this.times = new Float64Array(capacity);
    this.numbers = new Float64Array(capacity * NUMBERS);
    this.secure = new Uint8Array(capacity);
    this.operations = new Array<string | undefined>(capacity).fill(undefined);
    this.bindNames = new Array<string | undefined>(capacity).fill(undefined);
    this.identities = new Array<string | undefined>(capacity).fill(undefined);
    this.details = new Array<Details | undefined>(capacity).fill(undefined);
  }

  /** The entries held, oldest first. */
  get entries(): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.entryAt(i));
    return out;
  }

  /** Entries dropped from the ring since the last `clear()`. */
  get dropped(): number {
    return this.droppedCount;
  }

  clear(): void {
    this.operations.fill(undefined);
    this.bindNames.fill(undefined);
    this.identities.fill(undefined);
    this.details.fill(undefined);
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
  readonly record = (o: ObservedOperation): void => {
    this.seq++;
    if (this.size < this.capacity) this.size++;
    else {
      this.start = (this.start + 1) % this.capacity;
      this.droppedCount++;
    }
    const slot = (this.start + this.size - 1) % this.capacity;
    this.times[slot] = Date.now();
    const at = slot * NUMBERS;
    this.numbers[at] = o.connectionId;
    this.numbers[at + 1] = o.messageId;
    this.numbers[at + 2] = o.code ?? NaN;
    this.numbers[at + 3] = o.entries ?? NaN;
    this.secure[slot] = o.secure ? 1 : 0;
    this.operations[slot] = o.request.op;
    // Text, not the identity: a user's holds a DN parsed for it, several times the text's size.
    if (o.identity !== this.lastIdentity) {
      this.lastIdentity = o.identity;
      this.lastAuthzId = authzId(o.identity);
    }
    this.identities[slot] = this.lastAuthzId;
    const r = o.request;
    // The name only: the password (or SASL credentials) never gets into the journal.
    this.bindNames[slot] = r.op === 'bind' ? r.name : undefined;
    this.details[slot] = r.op === 'bind' && r.auth.method !== 'sasl' && o.controls.length === 0 ? undefined : detailsOf(o);
    if (this.waiters.size === 0) return;
    const entry = this.entryAt(this.size - 1);
    for (const w of this.waiters) if (w.predicate(entry)) w.resolve(entry);
  };

  /** What `GET /journal` serves: the entries after `since` (a `seq`), and how many the ring dropped. */
  toJSON(since = 0): { entries: JournalEntry[]; dropped: number } {
    return { entries: this.entries.filter((e) => e.seq > since), dropped: this.dropped };
  }

  /** The entry `i` places after the oldest held. */
  private entryAt(i: number): JournalEntry {
    const slot = (this.start + i) % this.capacity;
    const at = slot * NUMBERS;
    const details = this.details[slot];
    // Its fields added in the order shown.
    const entry: Mutable<JournalEntry> = {
      seq: this.seq - this.size + 1 + i,
      time: isoTime(this.times[slot]),
      connection: this.numbers[at],
      messageId: this.numbers[at + 1],
      operation: this.operations[slot]!,
      controls: details?.controls ?? NO_CONTROLS,
      identity: this.identities[slot]!,
      tls: this.secure[slot] === 1,
    };
    const code = this.numbers[at + 2];
    if (!Number.isNaN(code)) {
      entry.result = code;
      entry.resultName = resultName(code);
    }
    const entries = this.numbers[at + 3];
    if (!Number.isNaN(entries)) entry.entries = entries;
    if (entry.operation === 'bind') {
      entry.dn = this.bindNames[slot];
      entry.method = details?.method ?? 'simple';
    }
    if (details !== undefined) {
      const { controls: _controls, method: _method, ...fields } = details;
      Object.assign(entry, fields);
    }
    return entry;
  }
}

/** Numbers per place in the ring (see Journal.numbers). */
const NUMBERS = 4;

/** An operation's fields beyond a simple bind's. */
type Details = Partial<Pick<JournalEntry, 'dn' | 'scope' | 'filter' | 'attributes' | 'changes' | 'method' | 'oid' | 'newRdn' | 'newSuperior' | 'controls'>>;

function detailsOf(o: ObservedOperation): Details {
  const details: Mutable<Details> = {};
  // Decoded now: a control's value is a Buffer, which would hold on to a whole pooled slab of memory.
  if (o.controls.length > 0) details.controls = o.controls.map(describeControl);
  const r = o.request;
  switch (r.op) {
    case 'bind':
      if (r.auth.method === 'sasl') details.method = `sasl ${r.auth.mechanism}`;
      break;
    case 'search': {
      const s = r.search;
      details.dn = s.base.text;
      details.scope = s.scope;
      // As text now: a filter's password values are never held, even in memory.
      details.filter = filterToLogString(s.filter);
      details.attributes = s.attributes;
      break;
    }
    case 'add':
      details.dn = r.entry.dn.text;
      details.attributes = [...r.entry.attributes()].map((a) => a.name);
      break;
    case 'modify':
      details.dn = r.dn.text;
      details.attributes = r.changes.map((c) => c.attribute.name);
      details.changes = r.changes.map((c) => `${c.operation}: ${c.attribute.name}`);
      break;
    case 'delete':
      details.dn = r.dn.text;
      break;
    case 'compare':
      details.dn = r.dn.text;
      details.attributes = [r.attribute];
      break;
    case 'modifyDn':
      details.dn = r.request.dn.text;
      details.newRdn = r.request.newRdn;
      if (r.request.newSuperior) details.newSuperior = r.request.newSuperior.text;
      break;
    case 'extended':
      // Password Modify's passwords and any other request value stay out.
      details.oid = r.oid;
      if (r.passwordModify?.userIdentity !== undefined) details.dn = r.passwordModify.userIdentity;
      break;
  }
  return details;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Operations without controls (nearly all) share one empty list. */
const NO_CONTROLS: readonly JournalControl[] = Object.freeze([]);

/** A time as ISO text, made once per millisecond: many operations end within one. */
let lastMs = NaN;
let lastIso = '';
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
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
