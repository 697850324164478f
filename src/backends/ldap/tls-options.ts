import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { LdapForestConfig } from '../../config/schema.js';

/** How one server URL is secured: TLS from the first byte (ldaps), upgraded by StartTLS, or not at all. */
export type TlsMode = 'ldaps' | 'startTls' | 'none';

export interface ServerTls {
  readonly mode: TlsMode;
  /** Options for tls.connect; undefined when mode is 'none'. */
  readonly options?: ConnectionOptions;
}

/**
 * TLS settings for one server URL, computed once when the forest opens (a missing CA file fails
 * then, not on the first request). The certificate's name is checked against the URL's host, or
 * against `servername` when set.
 */
export function serverTls(tls: LdapForestConfig['tls'], url: string): ServerTls {
  const parsed = new URL(url);
  const mode: TlsMode = parsed.protocol === 'ldaps:' ? 'ldaps' : tls.startTls ? 'startTls' : 'none';
  if (mode === 'none') return { mode };
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const expected = tls.servername;
  const options: ConnectionOptions = { host, rejectUnauthorized: tls.rejectUnauthorized };
  // SNI must not carry an IP address (RFC 6066).
  if (!isIP(expected ?? host)) options.servername = expected ?? host;
  // Node refuses an explicit undefined here: set only when a name overrides the URL's host.
  if (expected) options.checkServerIdentity = (_host, cert) => checkServerIdentity(expected, cert);
  if (tls.ca) options.ca = readFileSync(tls.ca);
  return { mode, options };
}
