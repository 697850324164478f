// OpenLDAP's own proxies as baselines for Canopy: slapd with back-meta or back-asyncmeta presenting
// the same forests under one suffix, configured as a user of them would: one target per forest,
// `suffixmassage` from the virtual mount to the forest's base, and the forest's service account as
// the identity the proxy reads with (`idassert-bind`, mode=none: no proxied-authorization control).
// A client's own bind is passed to the forest holding its DN, as Canopy does. Free of dist/, so
// the smoke test (test/integration/bench-baselines.test.ts) starts the same configuration.
import { startSlapdWith, type SlapdServer } from '../test/support/slapd.ts';

export type ProxyBackend = 'meta' | 'asyncmeta';

/** A forest as a proxy reaches it. */
export interface ProxiedForest {
  /** The slapd serving it. */
  readonly url: string;
  /** The forest's own base (`DC=avvid,DC=info`) and where the virtual tree shows it (`ou=avvid,dc=corp,dc=example`). */
  readonly base: string;
  readonly mount: string;
  /** The service account the proxy reads with. */
  readonly bind: { readonly dn: string; readonly password: string };
}

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The slapd.conf database section of a `backend` proxy with `suffix` over `forests`. */
export function proxyDatabase(backend: ProxyBackend, suffix: string, forests: readonly ProxiedForest[]): string {
  const lines = [
    // Both proxies are built on back-ldap's connection code and fail to initialise without it.
    'moduleload back_ldap',
    `moduleload back_${backend}`,
    `database ${backend}`,
    `suffix ${quote(suffix)}`,
    // slapd's default limit (500 entries) would cut a sync short; paged searches go on past it anyway.
    'sizelimit unlimited',
  ];
  for (const f of forests) {
    lines.push(
      `uri ${quote(`${f.url}/${f.mount}`)}`,
      `suffixmassage ${quote(f.mount)} ${quote(f.base)}`,
      `idassert-bind bindmethod=simple binddn=${quote(f.bind.dn)} credentials=${quote(f.bind.password)} mode=none`,
      // Any client, anonymous included, reads through the service account, as through Canopy.
      'idassert-authzFrom "*"',
    );
  }
  return lines.join('\n');
}

/** Starts slapd as a `backend` proxy over `forests`, answering under `suffix`. */
export function startProxy(backend: ProxyBackend, suffix: string, forests: readonly ProxiedForest[]): Promise<SlapdServer> {
  return startSlapdWith(proxyDatabase(backend, suffix, forests));
}
