import type { Modification, ModificationOperation } from '../../core/directory.js';
import { Dn, type ChildSpelling } from '../../core/dn.js';
import { Entry, type AttributeValue } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { withoutBinaryOption } from '../../core/matching.js';
import { descriptionKey, syntaxOf } from '../../core/schema.js';
import { applyModifications, renamedEntry } from './entry-writes.js';
import { StoredEntry } from './stored-entry.js';

/** A malformed LDIF file: the message starts with `file:line:` so an editor can jump to it. */
export class LdifError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${source}:${line}: ${detail}`);
    this.name = 'LdifError';
  }
}

/** One content record and the line its `dn:` is on (load errors about the entry point there). */
export interface LdifRecord {
  readonly entry: Entry;
  readonly line: number;
}

const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** An LDIF change record (RFC 2849); a content record reads as an `add`. */
export type LdifChange = { readonly line: number } & (
  | { readonly kind: 'add'; readonly entry: Entry }
  | { readonly kind: 'delete'; readonly dn: Dn }
  | { readonly kind: 'modify'; readonly dn: Dn; readonly changes: readonly Modification[] }
  | { readonly kind: 'modrdn'; readonly dn: Dn; readonly newRdn: string; readonly deleteOldRdn: boolean; readonly newSuperior?: Dn }
);

/**
 * LDIF as text, as UTF-8 bytes, or as a file read piece by piece (`ldifFile`): a large file is
 * parsed from its bytes, without a string of it, nor its bytes, whole.
 */
export type LdifText = string | Uint8Array | LdifFile;

/** An LDIF file's bytes in pieces, each ending where a record does (after an empty line), valid until the next is asked for. */
export interface LdifFile {
  readonly pieces: () => Iterable<Buffer>;
}

/** Parses RFC 2849 LDIF content (entries, not change records). */
export function parseLdif(text: LdifText, source: string): LdifRecord[] {
  const shared = sharing();
  const records: LdifRecord[] = [];
  try {
    for (const block of parseBlocks(piecesOf(text), source)) records.push(parseRecord(block, source, shared));
  } finally {
    releaseSplit();
  }
  return records;
}

/**
 * Parses RFC 2849 LDIF: content and change records (add, delete, modify, modrdn/moddn), in order,
 * each naming its source (for `applyLdifChanges`). Added entries come in the memory directory's
 * stored form (read-only, compact): the records of a large file are all held at once before they
 * are loaded.
 */
export function parseLdifChanges(text: LdifText, source: string): (LdifChange & { readonly source: string })[] {
  const shared = sharing();
  const changes: (LdifChange & { readonly source: string })[] = [];
  try {
    for (const block of parseBlocks(piecesOf(text), source)) changes.push(parseChange(block, source, shared));
  } finally {
    releaseSplit();
  }
  return changes;
}

/** The UTF-8 bytes of LDIF text, as a Buffer (a view, not a copy, of bytes given; a file read whole). */
export function bytesOf(text: LdifText): Buffer {
  if (typeof text === 'string') return Buffer.from(text, 'utf8');
  if (text instanceof Uint8Array) return Buffer.isBuffer(text) ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  const copies: Buffer[] = [];
  for (const piece of text.pieces()) copies.push(Buffer.from(piece));
  return Buffer.concat(copies);
}

function piecesOf(text: LdifText): Iterable<Buffer> {
  return typeof text === 'string' || text instanceof Uint8Array ? [bytesOf(text)] : text.pieces();
}

/**
 * One record's logical lines, from `from` to `count - 1`, as places in bytes: no string or object
 * per line, as a large file has millions. A folded line's parts are joined into bytes of their own.
 * Reused from record to record.
 */
class Block {
  from = 0;
  count = 0;
  readonly bytes: Buffer[] = [];
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly numbers: number[] = [];

  push(bytes: Buffer, start: number, end: number, number: number): void {
    const i = this.count++;
    this.bytes[i] = bytes;
    this.starts[i] = start;
    this.ends[i] = end;
    this.numbers[i] = number;
  }

  /** A line as text: for the version line, not for the lines of entries. */
  text(i: number): string {
    return this.bytes[i].toString('utf8', this.starts[i], this.ends[i]);
  }
}

/**
 * The records' lines, one record at a time (a large file's lines are never all held), the
 * `version:` line checked and dropped. Lines are unfolded on the way: continuation lines (leading
 * space) joined, comments dropped. The text comes in pieces that each end where a record does.
 */
function* parseBlocks(pieces: Iterable<Buffer>, source: string): Generator<Block> {
  const block = new Block();
  let first = true;
  let number = 0;
  // The logical line being read (open): its first physical line, whether it is a comment, its number, its continuations.
  let open = false;
  let comment = false;
  let headBytes: Buffer = NO_BYTES;
  let headStart = 0;
  let headEnd = 0;
  let headNumber = 0;
  let parts: Buffer[] | undefined;
  /** Reads the line of `bytes` from `at` to `stop` (without its newline); true when it ends a record that has lines. */
  const line = (bytes: Buffer, at: number, stop: number, blank: boolean): boolean => {
    number++;
    if (!blank && bytes[at] === SPACE) {
      if (open) {
        if (!comment) (parts ??= [headBytes.subarray(headStart, headEnd)]).push(bytes.subarray(at + 1, stop));
        return false;
      }
      if (bytes.toString('utf8', at, stop).trim() !== '') throw new LdifError(source, number, 'continuation line without a line to continue');
      // stray spaces between records read as a blank line: the record ends
    } else {
      if (open && !comment) {
        if (parts === undefined) block.push(headBytes, headStart, headEnd, headNumber);
        else {
          const joined = Buffer.concat(parts);
          block.push(joined, 0, joined.length, headNumber);
        }
      }
      open = !blank;
      parts = undefined;
      if (open) {
        comment = bytes[at] === HASH;
        headBytes = bytes;
        headStart = at;
        headEnd = stop;
        headNumber = number;
        return false;
      }
    }
    if (block.count === 0) return false;
    if (first && isVersionLine(block)) {
      const v = block.text(0).slice(VERSION.length).trim();
      if (v !== '1') throw new LdifError(source, block.numbers[0], `unsupported LDIF version "${v}"`);
      block.from = 1;
    }
    first = false;
    return block.count > block.from;
  };
  for (const bytes of pieces) {
    const length = bytes.length;
    for (let start = 0; start < length; ) {
      let end = start;
      while (end < length && bytes[end] !== LF) end++;
      const stop = end > start && bytes[end - 1] === CR ? end - 1 : end;
      if (line(bytes, start, stop, stop === start)) yield block;
      if (block.count > 0 && !open) {
        block.from = 0;
        block.count = 0;
      }
      start = end + 1;
    }
  }
  // Past the end: a blank line, so that the last record ends like the others.
  if (line(NO_BYTES, 0, 0, true)) yield block;
  headBytes = NO_BYTES;
}

/** Whether a block's first line starts with `version:`, in any case. */
function isVersionLine(block: Block): boolean {
  const bytes = block.bytes[0];
  const start = block.starts[0];
  if (block.ends[0] - start < VERSION.length) return false;
  for (let i = 0; i < VERSION.length; i++) if ((bytes[start + i] | (i < 7 ? 0x20 : 0)) !== VERSION.charCodeAt(i)) return false;
  return true;
}

const VERSION = 'version:';
const NO_BYTES: Buffer = Buffer.alloc(0);
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const HASH = 0x23;
const DASH = 0x2d;
const COLON = 0x3a;
const LESS_THAN = 0x3c;

function parseRecord(block: Block, source: string, { values, dns }: Sharing): LdifRecord {
  const dnAt = block.from;
  const entry = new Entry(parseDnLine(block, dnAt, source, dns));
  addAttributes((known, value) => entry.addValues(known.stored, [value]), block, dnAt + 1, source, values, (known, number) => {
    if (known.lower === 'changetype' || known.lower === 'control') {
      throw new LdifError(source, number, `"${known.name}:" records are not supported here: only LDIF content (entries) can be loaded`);
    }
  });
  return { entry, line: block.numbers[dnAt] };
}

function parseChange(block: Block, source: string, { values, dns, attributes }: Sharing): LdifChange & { readonly source: string } {
  const dnAt = block.from;
  const dn = parseDnLine(block, dnAt, source, dns);
  const line = block.numbers[dnAt];
  const typeAt = dnAt + 1;
  if (typeAt < block.count) splitAt(block, typeAt, source);
  const type = typeAt < block.count ? split.known.lower : undefined;
  if (type === 'control') throw new LdifError(source, block.numbers[typeAt], '"control:" lines are not supported: leave the controls out');
  if (type !== 'changetype') {
    return { kind: 'add', entry: storedEntry(dn, block, typeAt, source, values, attributes), line, source };
  }
  const changeType = splitValue();
  const bodyAt = typeAt + 1;
  switch (changeType.trim().toLowerCase()) {
    case 'add': {
      return { kind: 'add', entry: storedEntry(dn, block, bodyAt, source, values, attributes), line, source };
    }
    case 'delete':
      if (bodyAt < block.count) throw new LdifError(source, block.numbers[bodyAt], 'a "changetype: delete" record has nothing after it');
      return { kind: 'delete', dn, line, source };
    case 'modify':
      return { kind: 'modify', dn, changes: parseModifications(block, bodyAt, source, values), line, source };
    case 'modrdn':
    case 'moddn':
      return { kind: 'modrdn', dn, ...parseModRdn(block, bodyAt, block.numbers[typeAt], source), line, source };
    default:
      throw new LdifError(source, block.numbers[typeAt], `unknown changetype "${changeType.trim()}" (add, delete, modify, modrdn, moddn)`);
  }
}

/** `add: attr` / `delete: attr` / `replace: attr`, its values, and `-` after each. */
function parseModifications(block: Block, from: number, source: string, values: ValueCopies): Modification[] {
  const changes: Modification[] = [];
  let current: { operation: ModificationOperation; name: string; entry: Entry } | undefined;
  const close = () => {
    if (!current) return;
    const attribute = current.entry.get(current.name);
    changes.push({ operation: current.operation, attribute: { name: current.name, values: attribute?.values ?? [] } });
    current = undefined;
  };
  for (let i = from; i < block.count; i++) {
    const number = block.numbers[i];
    if (block.ends[i] - block.starts[i] === 1 && block.bytes[i][block.starts[i]] === DASH) {
      if (!current) throw new LdifError(source, number, '"-" without a change before it');
      close();
      continue;
    }
    splitAt(block, i, source);
    const { known, kind } = split;
    const attribute = known.name;
    if (!current) {
      const operation = known.lower;
      if (operation !== 'add' && operation !== 'delete' && operation !== 'replace') {
        throw new LdifError(source, number, `expected "add:", "delete:" or "replace:", found "${attribute}:"`);
      }
      const value = splitValue();
      const name = withoutBinaryOption(value.trim());
      if (!ATTRIBUTE.test(name)) throw new LdifError(source, number, `invalid attribute description "${value.trim()}"`);
      current = { operation: operation as ModificationOperation, name, entry: new Entry(Dn.root) };
      continue;
    }
    if (withoutBinaryOption(attribute).toLowerCase() !== current.name.toLowerCase()) {
      throw new LdifError(source, number, `a value of "${attribute}" in the change of "${current.name}" (missing "-"?)`);
    }
    if (kind === 'url') throw new LdifError(source, number, `"${attribute}:<" URL values are not supported: inline the value as base64 ("${attribute}:: …")`);
    current.entry.addValues(current.name, [valueOf(syntaxOf(attribute) === 'binary', values)]);
  }
  close();
  return changes;
}

function parseModRdn(block: Block, from: number, typeLine: number, source: string): { newRdn: string; deleteOldRdn: boolean; newSuperior?: Dn } {
  const fields = new Map<string, { value: string; line: number }>();
  for (let i = from; i < block.count; i++) {
    const number = block.numbers[i];
    splitAt(block, i, source);
    const name = split.known.lower;
    if (name !== 'newrdn' && name !== 'deleteoldrdn' && name !== 'newsuperior') throw new LdifError(source, number, `unexpected "${split.known.name}:" in a modrdn record`);
    fields.set(name, { value: split.kind === 'base64' ? decodeUtf8(split.base64, number, source) : splitValue().trim(), line: number });
  }
  const newRdn = fields.get('newrdn');
  const deleteOldRdn = fields.get('deleteoldrdn');
  if (!newRdn) throw new LdifError(source, typeLine, 'a modrdn record needs "newrdn:"');
  if (deleteOldRdn && deleteOldRdn.value !== '0' && deleteOldRdn.value !== '1') throw new LdifError(source, deleteOldRdn.line, '"deleteoldrdn:" must be 0 or 1');
  const superior = fields.get('newsuperior');
  return {
    newRdn: newRdn.value,
    deleteOldRdn: deleteOldRdn?.value === '1',
    ...(superior && { newSuperior: parseDn(superior.value, superior.line, source) }),
  };
}

function parseDnLine(block: Block, at: number, source: string, dns: KnownDns): Dn {
  const number = block.numbers[at];
  splitAt(block, at, source);
  if (split.known.lower !== 'dn') throw new LdifError(source, number, `expected "dn:", found "${split.known.name}:"`);
  const text = split.kind === 'base64' ? decodeUtf8(split.base64, number, source) : textOf(split.bytes, split.start, split.end);
  return dns.parse(text) ?? dns.add(parseDn(text, number, source));
}

function parseDn(text: string, line: number, source: string): Dn {
  try {
    return Dn.parse(text);
  } catch (err) {
    throw new LdifError(source, line, err instanceof LdapError ? err.message : `invalid DN "${text}"`);
  }
}

/** An added entry's lines read straight into the stored form, without a plain Entry (and its map) per record. */
function storedEntry(dn: Dn, block: Block, from: number, source: string, values: ValueCopies, attributes: RecordAttributes): StoredEntry {
  attributes.clear();
  addAttributes((known, value) => attributes.add(known, value), block, from, source, values);
  return StoredEntry.fromList(dn, attributes.list, attributes.count, attributes.sizes, attributes.missing(LOAD_ADDS));
}

/**
 * What the memory directory's load adds to an entry that lacks them (its timestamps; under the AD
 * profile the memberOf back link and objectCategory): a parsed entry has a slot free for each, so
 * that the load completes it in place (StoredEntry.withAttributes) rather than copying it.
 */
const LOAD_ADDS = ['createTimestamp', 'modifyTimestamp', 'memberOf', 'objectCategory'].map(descriptionKey);

/**
 * A record's attributes in the order read, values grouped by type and options as an Entry groups
 * them: `count` of `list`, the first `sizes[i]` values of each. Its objects and arrays are reused
 * from record to record (the stored entry keeps none of them) and never shortened: an array whose
 * length is set to 0 lets go of its storage, and the next push allocates it again, for every
 * attribute of every record of a large file.
 */
class RecordAttributes {
  readonly list: { name: string; readonly values: AttributeValue[] }[] = [];
  readonly sizes: number[] = [];
  count = 0;
  private readonly keys: string[] = [];

  clear(): void {
    this.count = 0;
  }

  /** How many of these description keys the record has no values of. */
  missing(keys: readonly string[]): number {
    let missing = keys.length;
    for (let i = 0; i < this.count; i++) if (keys.includes(this.keys[i])) missing--;
    return missing;
  }

  add(known: AttributeName, value: AttributeValue): void {
    for (let i = 0; i < this.count; i++) {
      // a few dozen attributes: a scan costs less than a map
      if (this.keys[i] === known.key) {
        this.list[i].values[this.sizes[i]++] = value;
        return;
      }
    }
    const i = this.count++;
    this.keys[i] = known.key;
    this.sizes[i] = 1;
    const attribute = this.list[i];
    if (attribute === undefined) this.list.push({ name: known.stored, values: [value] });
    else {
      attribute.name = known.stored;
      attribute.values[0] = value;
    }
  }
}

/** A record's `attribute: value` lines from `from` into `add`; `check` sees each line's attribute first. */
function addAttributes(
  add: (known: AttributeName, value: AttributeValue) => void,
  block: Block,
  from: number,
  source: string,
  values: ValueCopies,
  check?: (known: AttributeName, number: number) => void,
): void {
  for (let i = from; i < block.count; i++) {
    splitAt(block, i, source);
    const known = split.known;
    const lower = known.lower;
    const number = block.numbers[i];
    check?.(known, number);
    if (lower === 'dn') throw new LdifError(source, number, 'second "dn:" in one record (missing blank line between entries?)');
    if (lower === 'changetype') throw new LdifError(source, number, '"changetype:" must come right after "dn:"');
    if (split.kind === 'url') throw new LdifError(source, number, `"${known.name}:<" URL values are not supported: inline the value as base64 ("${known.name}:: …")`);
    add(known, valueOf(known.binary, values));
  }
}

/**
 * The entries left once the changes are applied in order, as a server applying them one by one
 * would (`ldapadd -f` then `ldapmodify -f`): a change that the server would refuse (an entry that
 * exists already, a missing entry, a non-leaf delete, a value already there) fails the load with
 * its file and line. Entries keep the source and line of the record that added them.
 */
export function applyLdifChanges(changes: readonly (LdifChange & { readonly source: string })[]): (LdifRecord & { readonly source: string })[] {
  const entries = new Map<string, LdifRecord & { readonly source: string }>();
  for (const change of changes) {
    if (change.kind === 'add') {
      const first = entries.get(change.entry.dn.key);
      if (first) throw new LdifError(change.source, change.line, `duplicate entry "${change.entry.dn.text}" (first defined at ${first.source}:${first.line})`);
      // The change itself is the record (entry, line, source): no object more per entry of a large file.
      entries.set(change.entry.dn.key, change);
      continue;
    }
    const at = (detail: string): never => {
      throw new LdifError(change.source, change.line, detail);
    };
    const record = entries.get(change.dn.key) ?? at(`${change.kind}: no entry "${change.dn.text}" (added by none of the records before it)`);
    try {
      switch (change.kind) {
        case 'delete':
          for (const r of entries.values()) if (r.entry.dn.parent()?.equals(change.dn)) at(`delete: "${change.dn.text}" has entries below it`);
          entries.delete(change.dn.key);
          break;
        case 'modify':
          entries.set(change.dn.key, { ...record, entry: applyModifications(record.entry, change.changes) });
          break;
        case 'modrdn': {
          const parent = change.newSuperior ?? change.dn.parent() ?? Dn.root;
          const newDn = parent.child(change.newRdn);
          if (!newDn.equals(change.dn) && entries.has(newDn.key)) at(`modrdn: "${newDn.text}" exists already`);
          const moved = [...entries.values()].filter((r) => r.entry.dn.isWithin(change.dn));
          for (const r of moved) entries.delete(r.entry.dn.key);
          for (const r of moved) {
            const entry = r === record ? renamedEntry(r.entry, newDn, change.deleteOldRdn) : r.entry.clone(r.entry.dn.rebase(change.dn, newDn));
            entries.set(entry.dn.key, { ...r, entry });
          }
          break;
        }
      }
    } catch (err) {
      if (err instanceof LdapError) at(`${change.kind} "${change.dn.text}": ${err.message}`);
      throw err;
    }
  }
  return [...entries.values()];
}

/**
 * Text values read from the bytes, each a string of its own (a slice of a string of the whole
 * file would keep the file in memory as long as its entry). Short values repeat across entries
 * (object classes, departments, flags, and DNs: the groups a user's memberOf names, a manager):
 * those seen recently are shared instead of made again.
 */
class ValueCopies {
  /**
   * The last value seen in each of a fixed number of slots, chosen by a hash of its bytes: no
   * allocation for a value seen, and a frequent value stays until another displaces it.
   */
  private readonly recent: (string | undefined)[] = new Array<string | undefined>(4096).fill(undefined);

  text(bytes: Buffer, start: number, end: number): string {
    if (end - start > SHARED_LENGTH) return textOf(bytes, start, end);
    let hash = FNV_OFFSET;
    let all = 0;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      all |= c;
      hash = Math.imul(hash ^ c, FNV_PRIME);
    }
    if (all >= 0x80) return bytes.toString('utf8', start, end);
    const slot = (hash >>> 0) & 4095;
    const seen = this.recent[slot];
    if (seen !== undefined && spells(seen, bytes, start, end)) return seen;
    const text = bytes.toString('latin1', start, end);
    this.recent[slot] = text;
    return text;
  }
}

/** The longest value shared, in bytes: most DNs of a directory are shorter. */
const SHARED_LENGTH = 64;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Bytes as text: ASCII (nearly all LDIF) decoded as Latin-1, which costs less than UTF-8's decoder and gives the same string. */
function textOf(bytes: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) if (bytes[i] >= 0x80) return bytes.toString('utf8', start, end);
  return bytes.toString('latin1', start, end);
}

/** Whether an ASCII string is these bytes. */
function spells(text: string, bytes: Buffer, start: number, end: number): boolean {
  if (text.length !== end - start) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

/** What the records of one text share: value copies, DNs that entries below them are built on, a record's attributes. */
interface Sharing {
  readonly values: ValueCopies;
  readonly dns: KnownDns;
  readonly attributes: RecordAttributes;
}

const sharing = (): Sharing => ({ values: new ValueCopies(), dns: new KnownDns(), attributes: new RecordAttributes() });

/**
 * The DNs of the records read so far, by text, for the records below them: a child's DN is its
 * own RDN on its parent's Dn, sharing the parent's RDN objects, so a large tree holds each
 * ancestor's RDNs once (the memory directory keeps these Dns) and parses one RDN per entry.
 * Bounded, in two generations: when the newer fills it becomes the older, and a DN found in the
 * older moves to the newer, so that a parent of many (an OU of 100,000 users) stays while leaves
 * go.
 */
class KnownDns {
  private newer = new Map<string, Dn>();
  private older = new Map<string, Dn>();

  /** The DN built on a known parent, or undefined (no known parent, or text the full parse must judge). */
  parse(text: string): Dn | undefined {
    // The first comma whose remainder is a known DN ends the RDN, unless it was escaped: then the RDN does not parse alone.
    for (let comma = text.indexOf(','); comma > 0; comma = text.indexOf(',', comma + 1)) {
      const parent = this.known(text.slice(comma + 1));
      if (parent === undefined) continue;
      const child = parent.childSpelled(text, comma, LAZY);
      if (child !== undefined) return this.add(child);
      try {
        const own = Dn.parse(text.slice(0, comma));
        if (!own.isRoot) return this.add(own.rebase(Dn.root, parent));
      } catch {
        // an escaped comma: a later one may end the RDN
      }
    }
    return undefined;
  }

  add(dn: Dn): Dn {
    if (this.newer.size >= KNOWN_DNS) {
      this.older = this.newer;
      this.newer = new Map();
    }
    this.newer.set(dn.text, dn);
    return dn;
  }

  private known(text: string): Dn | undefined {
    const dn = this.newer.get(text);
    if (dn !== undefined) return dn;
    const old = this.older.get(text);
    return old === undefined ? undefined : this.add(old);
  }
}

/** A load's DNs: their RDN objects made when first asked for (see Dn.childSpelled). */
const LAZY: ChildSpelling = { lazy: true };

/** DNs each generation of KnownDns holds. */
const KNOWN_DNS = 32_768;

type ValueKind = 'text' | 'base64' | 'url';

/** An attribute description as a line spells it, and what loading a value of it needs, worked out once per spelling. */
interface AttributeName {
  readonly name: string;
  readonly lower: string;
  /** The name values are stored under: without `;binary`, which only says how a value travels. */
  readonly stored: string;
  /** Its description key (`descriptionKey`), which groups values of one attribute. */
  readonly key: string;
  readonly binary: boolean;
}

/** Attribute descriptions seen, checked once each. Bounded, as any text may be loaded. */
const attributeNames = new Map<string, AttributeName>();

function attributeName(name: string, line: number, source: string): AttributeName {
  let known = attributeNames.get(name);
  if (known === undefined) {
    if (!ATTRIBUTE.test(name)) throw new LdifError(source, line, `invalid attribute description "${name}"`);
    if (attributeNames.size >= 4096) attributeNames.clear();
    const stored = withoutBinaryOption(name);
    known = { name, lower: name.toLowerCase(), stored, key: descriptionKey(stored), binary: syntaxOf(name) === 'binary' };
    attributeNames.set(name, known);
  }
  return known;
}

/**
 * The descriptions of the names read last, in slots chosen by a hash of their bytes: a line's
 * name is found without making its string (most lines of a file spell one of a few dozen names).
 */
const recentNames: (AttributeName | undefined)[] = new Array<AttributeName | undefined>(1024).fill(undefined);

/**
 * The parts of the line `splitAt` read last, set in place rather than returned in an object per
 * line: its attribute, the kind of value, where the value's bytes are, and for base64 the value
 * without its spaces (checked).
 */
const split = { known: undefined as unknown as AttributeName, kind: 'text' as ValueKind, bytes: NO_BYTES, start: 0, end: 0, base64: '' };

/** Lets go of the bytes split last: held, they would keep a whole file in memory. */
function releaseSplit(): void {
  split.bytes = NO_BYTES;
  split.base64 = '';
}

function splitAt(block: Block, i: number, source: string): void {
  const bytes = block.bytes[i];
  const start = block.starts[i];
  const end = block.ends[i];
  const number = block.numbers[i];
  let colon = start;
  let hash = FNV_OFFSET;
  for (; colon < end && bytes[colon] !== COLON; colon++) hash = Math.imul(hash ^ bytes[colon], FNV_PRIME);
  // The line is not quoted: it may be a password whose colon was forgotten.
  if (colon === end || colon === start) throw new LdifError(source, number, 'expected "attribute: value", found a line without one');
  const slot = (hash >>> 0) & 1023;
  let known = recentNames[slot];
  if (known === undefined || !spells(known.name, bytes, start, colon)) {
    known = attributeName(bytes.toString('utf8', start, colon), number, source);
    recentNames[slot] = known;
  }
  let at = colon + 1;
  const marker = at < end ? bytes[at] : -1;
  const kind: ValueKind = marker === COLON ? 'base64' : marker === LESS_THAN ? 'url' : 'text';
  if (kind !== 'text') at++;
  if (kind !== 'base64') while (at < end && bytes[at] === SPACE) at++;
  split.known = known;
  split.kind = kind;
  split.bytes = bytes;
  split.start = at;
  split.end = end;
  if (kind === 'base64') {
    const value = bytes.toString('utf8', at, end).replace(/\s+/g, '');
    if (!BASE64.test(value) || value.length % 4 === 1) throw new LdifError(source, number, `invalid base64 value for "${known.name}"`);
    split.base64 = value;
  }
}

/** The value of the line split last as text (base64 as written, without spaces): for change records' fields. */
function splitValue(): string {
  return split.kind === 'base64' ? split.base64 : split.bytes.toString('utf8', split.start, split.end);
}

/** The value of the line split last: text (copied or shared), or bytes for a binary attribute or base64 that is not UTF-8. */
function valueOf(binary: boolean, values: ValueCopies): AttributeValue {
  if (split.kind !== 'base64') {
    const text = values.text(split.bytes, split.start, split.end);
    return binary ? Buffer.from(text, 'utf8') : text;
  }
  const bytes = Buffer.from(split.base64, 'base64');
  if (binary) return bytes;
  // Text that is not UTF-8 stays bytes rather than being silently corrupted by decoding.
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : bytes;
}

function decodeUtf8(base64: string, line: number, source: string): string {
  const bytes = Buffer.from(base64, 'base64');
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new LdifError(source, line, 'base64 DN is not valid UTF-8');
  return text;
}

const LINE_WIDTH = 76;
/**
 * RFC 2849 SAFE-STRING: ASCII without NUL, CR or LF, not starting with a space, colon or `<`;
 * a trailing space is also unsafe (editors and parsers strip it).
 */
function isSafe(value: string): boolean {
  if (value === '') return true;
  const first = value.charCodeAt(0);
  if (first === 0x20 || first === 0x3a || first === 0x3c || value.endsWith(' ')) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0x7f) return false;
  }
  return true;
}

/** Renders entries as LDIF content, base64 for bytes and unsafe text, lines folded at 76 columns. */
export function entriesToLdif(entries: Iterable<Entry>): string {
  const out: string[] = [LDIF_HEADER];
  for (const entry of entries) out.push('\n', entryToLdif(entry));
  return out.join('');
}

/** What LDIF content starts with; each record follows it after a blank line. */
export const LDIF_HEADER = 'version: 1\n';

/** One entry's record, newline-terminated, without the blank line that separates records (for writers that stream). */
export function entryToLdif(entry: Entry): string {
  const out: string[] = [fold(field('dn', entry.dn.text))];
  for (const a of entry.attributes()) {
    for (const v of a.values) out.push(fold(field(a.name, v)));
  }
  out.push('');
  return out.join('\n');
}

function field(name: string, value: AttributeValue): string {
  if (typeof value === 'string' && isSafe(value)) return `${name}: ${value}`;
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return `${name}:: ${bytes.toString('base64')}`;
}

function fold(line: string): string {
  if (line.length <= LINE_WIDTH) return line;
  const parts = [line.slice(0, LINE_WIDTH)];
  for (let i = LINE_WIDTH; i < line.length; i += LINE_WIDTH - 1) parts.push(' ' + line.slice(i, i + LINE_WIDTH - 1));
  return parts.join('\n');
}
