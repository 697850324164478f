import { z } from 'zod';
import { parseCidr } from '../core/cidr.js';
import { Dn } from '../core/dn.js';
import { attributeKey, testedTypes } from '../core/schema.js';
import { parseFilterString } from '../protocol/filter-codec.js';
import { accessSchema, accountsSchema, checkAccounts, securitySchema } from './auth-schema.js';

/** The configuration file's shape. Types derive from it; messages read as "<path>: <value> <message>". */

function tryDn(text: string): Dn | undefined {
  try {
    return Dn.parse(text);
  } catch {
    return undefined;
  }
}

const dnString = z.string().refine((v) => tryDn(v) !== undefined, { message: 'is not a valid DN' });

/** A UPN as Active Directory takes it in a simple bind: `svc@corp.example`. */
const UPN = /^[^\s@\\/]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
/** A down-level logon name, `CORP\svc`: a NetBIOS domain (1-15 characters) and a sAMAccountName (1-256, without AD's forbidden characters). */
const DOWN_LEVEL = /^[^\\/:*?"<>|.\s][^\\/:*?"<>|\s]{0,14}\\[^"/\\[\]:;|=,+*?<>@\s][^"/\\[\]:;|=,+*?<>@]{0,255}$/;

/** A service account of an `ldap` forest: a DN, or the UPN and down-level forms Active Directory also accepts in a simple bind. */
const bindName = z.string().refine((v) => (v.includes('=') ? tryDn(v) !== undefined : UPN.test(v) || DOWN_LEVEL.test(v)), {
  message: 'is not a valid DN, UPN (svc@corp.example) or down-level name (CORP\\svc)',
});

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

function listenUrl(scheme: 'ldap' | 'ldaps') {
  return z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === `${scheme}:` && u.hostname !== '' && u.pathname.replace(/^\/$/, '') === '';
      } catch {
        return false;
      }
    },
    { message: `is not an ${scheme}://host:port URL` },
  );
}

function ldapUrl() {
  return z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'ldap:' || u.protocol === 'ldaps:') && u.hostname !== '' && u.pathname.replace(/^\/$/, '') === '';
      } catch {
        return false;
      }
    },
    { message: 'is not an LDAP URL' },
  );
}

/** A TCP port (0 = any free one); digits in a string are accepted too, so that `${VAR}` can set it. */
/** Most worker processes `serve.workers` may ask for, and what `auto` is capped at: past it, a machine is better split into replicas. */
export const MAX_WORKERS = 32;
const WORKERS = { message: `is not a number of workers (1 to ${MAX_WORKERS}) or auto` };

const portNumber = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z.number().int().min(0).max(65535),
);

const filterString = z.string().refine(
  (v) => {
    try {
      parseFilterString(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not an RFC 4515 filter' },
);

const attributeName = z.string().regex(/^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/, {
  message: 'is not an attribute name',
});

/** A password given inline or read from a file (exactly one of the two, or neither). */
const secretFields = {
  password: z.string().optional(),
  passwordFile: z.string().optional(),
};
const oneSecret = (s: { password?: string; passwordFile?: string }) => !(s.password !== undefined && s.passwordFile !== undefined);

/** What every forest has, whatever serves it: where it appears and how it is rewritten. */
const forestCommon = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'is not a forest name (letters, digits, . _ -)' }),
  /** The forest's own naming context. */
  base: dnString,
  /** Where the forest appears in the virtual tree; defaults to `base` (no DN rewriting). */
  mount: dnString.optional(),
  /** Virtual UPN suffix → the forest's own suffix. */
  upnSuffixes: z.record(z.string().regex(/^[A-Za-z0-9.-]+$/, { message: 'is not a UPN suffix' }), z.string().regex(/^[A-Za-z0-9.-]+$/, { message: 'is not a UPN suffix' })).default({}),
  netbiosName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, { message: 'is not a NetBIOS domain name' }).optional(),
  /** RFC 4515, in the forest's own attribute names, AND-ed onto every search sent to it. */
  filter: filterString.optional(),
  attributes: z
    .strictObject({
      /** Virtual name → the forest's name. */
      map: z
        .record(attributeName, attributeName)
        .default({})
        .superRefine((map, ctx) => {
          // An assertion on a supertype tests its subtypes upstream, under no name the mapping shows.
          for (const [virtual, upstream] of Object.entries(map)) {
            const subtypes = testedTypes(attributeKey(upstream));
            if (subtypes.length === 0) continue;
            ctx.addIssue({
              code: 'custom',
              path: [virtual],
              message: `"${virtual}: ${upstream}" maps onto ${upstream}, whose subtypes or sources (${subtypes.slice(0, 4).join(', ')}${subtypes.length > 4 ? ', …' : ''}) a filter or compare on it would also test: map the type you mean`,
            });
          }
        }),
      /** Hidden by type: every name, alias and OID of a listed type. */
      hide: z.array(attributeName).default([]),
      /**
       * Descriptions Canopy's schema does not know: `pass` lets unknown names through (they name no
       * known type) and hides unknown OIDs where anything is hidden or mapped; `hide` hides both.
       */
      unknown: z.enum(['pass', 'hide']).default('pass'),
      dnValued: z.array(attributeName).default([]),
    })
    .prefault({}),
  /** Lower wins when `namespace.onDuplicate` is `priority`. */
  priority: z.number().int().default(100),
  /** Every write to the forest is refused (unwillingToPerform), whoever sends it. */
  readOnly: z.boolean().default(false),
  /** `false`: searches touching this forest are never answered from the result cache. */
  cache: z.boolean().default(true),
};

const memoryForest = z.strictObject({
  ...forestCommon,
  backend: z.literal('memory'),
  /** LDIF content files, relative to the configuration file. */
  ldif: z.array(z.string().min(1)).min(1),
  /** `ad`: behave like an Active Directory domain controller (memberOf back links, USNs, range retrieval). */
  profile: z.enum(['plain', 'ad']).default('plain'),
  /** Under `profile: ad`, values of one attribute returned at once (AD's MaxValRange). */
  /** At least 10: below that even objectClass would come in ranges, which clients reject. */
  maxValRange: z.number().int().min(10, { message: 'must be at least 10 (smaller ranges split even objectClass, which clients reject)' }).default(1500),
  /**
   * Under `profile: ad`, subtree searches at the forest's base end with AD's continuation references
   * to its DNS zone and configuration partitions (for testing clients that must cope with them).
   */
  referrals: z.boolean().default(false),
});

const ldapForest = z.strictObject({
  ...forestCommon,
  backend: z.literal('ldap'),
  /** Tried in order; the first is preferred again once it answers. */
  servers: z.array(ldapUrl()).min(1),
  /** The forest's service account; anonymous when absent. */
  bind: z
    .strictObject({ dn: bindName, ...secretFields })
    .refine(oneSecret, { message: 'sets both password and passwordFile' })
    .optional(),
  tls: z
    .strictObject({
      /** PEM CA bundle to verify the servers with (default: Node's CA store). */
      ca: z.string().min(1).optional(),
      startTls: z.boolean().default(false),
      rejectUnauthorized: z.boolean().default(true),
      servername: z.string().min(1).optional(),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      connectMs: z.number().int().min(1).default(3000),
      operationMs: z.number().int().min(1).default(15000),
    })
    .prefault({}),
  pool: z
    .strictObject({
      /** Service connections; each carries up to operationsPerConnection operations at once. */
      size: z.number().int().min(1).max(64).default(4),
      operationsPerConnection: z.number().int().min(1).max(1000).default(16),
      /** Connections for user binds, bound again per login. */
      bindConnections: z.number().int().min(1).max(64).default(16),
      /** Upstream paged searches one identity may hold open at once (a server keeps one per connection). */
      pagedSearchesPerIdentity: z.number().int().min(1).max(64).default(2),
      /**
       * When every connection holds an upstream paged search, an identity holding none takes the
       * connection of one that asked for no page this long (its next page is refused busy).
       */
      reclaimPagedSearchAfterMs: z.number().int().min(1).default(10_000),
      /**
       * Searches of one identity this forest answers at once, each holding up to a page of entries
       * from its upstream answer until the client has read them (a paged one, until it is done or
       * released); more wait their turn.
       */
      searchesPerIdentity: z.number().int().min(1).max(10_000).default(64),
      idleMs: z.number().int().min(0).default(300_000),
    })
    .refine((p) => p.pagedSearchesPerIdentity <= p.size, {
      message: 'pagedSearchesPerIdentity is larger than size (one paged search per connection)',
      path: ['pagedSearchesPerIdentity'],
    })
    .prefault({}),
  /** Upstream page size (AD's MaxPageSize is 1000). */
  pageSize: z.number().int().min(1).max(10_000).default(500),
  binaryAttributes: z.array(attributeName).default(['objectGUID', 'objectSid', 'jpegPhoto', 'thumbnailPhoto', 'userCertificate']),
  referrals: z.enum(['drop', 'pass']).default('drop'),
  /** How UPN logins are checked: `search` finds the DN with the service account, `native` binds with the UPN. */
  bindResolution: z.enum(['search', 'native']).default('search'),
});

export const forestSchema = z.discriminatedUnion('backend', [memoryForest, ldapForest]);

/**
 * One identity's share of the process's sort buffers when not configured: a fifth of them (20,000
 * of the default 100,000), so one identity cannot hold what others need; none when they are unbounded.
 */
export function defaultSortShare(total: number): number {
  return total === 0 ? 0 : Math.max(1, Math.floor(total / 5));
}

export const configSchema = z
  .strictObject({
  listen: z
    .strictObject({
      ldap: listenUrl('ldap').default('ldap://127.0.0.1:3389'),
      /** Served only when `tls` is configured. */
      ldaps: listenUrl('ldaps').default('ldaps://127.0.0.1:3636'),
      /** Load balancers whose connections start with a PROXY header (v1 or v2) naming the client; none: off. */
      proxyProtocol: z
        .strictObject({
          from: z.array(z.string().refine((v) => parseCidr(v) !== undefined, { message: 'is not an IPv4 or IPv6 network (10.0.0.0/8, fd00::/64, or one address)' })).default([]),
          /** Time a balancer's connection has to send its header. */
          headerTimeoutSeconds: z.number().int().min(1).max(60).default(5),
        })
        .prefault({}),
    })
    .prefault({}),
  tls: z
    .strictObject({
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
      /** Passphrase of an encrypted key, inline or read from a file. */
      password: z.string().optional(),
      passwordFile: z.string().optional(),
      /** PEM file of the CAs that sign client certificates (mutual TLS, SASL EXTERNAL). */
      clientCa: z.string().min(1).optional(),
      /** PEM file of the certificate revocation lists of clientCa's CAs: a revoked client certificate does not verify. */
      clientCrl: z.string().min(1).optional(),
      /** `allow` asks for a client certificate, `demand` refuses the handshake without a valid one. */
      verifyClient: z.enum(['never', 'allow', 'demand']).default('never'),
      /** Rules from a client certificate's subject to the DN it binds as (SASL EXTERNAL); the first that matches applies. */
      subjectMapping: z
        .array(
          z.strictObject({
            /** A regular expression matching the whole subject (RFC 4514 form, ignoring case). */
            subject: z.string().min(1).refine(compiles, { message: 'is not a valid regular expression' }),
            /** The DN, with $1, $2, … for the subject's groups. */
            dn: z.string().min(1),
          }),
        )
        .default([]),
    })
    .refine((t) => !(t.password !== undefined && t.passwordFile !== undefined), {
      message: 'sets both password and passwordFile',
    })
    .refine((t) => t.verifyClient === 'never' || t.clientCa !== undefined, {
      message: 'verifyClient allow or demand needs clientCa (the CAs that sign client certificates)',
      path: ['clientCa'],
    })
    .refine((t) => t.clientCrl === undefined || t.clientCa !== undefined, {
      message: 'clientCrl needs clientCa (the CAs whose revocations it lists)',
      path: ['clientCrl'],
    })
    .refine((t) => t.verifyClient !== 'never' || t.clientCa === undefined, {
      message: 'clientCa is set but verifyClient is never: set verifyClient to allow or demand',
      path: ['verifyClient'],
    })
    .optional(),
  limits: z
    .strictObject({
      maxMessageBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024),
      /** Largest message while the connection is not bound (slapd's sockbuf_max_incoming for anonymous sessions). */
      maxUnboundMessageBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(256 * 1024),
      maxConnections: z.number().int().min(1).default(4096),
      /** Connections open at once from one client address, TLS handshakes included. */
      maxConnectionsPerAddress: z.number().int().min(1).default(256),
      maxPendingOperations: z.number().int().min(1).max(10_000).default(64),
      /** AD's MaxConnIdleTime; 0 = never. */
      idleTimeoutSeconds: z.number().int().min(0).default(900),
      /** Idle time allowed to a connection that is not bound; 0 = idleTimeoutSeconds. */
      unboundIdleTimeoutSeconds: z.number().int().min(0).default(60),
      /** Time an LDAPS or StartTLS handshake may take. */
      tlsHandshakeTimeoutSeconds: z.number().int().min(1).max(600).default(10),
      /** Assertions and and/or/not of one search filter; more are refused with unwillingToPerform. */
      maxFilterTerms: z.number().int().min(1).default(1000),
      /** Entries of an unpaged search (AD's MaxPageSize for unpaged searches); 0 = no limit. */
      maxResultEntries: z.number().int().min(0).default(0),
      /** Larger pages asked for are served at this size (AD's MaxPageSize). */
      maxPageSize: z.number().int().min(1).default(1000),
      /** Per search operation, each page of a paged search (AD's MaxQueryDuration); 0 = no limit. */
      searchTimeMs: z.number().int().min(0).default(120_000),
      /** Entries buffered for a server-side sort (AD's MaxTempTableSize); 0 = no limit. */
      maxSortEntries: z.number().int().min(0).default(10_000),
      /** Entries buffered by all sorted searches of one connection at once; 0 = no limit. */
      maxSortEntriesPerConnection: z.number().int().min(0).default(20_000),
      /** Entries buffered by all sorted searches of the process at once; 0 = no limit. */
      maxSortEntriesTotal: z.number().int().min(0).default(100_000),
      /**
       * Entries buffered by all sorted searches of one identity at once, over all its connections
       * (paged ones parked between pages included); 0 = no limit. Default: a fifth of maxSortEntriesTotal.
       */
      maxSortEntriesPerIdentity: z.number().int().min(0).optional(),
      /** Paged searches open at once on one connection (AD's MaxResultSetsPerConn). */
      maxPagedSearches: z.number().int().min(1).max(1000).default(10),
      /** A paged search not continued for this long is released. */
      pagedSearchIdleSeconds: z.number().int().min(1).default(300),
    })
    .superRefine((l, ctx) => {
      const share = l.maxSortEntriesPerIdentity;
      if (share === undefined || l.maxSortEntriesTotal === 0 || share <= l.maxSortEntriesTotal) return;
      ctx.addIssue({
        code: 'custom',
        path: ['maxSortEntriesPerIdentity'],
        message: `is more than limits.maxSortEntriesTotal (${l.maxSortEntriesTotal}): one identity's share must leave room for others`,
      });
    })
    .transform((l) => ({ ...l, maxSortEntriesPerIdentity: l.maxSortEntriesPerIdentity ?? defaultSortShare(l.maxSortEntriesTotal) }))
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** The per-operation access log; failures are logged whatever the sample rate. */
      accessLog: z.boolean().default(true),
      accessLogSampleRate: z.number().min(0).max(1).default(1),
    })
    .prefault({}),
  /** Search results kept in memory, encoded, per request and access view. */
  cache: z
    .strictObject({
      enabled: z.boolean().default(true),
      ttlSeconds: z.number().int().min(0).default(60),
      maxBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
      /** Larger results (and every page after the first of a paged search) go around the cache. */
      maxEntriesPerResult: z.number().int().min(1).default(1000),
      /** How long an empty result is kept. */
      negativeTtlSeconds: z.number().int().min(0).default(10),
      /** How long past its TTL a result is still served while a forest it touches is unavailable; 0 = never. */
      staleIfErrorSeconds: z.number().int().min(0).default(0),
      /**
       * Bytes of kept results one identity's searches may fill; past it its own oldest go first, so
       * one identity's many searches never push out everyone else's. Default: a fifth of maxBytes.
       */
      maxBytesPerIdentity: z.number().int().min(1024).optional(),
    })
    .superRefine((c, ctx) => {
      if (c.maxBytesPerIdentity === undefined || c.maxBytesPerIdentity <= c.maxBytes) return;
      ctx.addIssue({
        code: 'custom',
        path: ['maxBytesPerIdentity'],
        message: `is more than cache.maxBytes (${c.maxBytes}): one identity's share must leave room for others`,
      });
    })
    .transform((c) => ({ ...c, maxBytesPerIdentity: c.maxBytesPerIdentity ?? Math.max(1024, Math.floor(c.maxBytes / 5)) }))
    .prefault({}),
  /** The single virtual tree; without it each forest is served at its own mount (default: its base). */
  namespace: z
    .strictObject({
      suffix: dnString,
      /** Attributes whose values identify one person across forests (e.g. sAMAccountName). */
      uniqueAttributes: z.array(attributeName).default([]),
      onDuplicate: z.enum(['all', 'priority']).default('all'),
      /** `partial` returns the other forests' entries when one fails: unsafe for synchronisation. */
      onForestError: z.enum(['fail', 'partial']).default('fail'),
    })
    .optional(),
  /** The sync deletion guard (docs/configuration.md, sync). */
  sync: z
    .strictObject({
      guard: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** Fewest entries a forest's result must have to become a reference. */
          minEntries: z.number().int().min(1).default(100),
          maxDropPercent: z.number().min(0).max(100).default(10),
          maxDropCount: z.number().int().min(0).default(500),
          /** Where references survive restarts (written atomically); without it they are kept in memory only. */
          stateFile: z.string().min(1).optional(),
          /** Most search shapes remembered (least recently seen forgotten first). */
          maxShapes: z.number().int().min(1).max(1_000_000).default(10_000),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The HTTP listener for /metrics, /healthz and /readyz. */
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().min(1).default('127.0.0.1'),
      port: portNumber.default(9389),
    })
    .prefault({}),
  /** How `canopy serve` runs: one process, or a primary with worker processes sharing the LDAP listeners. */
  serve: z
    .strictObject({
      /**
       * Processes accepting LDAP connections: 1 = this process alone; `auto` = the cores it may use
       * (at most MAX_WORKERS), or one process when a memory forest is served (workerCount).
       */
      workers: z.preprocess(
        (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
        z.union([z.literal('auto', WORKERS), z.number(WORKERS).int(WORKERS).min(1, WORKERS).max(MAX_WORKERS, WORKERS)], WORKERS),
      ).default('auto'),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      /** On SIGTERM, how long operations already running may take to finish before connections are closed. */
      graceSeconds: z.number().min(0).max(3600).default(10),
    })
    .prefault({}),
  forests: z.array(forestSchema).min(1),
  accounts: accountsSchema,
  access: accessSchema,
  security: securitySchema,
}).superRefine((config, ctx) => {
  const suffix = config.namespace && tryDn(config.namespace.suffix);
  const names = new Set<string>();
  const netbios = new Set<string>();
  const upn = new Set<string>();
  const mounts: Dn[] = [];
  config.forests.forEach((f, i) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path: ['forests', i, ...path], message });
    if (names.has(f.name)) issue(['name'], 'is used by another forest');
    names.add(f.name);
    if (f.netbiosName) {
      if (netbios.has(f.netbiosName.toUpperCase())) issue(['netbiosName'], 'is used by another forest');
      netbios.add(f.netbiosName.toUpperCase());
    }
    for (const v of Object.keys(f.upnSuffixes)) {
      if (upn.has(v.toLowerCase())) issue(['upnSuffixes', v], 'is mapped by another forest');
      upn.add(v.toLowerCase());
    }
    if (config.namespace && f.mount === undefined) issue(['mount'], 'is required when namespace.suffix is set');
    const mount = tryDn(f.mount ?? f.base);
    if (!mount) return; // reported by the field's own check
    if (suffix && !mount.isWithin(suffix)) issue(['mount'], `is not within namespace.suffix "${suffix.text}"`);
    if (suffix && mount.equals(suffix) && config.forests.length > 1) {
      issue(['mount'], 'may be the namespace suffix itself only when there is one forest');
    }
    const clash = mounts.find((m) => m.isWithin(mount) || mount.isWithin(m));
    if (clash) issue([f.mount === undefined ? 'base' : 'mount'], `overlaps "${clash.text}"`);
    mounts.push(mount);
  });
  checkAccounts(config.accounts, mounts, ctx);
});

export type CanopyConfig = z.infer<typeof configSchema>;
export type ForestConfig = z.infer<typeof forestSchema>;
export type MemoryForestConfig = z.infer<typeof memoryForest>;
export type LdapForestConfig = z.infer<typeof ldapForest>;
export type NamespaceConfig = NonNullable<CanopyConfig['namespace']>;
export type TlsConfig = NonNullable<CanopyConfig['tls']>;
export type CacheConfig = CanopyConfig['cache'];
