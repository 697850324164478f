import { Dn } from '../../core/dn.js';
import { Entry, type AttributeValue } from '../../core/entry.js';
import { LdapError } from '../../core/ldap-error.js';
import { withoutBinaryOption } from '../../core/matching.js';
import { syntaxOf } from '../../core/schema.js';

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

/** Parses RFC 2849 LDIF content (entries, not change records). */
export function parseLdif(text: string, source: string): LdifRecord[] {
  const records: LdifRecord[] = [];
  const values = new ValueCopies();
  let block: Line[] = [];
  let first = true;
  const flush = (): void => {
    if (block.length === 0) return;
    if (first && /^version:/i.test(block[0].text)) {
      const v = block[0].text.slice('version:'.length).trim();
      if (v !== '1') throw new LdifError(source, block[0].number, `unsupported LDIF version "${v}"`);
      block = block.slice(1);
    }
    first = false;
    if (block.length > 0) records.push(parseRecord(block, source, values));
    block = [];
  };
  for (const line of unfold(text, source)) {
    if (line.text === '') flush();
    else block.push(line);
  }
  flush();
  return records;
}

/** Splits into logical lines: continuation lines (leading space) joined, comments dropped. */
function* unfold(text: string, source: string): Generator<Line> {
  const raw = text.split(/\r?\n/);
  let current: { parts: string[]; number: number; comment: boolean } | undefined;
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i];
    if (l.startsWith(' ')) {
      if (!current && l.trim() === '') {
        yield { text: '', number: i + 1 }; // stray spaces between records read as a blank line
        continue;
      }
      if (!current) throw new LdifError(source, i + 1, 'continuation line without a line to continue');
      current.parts.push(l.slice(1));
      continue;
    }
    if (current && !current.comment) yield { text: current.parts.join(''), number: current.number };
    current = undefined;
    if (l === '') yield { text: '', number: i + 1 };
    else current = { parts: [l], number: i + 1, comment: l.startsWith('#') };
  }
  if (current && !current.comment) yield { text: current.parts.join(''), number: current.number };
}

function parseRecord(lines: readonly Line[], source: string, values: ValueCopies): LdifRecord {
  const fail = (line: Line, detail: string): never => {
    throw new LdifError(source, line.number, detail);
  };
  const [dnLine, ...rest] = lines;
  const head = splitLine(dnLine, source);
  if (head.attribute.toLowerCase() !== 'dn') fail(dnLine, `expected "dn:", found "${head.attribute}:"`);
  const dnText = head.kind === 'base64' ? decodeUtf8(head.value, dnLine, source) : detached(head.value);
  let dn: Dn;
  try {
    dn = Dn.parse(dnText);
  } catch (err) {
    return fail(dnLine, err instanceof LdapError ? err.message : `invalid DN "${dnText}"`);
  }
  const entry = new Entry(dn);
  for (const line of rest) {
    const { attribute, kind, value } = splitLine(line, source);
    const lower = attribute.toLowerCase();
    if (lower === 'changetype' || lower === 'control') {
      fail(line, `"${attribute}:" records are not supported: only LDIF content (entries) can be loaded`);
    }
    if (lower === 'dn') fail(line, 'second "dn:" in one record (missing blank line between entries?)');
    if (kind === 'url') fail(line, `"${attribute}:<" URL values are not supported: inline the value as base64 ("${attribute}:: …")`);
    entry.addValues(withoutBinaryOption(attribute), [toValue(attribute, kind, kind === 'text' ? values.copy(value) : value)]);
  }
  return { entry, line: dnLine.number };
}

/**
 * Copies of text values that keep no part of the LDIF text alive: V8 holds a substring of 13 or
 * more characters as a view on its whole source, so each value would keep the file in memory as
 * long as its entry. Short values repeat across entries (object classes, departments, flags):
 * those seen recently are shared instead of copied again.
 */
class ValueCopies {
  private readonly recent = new Map<string, string>();

  copy(value: string): string {
    if (value.length > 32) return detached(value);
    let copy = this.recent.get(value);
    if (copy === undefined) {
      // Small: the frequent values come back soon, and a large map costs more collection work than it saves.
      if (this.recent.size >= 1024) this.recent.clear();
      copy = detached(value);
      this.recent.set(copy, copy);
    }
    return copy;
  }
}

/** A flat copy of a string (a JSON round trip: lossless, and the cheapest copy V8 offers). */
function detached(value: string): string {
  return value.length < 13 ? value : (JSON.parse(JSON.stringify(value)) as string);
}

type ValueKind = 'text' | 'base64' | 'url';

function splitLine(line: Line, source: string): { attribute: string; kind: ValueKind; value: string } {
  const colon = line.text.indexOf(':');
  // The line is not quoted: it may be a password whose colon was forgotten.
  if (colon <= 0) throw new LdifError(source, line.number, 'expected "attribute: value", found a line without one');
  const attribute = line.text.slice(0, colon);
  if (!ATTRIBUTE.test(attribute)) throw new LdifError(source, line.number, `invalid attribute description "${attribute}"`);
  let rest = line.text.slice(colon + 1);
  let kind: ValueKind = 'text';
  if (rest.startsWith(':')) {
    kind = 'base64';
    rest = rest.slice(1);
  } else if (rest.startsWith('<')) {
    kind = 'url';
    rest = rest.slice(1);
  }
  const value = kind === 'base64' ? rest.replace(/\s+/g, '') : rest.replace(/^ +/, '');
  if (kind === 'base64' && (!BASE64.test(value) || value.length % 4 === 1)) {
    throw new LdifError(source, line.number, `invalid base64 value for "${attribute}"`);
  }
  return { attribute, kind, value };
}

function toValue(attribute: string, kind: ValueKind, value: string): AttributeValue {
  const binary = syntaxOf(attribute) === 'binary';
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
