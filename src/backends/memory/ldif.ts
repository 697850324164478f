import type { Modification, ModificationOperation } from '../../core/directory.js';
import { Dn } from '../../core/dn.js';
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

interface Line {
  readonly text: string;
  readonly number: number;
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

/** Parses RFC 2849 LDIF content (entries, not change records). */
export function parseLdif(text: string, source: string): LdifRecord[] {
  const shared = sharing();
  return Array.from(parseBlocks(text, source), (block) => parseRecord(block, source, shared));
}

/**
 * Parses RFC 2849 LDIF: content and change records (add, delete, modify, modrdn/moddn), in order.
 * Added entries come in the memory directory's stored form (read-only, compact): the records of a
 * large file are all held at once before they are loaded.
 */
export function parseLdifChanges(text: string, source: string): LdifChange[] {
  const shared = sharing();
  return Array.from(parseBlocks(text, source), (block) => parseChange(block, source, shared));
}

/**
 * The records' lines, one record at a time (a large file's lines are never all held), the
 * `version:` line checked and dropped. Lines are unfolded on the way: continuation lines (leading
 * space) joined, comments dropped; one pass without a generator or an object per physical line,
 * as a large file has millions.
 */
function* parseBlocks(text: string, source: string): Generator<Line[]> {
  let block: Line[] = [];
  let first = true;
  let number = 0;
  // The logical line being read (open): its first physical line (undefined for a comment), its number, its continuations.
  let open = false;
  let head: string | undefined;
  let headNumber = 0;
  let parts: string[] | undefined;
  for (let start = 0; start <= text.length + 1; ) {
    let end = start > text.length ? start : text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const stop = end > start && text.charCodeAt(end - 1) === CR ? end - 1 : end;
    const at = start;
    start = end + 1;
    number++;
    // Past the end: a blank line, so that the last record ends like the others.
    const blank = at > text.length || stop === at;
    if (!blank && text.charCodeAt(at) === SPACE) {
      if (open) {
        if (head !== undefined) (parts ??= []).push(text.slice(at + 1, stop));
        continue;
      }
      if (text.slice(at, stop).trim() !== '') throw new LdifError(source, number, 'continuation line without a line to continue');
      // stray spaces between records read as a blank line: the record ends
    } else {
      if (open && head !== undefined) block.push({ text: parts ? head + parts.join('') : head, number: headNumber });
      open = !blank;
      parts = undefined;
      if (open) {
        head = text.charCodeAt(at) === HASH ? undefined : text.slice(at, stop);
        headNumber = number;
        continue;
      }
    }
    if (block.length === 0) continue;
    if (first && /^version:/i.test(block[0].text)) {
      const v = block[0].text.slice('version:'.length).trim();
      if (v !== '1') throw new LdifError(source, block[0].number, `unsupported LDIF version "${v}"`);
      block = block.slice(1);
    }
    first = false;
    if (block.length > 0) yield block;
    block = [];
  }
}

const CR = 0x0d;
const SPACE = 0x20;
const HASH = 0x23;
const COLON = 0x3a;
const LESS_THAN = 0x3c;

function parseRecord(lines: readonly Line[], source: string, { values, dns }: Sharing): LdifRecord {
  const [dnLine, ...rest] = lines;
  const entry = new Entry(parseDnLine(dnLine, source, dns));
  addAttributes((known, value) => entry.addValues(known.stored, [value]), rest, source, values, (line, attribute) => {
    if (attribute === 'changetype' || attribute === 'control') {
      fail(source, line, `"${line.text.split(':')[0]}:" records are not supported here: only LDIF content (entries) can be loaded`);
    }
  });
  return { entry, line: dnLine.number };
}

function parseChange(lines: readonly Line[], source: string, { values, dns }: Sharing): LdifChange {
  const [dnLine, ...rest] = lines;
  const dn = parseDnLine(dnLine, source, dns);
  const line = dnLine.number;
  const typeLine = rest[0] && splitLine(rest[0], source);
  if (typeLine?.attribute.toLowerCase() === 'control') fail(source, rest[0], '"control:" lines are not supported: leave the controls out');
  if (typeLine?.attribute.toLowerCase() !== 'changetype') {
    return { kind: 'add', entry: storedEntry(dn, rest, source, values), line };
  }
  const body = rest.slice(1);
  switch (typeLine.value.trim().toLowerCase()) {
    case 'add': {
      return { kind: 'add', entry: storedEntry(dn, body, source, values), line };
    }
    case 'delete':
      if (body.length > 0) fail(source, body[0], 'a "changetype: delete" record has nothing after it');
      return { kind: 'delete', dn, line };
    case 'modify':
      return { kind: 'modify', dn, changes: parseModifications(body, source, values), line };
    case 'modrdn':
    case 'moddn':
      return { kind: 'modrdn', dn, ...parseModRdn(body, rest[0], source), line };
    default:
      return fail(source, rest[0], `unknown changetype "${typeLine.value.trim()}" (add, delete, modify, modrdn, moddn)`);
  }
}

/** `add: attr` / `delete: attr` / `replace: attr`, its values, and `-` after each. */
function parseModifications(lines: readonly Line[], source: string, values: ValueCopies): Modification[] {
  const changes: Modification[] = [];
  let current: { operation: ModificationOperation; name: string; entry: Entry; line: Line } | undefined;
  const close = () => {
    if (!current) return;
    const attribute = current.entry.get(current.name);
    changes.push({ operation: current.operation, attribute: { name: current.name, values: attribute?.values ?? [] } });
    current = undefined;
  };
  for (const line of lines) {
    if (line.text === '-') {
      if (!current) fail(source, line, '"-" without a change before it');
      close();
      continue;
    }
    const { attribute, kind, value } = splitLine(line, source);
    if (!current) {
      const operation = attribute.toLowerCase();
      if (operation !== 'add' && operation !== 'delete' && operation !== 'replace') {
        fail(source, line, `expected "add:", "delete:" or "replace:", found "${attribute}:"`);
      }
      const name = withoutBinaryOption(value.trim());
      if (!ATTRIBUTE.test(name)) fail(source, line, `invalid attribute description "${value.trim()}"`);
      current = { operation: operation as ModificationOperation, name, entry: new Entry(Dn.root), line };
      continue;
    }
    if (withoutBinaryOption(attribute).toLowerCase() !== current.name.toLowerCase()) {
      fail(source, line, `a value of "${attribute}" in the change of "${current.name}" (missing "-"?)`);
    }
    if (kind === 'url') fail(source, line, `"${attribute}:<" URL values are not supported: inline the value as base64 ("${attribute}:: …")`);
    current.entry.addValues(current.name, [toValue(syntaxOf(attribute) === 'binary', kind, kind === 'text' ? values.copy(value) : value)]);
  }
  close();
  return changes;
}

function parseModRdn(lines: readonly Line[], typeLine: Line, source: string): { newRdn: string; deleteOldRdn: boolean; newSuperior?: Dn } {
  const fields = new Map<string, { value: string; line: Line }>();
  for (const line of lines) {
    const { attribute, kind, value } = splitLine(line, source);
    const name = attribute.toLowerCase();
    if (name !== 'newrdn' && name !== 'deleteoldrdn' && name !== 'newsuperior') fail(source, line, `unexpected "${attribute}:" in a modrdn record`);
    fields.set(name, { value: kind === 'base64' ? decodeUtf8(value, line, source) : value.trim(), line });
  }
  const newRdn = fields.get('newrdn');
  const deleteOldRdn = fields.get('deleteoldrdn');
  if (!newRdn) return fail(source, typeLine, 'a modrdn record needs "newrdn:"');
  if (deleteOldRdn && deleteOldRdn.value !== '0' && deleteOldRdn.value !== '1') fail(source, deleteOldRdn.line, '"deleteoldrdn:" must be 0 or 1');
  const superior = fields.get('newsuperior');
  return {
    newRdn: newRdn.value,
    deleteOldRdn: deleteOldRdn?.value === '1',
    ...(superior && { newSuperior: parseDn(superior.value, superior.line, source) }),
  };
}

function parseDnLine(dnLine: Line, source: string, dns: KnownDns): Dn {
  const head = splitLine(dnLine, source);
  if (head.attribute.toLowerCase() !== 'dn') fail(source, dnLine, `expected "dn:", found "${head.attribute}:"`);
  const text = head.kind === 'base64' ? decodeUtf8(head.value, dnLine, source) : detached(head.value);
  return dns.parse(text) ?? dns.add(parseDn(text, dnLine, source));
}

function parseDn(text: string, line: Line, source: string): Dn {
  try {
    return Dn.parse(text);
  } catch (err) {
    return fail(source, line, err instanceof LdapError ? err.message : `invalid DN "${text}"`);
  }
}

/** An added entry's lines read straight into the stored form, without a plain Entry (and its map) per record. */
function storedEntry(dn: Dn, lines: readonly Line[], source: string, values: ValueCopies): StoredEntry {
  const attributes = new RecordAttributes();
  addAttributes((known, value) => attributes.add(known, value), lines, source, values);
  return StoredEntry.from(dn, attributes.list);
}

/** A record's attributes in the order read, values grouped by type and options as an Entry groups them. */
class RecordAttributes {
  readonly list: { readonly name: string; readonly values: AttributeValue[] }[] = [];
  private readonly keys: string[] = [];

  add(known: AttributeName, value: AttributeValue): void {
    const i = this.keys.indexOf(known.key); // a few dozen attributes: a scan costs less than a map
    if (i >= 0) this.list[i].values.push(value);
    else {
      this.keys.push(known.key);
      this.list.push({ name: known.stored, values: [value] });
    }
  }
}

/** A record's `attribute: value` lines into `add`; `check` sees each line's lower-case attribute first. */
function addAttributes(
  add: (known: AttributeName, value: AttributeValue) => void,
  lines: readonly Line[],
  source: string,
  values: ValueCopies,
  check?: (line: Line, attribute: string) => void,
): void {
  for (const line of lines) {
    const { attribute, known, kind, value } = splitLine(line, source);
    const lower = known.lower;
    check?.(line, lower);
    if (lower === 'dn') fail(source, line, 'second "dn:" in one record (missing blank line between entries?)');
    if (lower === 'changetype') fail(source, line, '"changetype:" must come right after "dn:"');
    if (kind === 'url') fail(source, line, `"${attribute}:<" URL values are not supported: inline the value as base64 ("${attribute}:: …")`);
    add(known, toValue(known.binary, kind, kind === 'text' ? values.copy(value) : value));
  }
}

function fail(source: string, line: Line, detail: string): never {
  throw new LdifError(source, line.number, detail);
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
    const at = (detail: string): never => {
      throw new LdifError(change.source, change.line, detail);
    };
    if (change.kind === 'add') {
      const first = entries.get(change.entry.dn.key);
      if (first) at(`duplicate entry "${change.entry.dn.text}" (first defined at ${first.source}:${first.line})`);
      entries.set(change.entry.dn.key, { entry: change.entry, line: change.line, source: change.source });
      continue;
    }
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
 * Copies of text values that keep no part of the LDIF text alive: V8 holds a substring of 13 or
 * more characters as a view on its whole source, so each value would keep the file in memory as
 * long as its entry. Short values repeat across entries (object classes, departments, flags):
 * those seen recently are shared instead of copied again.
 */
class ValueCopies {
  /**
   * The last value seen in each of a fixed number of slots, chosen by a hash of the text: no
   * allocation per value (a map emptied when full makes its tables again and again while a large
   * file loads, most of the load's garbage), and a frequent value stays until another displaces it.
   */
  private readonly recent: (string | undefined)[] = new Array<string | undefined>(4096).fill(undefined);

  copy(value: string): string {
    if (value.length > 32) return detached(value);
    let hash = 0x811c9dc5; // FNV-1a
    for (let i = 0; i < value.length; i++) hash = Math.imul(hash ^ value.charCodeAt(i), 0x01000193);
    const slot = (hash >>> 0) & 4095;
    const seen = this.recent[slot];
    if (seen === value) return seen;
    const copy = detached(value);
    this.recent[slot] = copy;
    return copy;
  }
}

/** What the records of one text share: value copies, and DNs that entries below them are built on. */
interface Sharing {
  readonly values: ValueCopies;
  readonly dns: KnownDns;
}

const sharing = (): Sharing => ({ values: new ValueCopies(), dns: new KnownDns() });

/**
 * The DNs of the records read so far, by text, for the records below them: a child's DN is its
 * own RDN on its parent's Dn, sharing the parent's RDN objects, so a large tree holds each
 * ancestor's RDNs once (the memory directory keeps these Dns) and parses one RDN per entry.
 * Bounded: parents usually come shortly before their children.
 */
class KnownDns {
  private readonly byText = new Map<string, Dn>();

  /** The DN built on a known parent, or undefined (no known parent, or text the full parse must judge). */
  parse(text: string): Dn | undefined {
    // The first comma whose remainder is a known DN ends the RDN, unless it was escaped: then the RDN does not parse alone.
    for (let comma = text.indexOf(','); comma > 0; comma = text.indexOf(',', comma + 1)) {
      const parent = this.byText.get(text.slice(comma + 1));
      if (parent === undefined) continue;
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
    if (this.byText.size >= 65_536) this.byText.clear();
    this.byText.set(dn.text, dn);
    return dn;
  }
}

/** A flat copy of a string (a JSON round trip: lossless, and the cheapest copy V8 offers). */
function detached(value: string): string {
  return value.length < 13 ? value : (JSON.parse(JSON.stringify(value)) as string);
}

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

/**
 * Attribute descriptions seen, checked once each and kept as flat copies: a slice of the LDIF text
 * given to a cache (the schema's keys by spelling) would keep the whole file in memory. Bounded,
 * as any text may be loaded.
 */
const attributeNames = new Map<string, AttributeName>();

function attributeName(text: string, line: Line, source: string): AttributeName {
  let known = attributeNames.get(text);
  if (known === undefined) {
    if (!ATTRIBUTE.test(text)) throw new LdifError(source, line.number, `invalid attribute description "${text}"`);
    if (attributeNames.size >= 4096) attributeNames.clear();
    const name = detached(text);
    const stored = withoutBinaryOption(name);
    known = { name, lower: name.toLowerCase(), stored, key: descriptionKey(stored), binary: syntaxOf(name) === 'binary' };
    attributeNames.set(name, known);
  }
  return known;
}

function splitLine(line: Line, source: string): { attribute: string; known: AttributeName; kind: ValueKind; value: string } {
  const colon = line.text.indexOf(':');
  // The line is not quoted: it may be a password whose colon was forgotten.
  if (colon <= 0) throw new LdifError(source, line.number, 'expected "attribute: value", found a line without one');
  const known = attributeName(line.text.slice(0, colon), line, source);
  const attribute = known.name;
  const text = line.text;
  let at = colon + 1;
  const marker = text.charCodeAt(at);
  const kind: ValueKind = marker === COLON ? 'base64' : marker === LESS_THAN ? 'url' : 'text';
  if (kind !== 'text') at++;
  if (kind !== 'base64') while (text.charCodeAt(at) === SPACE) at++;
  const value = kind === 'base64' ? text.slice(at).replace(/\s+/g, '') : text.slice(at);
  if (kind === 'base64' && (!BASE64.test(value) || value.length % 4 === 1)) {
    throw new LdifError(source, line.number, `invalid base64 value for "${attribute}"`);
  }
  return { attribute, known, kind, value };
}

function toValue(binary: boolean, kind: ValueKind, value: string): AttributeValue {
  if (kind !== 'base64') return binary ? Buffer.from(value, 'utf8') : value;
  const bytes = Buffer.from(value, 'base64');
  if (binary) return bytes;
  // Text that is not UTF-8 stays bytes rather than being silently corrupted by decoding.
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : bytes;
}

function decodeUtf8(base64: string, line: Line, source: string): string {
  const bytes = Buffer.from(base64, 'base64');
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new LdifError(source, line.number, 'base64 DN is not valid UTF-8');
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
