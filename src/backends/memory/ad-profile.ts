import type { Dn } from '../../core/dn.js';
import { Entry, type Attribute } from '../../core/entry.js';
import { integerValue } from '../../core/matching.js';
import { attributeKey } from '../../core/schema.js';
import { StoredEntry } from './stored-entry.js';

/** How the memory directory imitates an Active Directory domain controller (`profile: ad`). */
export interface AdProfile {
  /** Values of one attribute returned at once; more come in ranges (`member;range=0-1499`). AD's default is 1500. */
  readonly maxValRange: number;
  /** Subtree searches at the domain root end with continuation references, as AD's do. */
  readonly referrals?: boolean;
}

export const AD_DEFAULTS: AdProfile = { maxValRange: 1500 };

/** A requested value window, `member;range=1500-*` → { low: 1500, high: undefined }. */
interface RangeWindow {
  readonly low: number;
  readonly high: number | undefined;
}

const RANGE = /;range=(\d+)-(\d+|\*)$/i;

/** The range windows a search asks for, by attribute type key. */
export function rangeRequests(attributes: readonly string[]): ReadonlyMap<string, RangeWindow> {
  const windows = new Map<string, RangeWindow>();
  for (const a of attributes) {
    const m = RANGE.exec(a);
    if (!m) continue;
    windows.set(attributeKey(a), { low: Number(m[1]), high: m[2] === '*' ? undefined : Number(m[2]) });
  }
  return windows;
}

/**
 * The entry as AD returns it: an attribute asked for with a range option comes as that window of
 * its values, any other with more than `maxValRange` values as its first window; the option's
 * upper bound is `*` when the window holds the last value. The stored entry is never changed.
 */
export function withRanges(entry: Entry, windows: ReadonlyMap<string, RangeWindow>, maxValRange: number): Entry {
  // Nearly every entry: no window asked for and no attribute past the limit.
  if (windows.size === 0 && entry instanceof StoredEntry && entry.mostValues() <= maxValRange) return entry;
  let out: Attribute[] | undefined;
  let i = 0;
  for (const a of entry.attributes()) {
    const ranged = windows.size > 0 || a.values.length > maxValRange ? rangedAttribute(a, windows, maxValRange) : a;
    if (ranged !== a && out === undefined) out = [...entry.attributes()].slice(0, i);
    if (out && ranged) out.push(ranged);
    i++;
  }
  return out ? new Entry(entry.dn, out) : entry;
}

function rangedAttribute(a: Attribute, windows: ReadonlyMap<string, RangeWindow>, maxValRange: number): Attribute | undefined {
  const count = a.values.length;
  const window = windows.get(attributeKey(a.name));
  if (!window && count <= maxValRange) return a;
  const low = window?.low ?? 0;
  // AD answers a window starting past the last value with no values for the attribute.
  if (low >= count && count > 0) return undefined;
  const high = Math.min(window?.high ?? Infinity, low + maxValRange - 1, count - 1);
  const upper = high >= count - 1 ? '*' : String(high);
  return { name: `${a.name};range=${low}-${upper}`, values: a.values.slice(low, high + 1) };
}

/**
 * The continuation references AD returns from a subtree search at its domain root, for the
 * partitions below it that the domain controller serves as other naming contexts: the forest and
 * domain DNS zones and the configuration partition. None for a base that is not all `DC=` RDNs.
 */
export function domainRootReferences(domain: Dn): string[][] {
  if (domain.isRoot || !domain.rdns.every((r) => r.avas.length === 1 && attributeKey(r.avas[0].type) === 'dc')) return [];
  const dns = domain.rdns.map((r) => r.avas[0].value).join('.');
  return [
    [`ldap://ForestDnsZones.${dns}/DC=ForestDnsZones,${domain.text}`],
    [`ldap://DomainDnsZones.${dns}/DC=DomainDnsZones,${domain.text}`],
    [`ldap://${dns}/CN=Configuration,${domain.text}`],
  ];
}

const USN_ATTRIBUTES = ['uSNChanged', 'uSNCreated'];

/** The highest update sequence number in loaded data, so new changes number after it. */
export function highestUsn(entry: Entry, current: bigint): bigint {
  let max = current;
  for (const name of USN_ATTRIBUTES) {
    const v = entry.get(name)?.values[0];
    const n = v === undefined ? undefined : integerValue(v.toString());
    if (n !== undefined && n > max) max = n;
  }
  return max;
}

/** AD's GeneralizedTime spelling, e.g. `20240131120000.0Z`. */
export function adTime(date = new Date()): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + '.0Z';
}
