/** Helpers shared by the ldap-backend integration tests (not a test file): forest configs and search collection. */
import type { LoadedConfig } from '../../src/config/load.js';
import type { LdapForestConfig } from '../../src/config/schema.js';
import { forestSchema } from '../../src/config/schema.js';
import type { SearchContext, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import type { Entry } from '../../src/core/entry.js';
import type { Filter } from '../../src/core/filter.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { SERVICE_ACCOUNT, SERVICE_PASSWORD } from '../../src/tools/fixture-generator.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { searchCtx } from '../support/search-context.js';

export const serviceDn = (suffix: string): string => `CN=${SERVICE_ACCOUNT},OU=ServiceAccounts,${suffix}`;

/** slapd access rules letting the service account write (the harness has none: everyone reads). */
export const serviceWriteAcl = (suffix: string): string => `access to * by dn.exact="${serviceDn(suffix)}" write by * read`;

/** A validated ldap forest config (defaults applied) bound as the fixture's service account. */
export function ldapForestConfig(suffix: string, servers: string[], extra: Record<string, unknown> = {}): LdapForestConfig {
  return forestSchema.parse({
    name: 'avvid',
    backend: 'ldap',
    base: suffix,
    servers,
    bind: { dn: serviceDn(suffix), password: SERVICE_PASSWORD },
    timeouts: { connectMs: 2000, operationMs: 5000 },
    ...extra,
  }) as LdapForestConfig;
}

/**
 * The memory forests of a configuration served by slapd instead (one each, loaded from the same
 * LDIF, the service account allowed to write): the same view over ldap forests, for the suites
 * that must behave alike on both. `attributes` changes what each forest configures there.
 */
export async function slapdForestsLike(
  config: LoadedConfig,
  slapds: Slapd[],
  attributes: (configured: LdapForestConfig['attributes']) => LdapForestConfig['attributes'] = (a) => a,
): Promise<LdapForestConfig[]> {
  return Promise.all(
    config.forests.map(async (f) => {
      if (f.backend !== 'memory') throw new Error('slapdForestsLike takes memory forests');
      const slapd = await startSlapd({ suffix: f.base, ldif: f.ldif, extraConfig: serviceWriteAcl(f.base) });
      slapds.push(slapd);
      const { name, mount, upnSuffixes, netbiosName, priority } = f;
      return ldapForestConfig(f.base, [slapd.url], { name, mount, upnSuffixes, netbiosName, attributes: attributes(f.attributes), priority });
    }),
  );
}

export function context(signal: AbortSignal = new AbortController().signal): SearchContext {
  return searchCtx({ signal });
}

export function searchRequest(base: string, filter: string | Filter = '(objectClass=*)', scope: SearchRequest['scope'] = 'sub', attributes: string[] = []): SearchRequest {
  return {
    base: Dn.parse(base),
    scope,
    filter: typeof filter === 'string' ? parseFilterString(filter) : filter,
    attributes,
    typesOnly: false,
    sizeLimit: 0,
    timeLimit: 0,
  };
}

export async function collect(stream: AsyncIterable<Entry>): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of stream) out.push(e);
  return out;
}
