import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword, MIN_COST_LN } from '../core/scrypt-hash.js';
import { MemoryDirectory } from '../backends/memory/memory-directory.js';
import { entriesToLdif } from '../backends/memory/ldif.js';
import { parseConfig, validateConfig, type LoadedConfig } from '../config/load.js';
import { Dn } from '../core/dn.js';
import type { TlsConfig } from '../config/schema.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { startServer } from '../server.js';
import { FaultSwitches } from './faults.js';
import { MockClock } from './mock-clock.js';
import { createMockCertificates, type MockCertificates } from './mock-tls.js';
import { mockAccess, passwordAttributes } from './mock-access.js';
import { Journal } from './journal.js';
import { startFaultEndpoint, type FaultEndpoint } from './fault-endpoint.js';
import { forestsFromSources, looksLikeAd, readSources, withoutServerConfiguration, type MockForestData } from './mock-sources.js';

export type MockProfile = 'ad' | 'plain';

export interface MockDirectoryOptions {
  /** LDIF content, one string per source. With neither `ldif` nor `files` nor `config`: the bundled AD-like fixtures. */
  readonly ldif?: string | readonly string[];
  /**
   * LDIF files or folders (their `*.ldif` files in name order) to serve. Suffixes come from the
   * data: an entry whose parent is not in it starts a naming context. Change records apply in
   * order; files that configure a server (`cn=config`, `cn=schema`) are skipped (`dir.warnings`).
   */
  readonly files?: readonly string[];
  /**
   * A whole configuration (YAML text) instead of `ldif`/`files`, e.g. several memory forests behind
   * a namespace; its `listen` is replaced by `host`/`port`, relative files resolve against `baseDir`.
   */
  readonly config?: string;
  readonly baseDir?: string;
  /** Default: `ad` when the data looks like Active Directory's (sAMAccountName, objectGUID, userAccountControl). With `config`, each forest's `profile` decides. */
  readonly profile?: MockProfile;
  /** Under `profile: ad`: values of one attribute returned at once (default 1500). */
  readonly maxValRange?: number;
  /**
   * Under `profile: ad`: AD's MaxPageSize (default 1000): an unpaged search returns that many
   * entries, then sizeLimitExceeded; larger pages are served at this size.
   */
  readonly maxPageSize?: number;
  /**
   * Under `profile: ad`: subtree searches at a domain root end with AD's continuation references to
   * its DNS zones and configuration partition. With `config`, each forest's `referrals` decides.
   */
  readonly referrals?: boolean;
  /**
   * Refuse simple binds without TLS with strongerAuthRequired (8), as domain controllers that
   * require LDAP signing do. Without `tls` (or a `tls` section in `config`) every simple bind is
   * refused then: for testing how a client handles it.
   */
  readonly requireTls?: boolean;
  /**
   * Serve LDAPS (and StartTLS on the plain port) with a CA and a server certificate generated at
   * start, for localhost, 127.0.0.1, ::1 and `host`: clients trust `dir.caPem` / `dir.caFile`.
   */
  readonly tls?: boolean;
  /** Serve LDAPS and StartTLS with this certificate instead (PEM files; `tls` is then implied). */
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  /**
   * PEM file of the CAs that sign client certificates (mutual TLS): clients presenting one it
   * verifies can bind with SASL EXTERNAL as the certificate's subject (an entry of the data, or the
   * administrator's DN), or as `tlsSubjectMapping` maps it. Needs TLS (`tls` or `tlsCertFile`).
   */
  readonly tlsClientCa?: string;
  /** Default `allow` (clients without a certificate are served too); `demand` refuses their handshake. */
  readonly tlsVerifyClient?: 'allow' | 'demand';
  /** Rules from a certificate's subject to the DN it binds as, as `tls.subjectMapping` in a configuration. */
  readonly tlsSubjectMapping?: readonly { readonly subject: string; readonly dn: string }[];
  /** The LDAPS port when TLS is on. Default 0: a free port. */
  readonly ldapsPort?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /**
   * Anonymous clients read everything but password attributes, as many OpenLDAP-based test
   * images allow. Default: they see only the root DSE and the schema, as on Active Directory.
   */
  readonly anonymousRead?: boolean;
  /** The administrator's password; generated when absent. */
  readonly adminPassword?: string;
  /**
   * The administrator's DN (default `cn=admin`): like slapd's root DN, not an entry (an entry with
   * that DN may exist in the data; binds with that DN are the administrator's all the same).
   */
  readonly adminDn?: string;
  /** Operations the journal holds before it drops the oldest (default 10,000). */
  readonly journalSize?: number;
  /** Serve the fault switches over HTTP on this loopback port (0 = a free one). Off when absent. */
  readonly faultPort?: number;
  /** Default: a silent logger. */
  readonly logger?: Logger;
}

/** A position to return to with `restore`. */
export interface MockSnapshot {
  readonly marks: ReadonlyMap<string, number>;
}

export interface MockDirectory extends AsyncDisposable {
  /** `ldap://host:port`. */
  readonly url: string;
  readonly port: number;
  /** `ldaps://host:port`, when TLS is on. */
  readonly ldapsUrl?: string;
  readonly ldapsPort?: number;
  /** The generated CA certificate (PEM) that clients trust, with `tls: true`; `caFile` holds it until `close`. */
  readonly caPem?: string;
  readonly caFile?: string;
  /** The administrator: reads and writes everything. */
  readonly bindDn: string;
  readonly password: string;
  /** The naming contexts served (forest bases). */
  readonly suffixes: readonly string[];
  readonly profile: MockProfile;
  /** Entries loaded at start. */
  readonly loaded: number;
  /** What the load left out and why (files that configure a server); `canopy mock` prints them. */
  readonly warnings: readonly string[];
  readonly faults: FaultSwitches;
  /** The time account states are decided by (lockout, expiry): `clock.advance(ms)` moves it. */
  readonly clock: MockClock;
  /** Every operation received, in order: `entries`, `clear()`, `waitFor(predicate, timeoutMs)`. */
  readonly journal: Journal;
  /** `http://127.0.0.1:port` of the fault endpoint, when `faultPort` was given. */
  readonly faultUrl?: string;
  /** Back to the loaded data (every write taken back, newest first: work proportional to the writes) and the real time. */
  reset(): void;
  snapshot(): MockSnapshot;
  /** Back to a snapshot; snapshots taken after it (or before a later `reset`) become invalid. */
  restore(snapshot: MockSnapshot): void;
  /** The current data as LDIF, one document for every naming context. */
  toLdif(): string;
  close(): Promise<void>;
}

export const MOCK_ADMIN_DN = 'cn=admin';

const FIXTURES = ['avvid.info.ldif', 'vse.lab.ldif'].map((f) => fileURLToPath(new URL(`../../fixtures/${f}`, import.meta.url)));

/**
 * Starts a mock directory: Canopy's own stack (configuration, namespace stage, router, front end)
 * over memory forests that keep a journal of writes, behind fault switches, with an administrator
 * account that may read and write everything.
 */
export async function startMockDirectory(options: MockDirectoryOptions = {}): Promise<MockDirectory> {
  const logger = options.logger ?? createLogger('silent');
  const password = options.adminPassword ?? randomBytes(12).toString('base64url');
  // The lowest scrypt cost a configuration accepts: the administrator's password is given in clear
  // (command line, test code) and its hash never stored, so the default cost protects nothing here,
  // while every administrator bind of a test suite paid it (156 ms each, against 3 ms).
  const account = { dn: adminDnOf(options.adminDn ?? MOCK_ADMIN_DN), passwordHash: await hashPassword(password, MIN_COST_LN) };
  const host = options.host ?? '127.0.0.1';
  const listen = `ldap://${urlHost(host)}:${options.port ?? 0}`;
  const certificates = await certificatesFor(options, host);
  const tls = certificates && {
    section: tlsSection(certificates, options),
    ldaps: `ldaps://${urlHost(host)}:${options.ldapsPort ?? 0}`,
  };
  try {
    return await start(options, { logger, password, account, listen, tls, certificates });
  } catch (err) {
    await certificates?.remove?.();
    throw err;
  }
}

interface Prepared {
  readonly logger: Logger;
  readonly password: string;
  readonly account: { dn: string; passwordHash: string };
  readonly listen: string;
  readonly tls?: { section: TlsConfig; ldaps: string };
  readonly certificates?: Partial<MockCertificates> & Pick<MockCertificates, 'certFile' | 'keyFile'>;
}

async function start(options: MockDirectoryOptions, prepared: Prepared): Promise<MockDirectory> {
  const { logger, password, account, listen, tls, certificates } = prepared;

  let config: LoadedConfig;
  let data: ReadonlyMap<string, MockForestData>;
  let profile: MockProfile;
  const warnings: string[] = [];
  if (options.config !== undefined) {
    const parsed = parseConfig(options.config, { source: 'mock configuration', baseDir: options.baseDir ?? process.cwd() });
    // No /metrics listener: several mock directories run side by side in test suites. No result
    // cache: a reset, a restore or a fault must show in the very next search.
    config = {
      ...parsed,
      listen: { ...parsed.listen, ldap: listen, ...(tls && { ldaps: tls.ldaps }) },
      ...(tls && { tls: tls.section }),
      http: { ...parsed.http, enabled: false },
      cache: { ...parsed.cache, enabled: false },
      accounts: [...parsed.accounts, account],
      ...(options.requireTls && { security: { ...parsed.security, ...REQUIRE_TLS } }),
    };
    data = await dataOfConfig(config, warnings);
    profile = config.forests.some((f) => f.backend === 'memory' && f.profile === 'ad') ? 'ad' : 'plain';
  } else {
    const texts = typeof options.ldif === 'string' ? [options.ldif] : options.ldif;
    const { sources, skipped } = texts
      ? withoutServerConfiguration(texts.map((text, i) => ({ name: `ldif[${i}]`, text })))
      : await readSources(options.files ?? FIXTURES);
    warnings.push(...skipped);
    const forests = forestsFromSources(sources);
    profile = options.profile ?? (looksLikeAd(forests) ? 'ad' : 'plain');
    data = new Map(forests.map((f) => [f.name, f]));
    config = configFor(forests, {
      listen,
      profile,
      maxValRange: options.maxValRange,
      maxPageSize: options.maxPageSize ?? 1000,
      referrals: options.referrals ?? false,
      requireTls: options.requireTls ?? false,
      tls,
      account,
    });
  }

  // The configuration's own rules, if any, after the administrator's; else the mock's defaults.
  const defaults = mockAccess(account.dn, passwordAttributes(data.values()), options.anonymousRead ?? false);
  config = { ...config, access: config.access ? [defaults[0], ...config.access] : defaults };

  const clock = new MockClock();
  const memories = new Map<string, MemoryDirectory>();
  for (const f of config.forests) {
    const d = data.get(f.name);
    if (f.backend !== 'memory' || !d) continue;
    const ad = f.profile === 'ad' ? { maxValRange: f.maxValRange, referrals: f.referrals } : undefined;
    memories.set(f.name, MemoryDirectory.fromRecords({ suffix: Dn.parse(f.base), records: d.records, ad, journal: true, now: clock.now }));
  }
  const faults = new FaultSwitches(logger);
  const journal = new Journal(options.journalSize);
  const server = await startServer(config, {
    logger,
    observe: journal.record,
    openBackend: (f) => memories.get(f.name),
    schemaInUse: () => [...memories.values()].map((m) => m.schemaInUse()),
    wrapBackend: (name, directory) => faults.wrap(name, directory),
    dropAfterPage: faults.dropAfterPage,
  });
  let endpoint: FaultEndpoint | undefined;
  const snapshot = (): MockSnapshot => ({ marks: new Map([...memories].map(([name, m]) => [name, m.mark()])) });
  const restore = (s: MockSnapshot): void => {
    for (const [name, m] of memories) m.undoTo(s.marks.get(name) ?? 0);
  };
  const reset = (): void => {
    for (const m of memories.values()) m.undoTo(0);
    clock.reset();
  };
  try {
    if (options.faultPort !== undefined) endpoint = await startFaultEndpoint(faults, { port: options.faultPort, reset, journal, logger });
  } catch (err) {
    await server.close();
    throw err;
  }
  const close = async (): Promise<void> => {
    await endpoint?.close();
    await server.close();
    await certificates?.remove?.();
  };
  return {
    url: server.urls[0],
    port: server.ldapPort!,
    ...(server.ldapsPort !== undefined && { ldapsUrl: server.urls.find((u) => u.startsWith('ldaps:')), ldapsPort: server.ldapsPort }),
    ...(certificates?.caPem !== undefined && { caPem: certificates.caPem, caFile: certificates.caFile }),
    bindDn: account.dn,
    password,
    suffixes: config.forests.map((f) => f.base),
    profile,
    loaded: [...memories.values()].reduce((n, m) => n + m.size, 0),
    warnings,
    faults,
    clock,
    journal,
    ...(endpoint && { faultUrl: endpoint.url }),
    reset,
    snapshot,
    restore,
    toLdif: () => entriesToLdif((function* () {
      for (const m of memories.values()) yield* m.entries();
    })()),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** AD's answer to a simple bind without TLS when the domain controller requires LDAP signing. */
const REQUIRE_TLS = { requireTlsForBind: true, tlsRequiredResult: 'strongerAuthRequired' } as const;

/** The configuration serving the forests found in the data, validated by the configuration's own parser. */
function configFor(
  forests: readonly MockForestData[],
  options: {
    listen: string;
    profile: MockProfile;
    maxValRange?: number;
    maxPageSize: number;
    referrals: boolean;
    requireTls: boolean;
    tls: Prepared['tls'];
    account: { dn: string; passwordHash: string };
  },
): LoadedConfig {
  const upnOwner = new Map<string, string>();
  for (const f of forests) for (const s of [...(f.dnsName ? [f.dnsName] : []), ...f.upnSuffixes]) if (!upnOwner.has(s)) upnOwner.set(s, f.name);
  const netbios = new Set<string>();
  const document = {
    listen: { ldap: options.listen, ...(options.tls && { ldaps: options.tls.ldaps }) },
    ...(options.tls && { tls: options.tls.section }),
    http: { enabled: false },
    cache: { enabled: false },
    logging: { level: 'silent' },
    ...(options.profile === 'ad' && { limits: { maxResultEntries: options.maxPageSize, maxPageSize: options.maxPageSize } }),
    ...(options.requireTls && { security: REQUIRE_TLS }),
    forests: forests.map((f) => {
      const upnSuffixes = Object.fromEntries([...upnOwner].filter(([, owner]) => owner === f.name).map(([s]) => [s, s]));
      // AD's down-level domain name: the first DNS label, upper case, as the fixtures have it.
      const nb = f.dnsName?.split('.')[0].toUpperCase().slice(0, 15);
      const netbiosName = nb && /^[A-Z0-9][A-Z0-9_.-]*$/.test(nb) && !netbios.has(nb) ? (netbios.add(nb), nb) : undefined;
      return {
        name: f.name,
        backend: 'memory',
        base: f.suffix.text,
        ldif: [...new Set(f.records.map((r) => r.source))],
        upnSuffixes,
        ...(netbiosName && { netbiosName }),
        profile: options.profile,
        ...(options.maxValRange !== undefined && { maxValRange: options.maxValRange }),
        ...(options.referrals && { referrals: true }),
      };
    }),
  };
  // Validated as data, not written as YAML: no value is read as an environment variable reference.
  const config = validateConfig(document, { source: 'canopy mock', baseDir: process.cwd() });
  // Added after validation, which keeps accounts out of the forests: the administrator is the
  // suite's root DN (cn=admin,<suffix>), checked before any entry of that name, as on slapd.
  return { ...config, accounts: [...config.accounts, options.account] };
}

/** The records of a configuration's memory forests, read from their files. */
async function dataOfConfig(config: LoadedConfig, warnings: string[]): Promise<Map<string, MockForestData>> {
  const data = new Map<string, MockForestData>();
  for (const f of config.forests) {
    if (f.backend !== 'memory') continue;
    const { sources, skipped } = await readSources(f.ldif);
    warnings.push(...skipped);
    const records = forestsFromSources(sources).flatMap((d) => d.records);
    data.set(f.name, { name: f.name, suffix: Dn.parse(f.base), records, upnSuffixes: new Set() });
  }
  return data;
}

/** The configuration's `tls` section: the certificate served, and client certificates if asked for. */
function tlsSection(certificates: Pick<MockCertificates, 'certFile' | 'keyFile'>, options: MockDirectoryOptions): TlsConfig {
  const clientCa = options.tlsClientCa === undefined ? undefined : resolve(options.tlsClientCa);
  return {
    certFile: certificates.certFile,
    keyFile: certificates.keyFile,
    ...(clientCa !== undefined && { clientCa }),
    verifyClient: clientCa === undefined ? 'never' : (options.tlsVerifyClient ?? 'allow'),
    subjectMapping: [...(options.tlsSubjectMapping ?? [])],
  };
}

/** The certificate files to serve: the ones given, or new ones (removed at close). */
async function certificatesFor(options: MockDirectoryOptions, host: string): Promise<Prepared['certificates']> {
  if ((options.tlsCertFile === undefined) !== (options.tlsKeyFile === undefined)) {
    throw new Error('tlsCertFile and tlsKeyFile go together');
  }
  if (options.tlsVerifyClient !== undefined && options.tlsClientCa === undefined) throw new Error('tlsVerifyClient needs tlsClientCa');
  if (options.tlsSubjectMapping !== undefined && options.tlsClientCa === undefined) throw new Error('tlsSubjectMapping needs tlsClientCa');
  if (options.tlsClientCa !== undefined && !options.tls && options.tlsCertFile === undefined) {
    throw new Error('tlsClientCa needs TLS: tls, or tlsCertFile and tlsKeyFile');
  }
  if (options.tlsCertFile !== undefined) return { certFile: options.tlsCertFile, keyFile: options.tlsKeyFile! };
  return options.tls ? createMockCertificates([host]) : undefined;
}

function adminDnOf(text: string): string {
  try {
    return Dn.parse(text).text;
  } catch {
    throw new Error(`the administrator's DN "${text}" is not a valid DN`);
  }
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
