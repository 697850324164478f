/** Helpers shared by the ldap-backend integration tests (not a test file): forest configs and search collection. */
import type { LdapForestConfig } from '../../src/config/schema.js';
import { forestSchema } from '../../src/config/schema.js';
import type { OperationContext, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import type { Entry } from '../../src/core/entry.js';
import type { Filter } from '../../src/core/filter.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { SERVICE_ACCOUNT, SERVICE_PASSWORD } from '../../src/tools/fixture-generator.js';

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

export function context(signal: AbortSignal = new AbortController().signal): OperationContext {
  return { signal, connectionId: 1, boundDn: '' };
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
