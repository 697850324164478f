import { readFile } from 'node:fs/promises';
import type { Dn } from '../core/dn.js';
import { attributeKey } from '../core/schema.js';
import { LdifError, parseLdif, type LdifRecord } from '../backends/memory/ldif.js';
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

export async function readSources(files: readonly string[]): Promise<LdifSource[]> {
  return Promise.all(files.map(async (name) => ({ name, text: await readFile(name, 'utf8') })));
}

/**
 * Splits LDIF sources into naming contexts: an entry whose parent is not in the data starts one
 * (its suffix), every other entry belongs to the suffix above it. A gap (an entry whose parent is
 * missing below a suffix) is reported by the memory directory's load with file and line.
 */
export function forestsFromSources(sources: readonly LdifSource[]): MockForestData[] {
  const records = sources.flatMap((s) => parseLdif(s.text, s.name).map((r) => ({ ...r, source: s.name })));
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
