import type { Entry } from '../core/entry.js';
import { LdapError } from '../core/ldap-error.js';
import { normalise, valueText } from '../core/matching.js';
import { resultName } from '../core/result-codes.js';

/**
 * What `canopy doctor` counts while it streams a forest's entries, and the findings it derives.
 * Entries are not kept: memory is one small record per distinct alias value (and per distinct UPN
 * when the alias is another attribute), one counter per UPN suffix, and at most `listed` DNs per
 * finding.
 */

/** The attributes a synchronising application can map to its user ID (Cisco's choices). */
export const ALIAS_ATTRIBUTES = ['sAMAccountName', 'userPrincipalName', 'mail', 'employeeNumber', 'telephoneNumber'] as const;
export type AliasAttribute = (typeof ALIAS_ATTRIBUTES)[number];

export type Severity = 'blocking' | 'warning' | 'info';

export type Check =
  | 'service-account-refused'
  | 'unreadable-forest'
  | 'duplicate-alias'
  | 'missing-alias'
  | 'duplicate-upn'
  | 'unmapped-upn-suffix'
  | 'missing-sn'
  | 'entry-limit'
  | 'disabled-users'
  | 'sync-guard-tripped';

const CHECK_ORDER: readonly Check[] = [
  'service-account-refused',
  'unreadable-forest',
  'duplicate-alias',
  'missing-alias',
  'duplicate-upn',
  'unmapped-upn-suffix',
  'missing-sn',
  'entry-limit',
  'disabled-users',
  'sync-guard-tripped',
];
const SEVERITY_ORDER: readonly Severity[] = ['blocking', 'warning', 'info'];

export interface Finding {
  readonly check: Check;
  readonly severity: Severity;
  /** What it is about: `sAMAccountName=jdoe`, a UPN suffix, a search base. */
  readonly subject: string;
  readonly forests: readonly string[];
  /** Entries concerned. */
  readonly count: number;
  /** The first of their DNs (virtual tree), at most `listed`. */
  readonly dns: readonly string[];
  readonly message: string;
}

/** One forest's search base as read through the view. */
export interface BaseCount {
  readonly forest: string;
  readonly base: string;
  readonly entries: number;
  readonly users: number;
  readonly disabled: number;
  /** Why the read ended early; the counts cover what was read before. */
  readonly error?: string;
}

export interface TallyOptions {
  readonly alias: AliasAttribute;
  readonly maxEntries: number;
  /** DNs named per finding. */
  readonly listed: number;
  /**
   * `namespace.onDuplicate: priority` over the alias attribute: the router keeps the
   * higher-priority forest's entry above the mounts, so a value found once in each of several
   * forests is resolved there (still a warning: a sync reading each mount sees every one).
   */
  readonly resolvedAcrossForests: boolean;
}

/** The forest a tally is reading: its name and the virtual UPN suffixes it maps (lower case). */
export interface TallyForest {
  readonly name: string;
  readonly base: string;
  readonly upnSuffixes: ReadonlySet<string>;
}

const UPN = 'userPrincipalName';
const DISABLED = 'msDS-UserAccountDisabled';
const USER_CLASSES = new Set(['user', 'person', 'organizationalperson', 'inetorgperson']);
/** Classes of AD entries that carry `user`/`person` but are not people a sync imports. */
const NOT_USERS = new Set(['computer', 'contact']);

/** The attributes the doctor asks the view for. */
export function requestedAttributes(alias: AliasAttribute): string[] {
  return [...new Set(['objectClass', alias, 'sn', UPN, DISABLED])];
}

/** A user: objectClass user or person (or its subclasses), and neither computer nor contact. */
export function isUser(entry: Entry): boolean {
  let user = false;
  for (const v of entry.get('objectClass')?.values ?? []) {
    const oc = valueText(v).toLowerCase();
    if (NOT_USERS.has(oc)) return false;
    if (USER_CLASSES.has(oc)) user = true;
  }
  return user;
}

/** A count and the first few DNs. */
class Sample {
  count = 0;
  readonly dns: string[] = [];

  constructor(private readonly listed: number) {}

  add(dn: string): void {
    this.count++;
    if (this.dns.length < this.listed) this.dns.push(dn);
  }
}

/** One distinct value: where it was first seen; the rest only once it repeats. */
interface ValueRecord {
  readonly dn: string;
  readonly forest: string;
  repeats?: { readonly perForest: Map<string, number>; readonly dns: string[] };
}

/** Normalised values of one attribute across forests, for duplicates. */
class ValueTally {
  private readonly seen = new Map<string, ValueRecord>();

  constructor(
    readonly attribute: string,
    private readonly listed: number,
  ) {}

  add(entry: Entry, forest: string): void {
    const values = entry.get(this.attribute)?.values ?? [];
    // A value repeated within one entry is still one user.
    const keys = new Set(values.map((v) => normalise(this.attribute, v)));
    for (const key of keys) {
      const record = this.seen.get(key);
      if (record === undefined) {
        this.seen.set(key, { dn: entry.dn.text, forest });
        continue;
      }
      record.repeats ??= { perForest: new Map([[record.forest, 1]]), dns: [record.dn] };
      record.repeats.perForest.set(forest, (record.repeats.perForest.get(forest) ?? 0) + 1);
      if (record.repeats.dns.length < this.listed) record.repeats.dns.push(entry.dn.text);
    }
  }

  *duplicates(): Generator<{ value: string; perForest: ReadonlyMap<string, number>; dns: readonly string[] }> {
    for (const [value, record] of this.seen) if (record.repeats) yield { value, ...record.repeats };
  }
}

interface ForestSamples {
  readonly missingAlias: Sample;
  readonly missingSn: Sample;
  readonly disabled: Sample;
  /** Virtual UPN suffix (lower case) that the forest does not map → its users. */
  readonly unmappedUpn: Map<string, Sample>;
}

/** Accumulates what the doctor reads, forest after forest, and turns it into findings. */
export class DoctorTally {
  private readonly aliases: ValueTally;
  /** UPNs, when the alias is another attribute (otherwise the alias tally covers them). */
  private readonly upns?: ValueTally;
  private readonly forests = new Map<string, ForestSamples>();
  private readonly bases: BaseCount[] = [];

  constructor(private readonly options: TallyOptions) {
    this.aliases = new ValueTally(options.alias, options.listed);
    if (options.alias !== UPN) this.upns = new ValueTally(UPN, options.listed);
  }

  /** Reads one forest's stream to its end; a failure ends the forest's read and is recorded. */
  async read(forest: TallyForest, entries: AsyncIterable<Entry>): Promise<void> {
    const samples: ForestSamples = {
      missingAlias: new Sample(this.options.listed),
      missingSn: new Sample(this.options.listed),
      disabled: new Sample(this.options.listed),
      unmappedUpn: new Map(),
    };
    this.forests.set(forest.name, samples);
    let total = 0;
    let users = 0;
    let error: string | undefined;
    try {
      for await (const entry of entries) {
        total++;
        if (!isUser(entry)) continue;
        users++;
        this.user(entry, forest, samples);
      }
    } catch (err) {
      error = err instanceof LdapError ? `${resultName(err.code)} (${err.code}): ${err.message}` : (err as Error).message;
    }
    this.bases.push({
      forest: forest.name,
      base: forest.base,
      entries: total,
      users,
      disabled: samples.disabled.count,
      ...(error !== undefined && { error }),
    });
  }

  private user(entry: Entry, forest: TallyForest, samples: ForestSamples): void {
    const dn = entry.dn.text;
    if ((entry.get(this.options.alias)?.values.length ?? 0) > 0) this.aliases.add(entry, forest.name);
    else samples.missingAlias.add(dn);
    if (!entry.has('sn')) samples.missingSn.add(dn);
    if (entry.get(DISABLED)?.values.some((v) => valueText(v).toUpperCase() === 'TRUE')) samples.disabled.add(dn);
    const upn = entry.get(UPN)?.values[0];
    if (upn === undefined) return;
    this.upns?.add(entry, forest.name);
    const text = valueText(upn);
    const at = text.lastIndexOf('@');
    const suffix = at < 0 ? '' : text.slice(at + 1).toLowerCase();
    if (forest.upnSuffixes.has(suffix)) return;
    let sample = samples.unmappedUpn.get(suffix);
    if (sample === undefined) samples.unmappedUpn.set(suffix, (sample = new Sample(this.options.listed)));
    sample.add(dn);
  }

  /** The search bases in reading order. */
  baseCounts(): readonly BaseCount[] {
    return this.bases;
  }

  /** Every finding, blocking first, then by check and subject. */
  findings(): Finding[] {
    const { alias, maxEntries } = this.options;
    const upnBlocks: Severity = alias === UPN ? 'blocking' : 'warning';
    const out: Finding[] = [];
    for (const b of this.bases) {
      if (b.error !== undefined) {
        out.push({
          check: 'unreadable-forest',
          severity: 'blocking',
          subject: b.base,
          forests: [b.forest],
          count: b.entries,
          dns: [],
          message: `the search failed after ${b.entries} entries: ${b.error}`,
        });
      }
      if (b.users > maxEntries) {
        out.push({
          check: 'entry-limit',
          severity: 'warning',
          subject: b.base,
          forests: [b.forest],
          count: b.users,
          dns: [],
          message: `more users under one search base than ${maxEntries}, a ceiling of common sync clients`,
        });
      }
    }
    out.push(...this.duplicateFindings(this.aliases, 'duplicate-alias', 'blocking'));
    if (this.upns) out.push(...this.duplicateFindings(this.upns, 'duplicate-upn', upnBlocks));
    for (const [forest, s] of this.forests) {
      const list = (check: Check, severity: Severity, subject: string, sample: Sample, message: string): void => {
        if (sample.count > 0) out.push({ check, severity, subject, forests: [forest], count: sample.count, dns: sample.dns, message });
      };
      list('missing-alias', 'blocking', alias, s.missingAlias, `users without ${alias}: the application cannot name them`);
      list('missing-sn', 'warning', 'sn', s.missingSn, 'users without sn: typical sync clients do not import them');
      for (const [suffix, sample] of s.unmappedUpn) {
        const what = suffix === '' ? 'have no @suffix' : `end in @${suffix}, which no upnSuffixes entry of forest ${forest} maps`;
        list('unmapped-upn-suffix', upnBlocks, `@${suffix}`, sample, `UPNs that ${what}: logins by UPN fail`);
      }
      list('disabled-users', 'info', 'userAccountControl 0x2', s.disabled, 'disabled users (a sync filter usually leaves them out)');
    }
    return out.sort(
      (a, b) =>
        SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
        CHECK_ORDER.indexOf(a.check) - CHECK_ORDER.indexOf(b.check) ||
        a.subject.localeCompare(b.subject),
    );
  }

  private *duplicateFindings(tally: ValueTally, check: Check, severity: Severity): Generator<Finding> {
    for (const d of tally.duplicates()) {
      const forests = [...d.perForest.keys()];
      const count = [...d.perForest.values()].reduce((a, b) => a + b, 0);
      const oncePerForest = [...d.perForest.values()].every((n) => n === 1);
      const resolved = check === 'duplicate-alias' && oncePerForest && this.options.resolvedAcrossForests;
      const where = oncePerForest ? `in ${forests.length} forests (${forests.join(', ')})` : `${count} times (${forests.join(', ')})`;
      yield {
        check,
        severity: resolved ? 'warning' : severity,
        subject: `${tally.attribute}=${d.value}`,
        forests,
        count,
        dns: d.dns,
        message: resolved
          ? `${where}; onDuplicate: priority returns only the highest-priority forest's entry above the mounts`
          : `${where}: the value must name one user`,
      };
    }
  }
}
