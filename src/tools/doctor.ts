import { LdapDirectory } from '../backends/ldap/ldap-directory.js';
import type { LoadedConfig } from '../config/load.js';
import { searchContext, type SearchRequest } from '../core/directory.js';
import { Dn } from '../core/dn.js';
import type { Identity } from '../core/identity.js';
import type { Logger } from '../observability/logger.js';
import { guardRecords, loadState, type GuardState } from '../router/sync-guard.js';
import { assembleAccess, assembleRouter } from '../server.js';
import { DoctorTally, requestedAttributes, type AliasAttribute, type BaseCount, type Finding } from './doctor-tally.js';

/** A documented ceiling of common sync clients (users per synchronisation agreement). */
export const DEFAULT_MAX_ENTRIES = 80_000;
/** DNs named per finding; the count says how many there are. */
export const DEFAULT_LISTED = 20;

export interface DoctorOptions {
  readonly alias: AliasAttribute;
  readonly maxEntries: number;
  /** Whose view to read: a configured account's DN or a forest user's; see `readerFor`. */
  readonly as?: string;
  readonly listed?: number;
  readonly logger: Logger;
}

export interface DoctorReport {
  readonly config: string;
  readonly aliasAttribute: AliasAttribute;
  readonly maxEntries: number;
  /** Whose view was read. */
  readonly readAs: string;
  readonly bases: readonly BaseCount[];
  readonly findings: readonly Finding[];
  /** The sync deletion guard's references and pending drops (sync.guard.stateFile), when kept in a file. */
  readonly syncGuard?: GuardState;
  readonly blocking: number;
  readonly warnings: number;
}

/** A request the doctor cannot serve as asked (exit status 2, like a usage error). */
export class DoctorUsageError extends Error {}

/**
 * `canopy doctor`: reads every forest's mount through the stack `canopy serve` builds (namespace
 * stage with the forest's filter and rewriting, router, access rules as the reading identity),
 * one forest after the other so the report is the same from run to run. Entries stream through
 * (the ldap backend pages upstream); only the tally's counters stay in memory.
 */
export async function runDoctor(config: LoadedConfig, options: DoctorOptions): Promise<DoctorReport> {
  const reader = readerFor(config, options.as);
  const { forests, router } = await assembleRouter(config, options.logger);
  const directory = reader.identity ? assembleAccess(config, router) : router;
  const unique = (config.namespace?.uniqueAttributes ?? []).map((a) => a.toLowerCase());
  const tally = new DoctorTally({
    alias: options.alias,
    maxEntries: options.maxEntries,
    listed: options.listed ?? DEFAULT_LISTED,
    resolvedAcrossForests: config.namespace?.onDuplicate === 'priority' && unique.includes(options.alias.toLowerCase()),
  });
  const ctx = searchContext({
    signal: new AbortController().signal,
    connectionId: 0,
    boundDn: reader.identity?.dn.text ?? '',
    ...(reader.identity && { identity: reader.identity }),
  });
  try {
    for (const f of forests) {
      const request: SearchRequest = {
        base: f.mount,
        scope: 'sub',
        filter: { type: 'present', attribute: 'objectClass' },
        attributes: requestedAttributes(options.alias),
        typesOnly: false,
        sizeLimit: 0,
        timeLimit: 0,
      };
      const forest = { name: f.name, base: f.mount.text, upnSuffixes: new Set(f.view.upnToUpstream.keys()) };
      await tally.read(forest, directory.search(request, ctx));
    }
  } finally {
    await directory.close();
  }
  const guard = config.sync.guard.stateFile === undefined ? undefined : loadState(config.sync.guard.stateFile, options.logger);
  const findings = [...refusedAccountFindings(config, forests), ...tally.findings(), ...(guard ? guardFindings(guard) : [])];
  return {
    config: config.source,
    aliasAttribute: options.alias,
    maxEntries: options.maxEntries,
    readAs: reader.label,
    bases: tally.baseCounts(),
    findings,
    ...(guard && { syncGuard: guard }),
    blocking: findings.filter((f) => f.severity === 'blocking').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
  };
}

/**
 * A forest whose service account was refused blocks, and says so apart from the failed read it
 * causes: the fix is the password, not the servers.
 */
function refusedAccountFindings(config: LoadedConfig, forests: readonly { readonly name: string; readonly backend: unknown }[]): Finding[] {
  return forests.flatMap((f, i): Finding[] => {
    const refusal = f.backend instanceof LdapDirectory ? f.backend.serviceAccountRefused() : undefined;
    const forest = config.forests[i];
    if (refusal === undefined || forest.backend !== 'ldap') return [];
    return [{ check: 'service-account-refused', severity: 'blocking', subject: forest.bind?.dn ?? '', forests: [f.name], count: 0, dns: [], message: refusal }];
  });
}

/** A drop waiting to be accepted blocks: every sync of that shape fails until an operator decides. */
function guardFindings(state: GuardState): Finding[] {
  const findings: Finding[] = [];
  for (const { shape, forest, record: r } of guardRecords(state)) {
    if (r.pending === undefined || r.reference === undefined) continue;
    findings.push({
      check: 'sync-guard-tripped',
      severity: 'blocking',
      subject: `${shape.description.filter} under ${shape.description.base} as ${shape.description.identity}`,
      forests: [forest],
      count: r.reference.count - r.pending.count,
      dns: [],
      message:
        `the last complete sync (${r.reference.at}) had ${r.reference.count} entries; ${r.pending.count} since (${r.pending.at}): ` +
        `syncs fail until the drop is fixed or accepted (canopy guard accept --forest ${forest})`,
    });
  }
  return findings;
}

interface Reader {
  readonly label: string;
  /** Absent: below the access rules, as the forests' service accounts read. */
  readonly identity?: Identity & { readonly dn: Dn };
}

/**
 * Whose view the doctor reads. `--as` names a configured account or a DN within a forest's mount
 * (no password: whoever runs the doctor holds the configuration and its secrets). Without it: the
 * only configured account, which is the sync application's in the usual set-up; with no account,
 * the forests' service accounts below the access rules; with several, the caller must choose.
 */
function readerFor(config: LoadedConfig, as: string | undefined): Reader {
  const accounts = config.accounts.map((a) => Dn.parse(a.dn));
  if (as === undefined) {
    if (accounts.length === 1) return { label: accounts[0].text, identity: { kind: 'account', dn: accounts[0] } };
    if (accounts.length === 0) return { label: "the forests' service accounts (no access rules applied)" };
    throw new DoctorUsageError(`several accounts are configured; choose whose view to read with --as (${accounts.map((d) => d.text).join('; ')})`);
  }
  let dn: Dn;
  try {
    dn = Dn.parse(as);
  } catch {
    throw new DoctorUsageError(`--as: "${as}" is not a DN`);
  }
  const account = accounts.find((a) => a.equals(dn));
  if (account) return { label: account.text, identity: { kind: 'account', dn: account } };
  const forest = config.forests.find((f) => dn.isWithin(Dn.parse(f.mount ?? f.base)));
  if (forest) return { label: `${dn.text} (forest ${forest.name})`, identity: { kind: 'user', forest: forest.name, dn, login: dn.text } };
  throw new DoctorUsageError(`--as: "${as}" is neither a configured account nor within a forest's mount`);
}
