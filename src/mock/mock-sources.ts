import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dn } from '../core/dn.js';
import { attributeKey } from '../core/schema.js';
import { applyLdifChanges, bytesOf, LdifError, parseLdifChanges, type LdifChange, type LdifRecord, type LdifText } from '../backends/memory/ldif.js';
import { ldifFile } from '../backends/memory/ldif-file.js';
import type { LdifSource } from '../backends/memory/memory-directory.js';

/** One naming context found in the data: its suffix and the records below it. */
export interface MockForestData {
  readonly name: string;
  readonly suffix: Dn;
  readonly records: (LdifRecord & { readonly source: string })[];
  /** The DNS name of a `dc=` suffix (`avvid.info`), else undefined. */
  readonly dnsName?: string;
  /** UPN suffixes the data's users have, lower case. */
  readonly upnSuffixes: ReadonlySet<string>;
}

/** An LDIF source read into its change records (content records read as adds). */
export interface ParsedSource {
  readonly name: string;
  readonly changes: readonly (LdifChange & { readonly source: string })[];
}

/** LDIF sources to load, parsed, and those left out because they configure a server rather than hold data. */
export interface MockSources {
  readonly sources: ParsedSource[];
  readonly skipped: readonly string[];
}

/**
 * Reads LDIF files; a folder stands for its `*.ldif` files in name order (as slapd images and
 * bootstrap folders number them: 01-users.ldif, 02-groups.ldif), not its subfolders.
 */
export async function readSources(paths: readonly string[]): Promise<MockSources> {
  const files: string[] = [];
  for (const path of paths) {
    if (!(await stat(path)).isDirectory()) files.push(path);
    else {
      const names = (await readdir(path, { withFileTypes: true })).filter((d) => !d.isDirectory() && /\.ldif$/i.test(d.name)).map((d) => d.name);
      files.push(...names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((n) => join(path, n)));
    }
  }
  // Read piece by piece as they are parsed: a large file is never held whole, as text or as bytes.
  return withoutServerConfiguration(files.map((name) => ({ name, text: ldifFile(name) })));
}

/**
 * Parses LDIF sources, leaving out those that configure a server: records for `cn=config`
 * (slapd's configuration: modules, databases, access, its schema under `cn=schema,cn=config`) or
 * for a subschema entry (`cn=schema`, `cn=Subschema`). Such files often are templates
 * (`olcDatabase={1}{{ BACKEND }},cn=config`) whose DNs do not even parse: a source that fails to
 * parse, or names such an entry, is judged from its `dn:` lines as written (a data file's are
 * looked at only through its parsed records, rather than in a pass of their own).
 */
export function withoutServerConfiguration(sources: readonly LdifSource[]): MockSources {
  const kept: ParsedSource[] = [];
  const skipped: string[] = [];
  for (const source of sources) {
    let changes: (LdifChange & { readonly source: string })[] | undefined;
    let failure: unknown;
    try {
      changes = parseLdifChanges(source.text, source.name);
    } catch (err) {
      failure = err;
    }
    const suspect = changes === undefined || changes.some((c) => configuresServer((c.kind === 'add' ? c.entry.dn : c.dn).text));
    const dn = suspect ? firstDn(source.text, configuresServer) : undefined;
    if (dn !== undefined) skipped.push(`${source.name}: configures a server ("${dn.trim()}"), not data: skipped`);
    else if (changes === undefined) throw failure;
    else kept.push({ name: source.name, changes });
  }
  return { sources: kept, skipped };
}

/** The first value of a text's `dn:` lines (base64 ones decoded) that `wanted` accepts, read line by line from the bytes. */
function firstDn(text: LdifText, wanted: (dn: string) => boolean): string | undefined {
  const bytes = bytesOf(text);
  const length = bytes.length;
  for (let start = 0; start < length; ) {
    let end = start;
    while (end < length && bytes[end] !== LF) end++;
    if ((bytes[start] | 0x20) === D && (bytes[start + 1] | 0x20) === N && bytes[start + 2] === COLON) {
      const line = bytes.toString('utf8', start + 3, end).replace(/\r$/, '');
      const dn = line.startsWith(':') ? Buffer.from(line.slice(1).trim(), 'base64').toString('utf8') : line.replace(/^ */, '');
      if (wanted(dn)) return dn;
    }
    start = end + 1;
  }
  return undefined;
}

const LF = 0x0a;
const D = 0x64;
const N = 0x6e;
const COLON = 0x3a;

function configuresServer(dn: string): boolean {
  // The last RDN alone, spaces dropped: not every RDN of every entry of a large file.
  const comma = dn.lastIndexOf(',');
  const last = dn.slice(comma + 1).toLowerCase().replace(/\s+/g, '');
  return last === 'cn=config' || (comma < 0 && (last === 'cn=schema' || last === 'cn=subschema'));
}

/**
 * Splits LDIF sources into naming contexts, once their change records are applied in order: an
 * entry whose parent is not in the data starts one (its suffix), every other entry belongs to the
 * suffix above it. A gap (an entry whose parent is missing below a suffix) is reported by the
 * memory directory's load with file and line.
 */
export function forestsFromSources(sources: readonly ParsedSource[]): MockForestData[] {
  const records = applyLdifChanges(sources.flatMap((s) => s.changes));
  records.sort((a, b) => a.entry.dn.depth - b.entry.dn.depth);
  const forests: (MockForestData & { upnSuffixes: Set<string> })[] = [];
  const names = new Set<string>();
  for (const record of records) {
    const dn = record.entry.dn;
    let forest = forests.find((f) => dn.isWithin(f.suffix));
    if (!forest) {
      const dnsName = dnsNameOf(dn);
      forest = { name: uniqueName(dnsName ?? dn.rdns[0]?.avas[0]?.value ?? 'root', names), suffix: dn, records: [], dnsName, upnSuffixes: new Set() };
      forests.push(forest);
    }
    forest.records.push(record);
    const upn = record.entry.get('userPrincipalName')?.values[0];
    const at = typeof upn === 'string' ? upn.lastIndexOf('@') : -1;
    if (at > 0) forest.upnSuffixes.add((upn as string).slice(at + 1).toLowerCase());
  }
  if (forests.length === 0) throw new LdifError(sources[0]?.name ?? 'ldif', 1, 'no entries to serve');
  return forests;
}

/** Whether the data looks like Active Directory's (so `profile: ad` is the default). */
export function looksLikeAd(forests: readonly MockForestData[]): boolean {
  return forests.some((f) =>
    f.records.some((r) => r.entry.has('sAMAccountName') || r.entry.has('objectGUID') || r.entry.has('userAccountControl')),
  );
}

function dnsNameOf(dn: Dn): string | undefined {
  const labels = dn.rdns.map((r) => (r.avas.length === 1 && attributeKey(r.avas[0].type) === 'dc' ? r.avas[0].value : undefined));
  return labels.length > 0 && labels.every((l) => l !== undefined) ? labels.join('.').toLowerCase() : undefined;
}

/** A forest name (letters, digits, `. _ -`) not used yet. */
function uniqueName(wanted: string, used: Set<string>): string {
  const base = wanted.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'forest';
  let name = base;
  for (let i = 2; used.has(name); i++) name = `${base}-${i}`;
  used.add(name);
  return name;
}
