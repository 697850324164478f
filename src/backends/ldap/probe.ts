import type { LdapForestConfig } from '../../config/schema.js';
import { LdapError, loggedMessage } from '../../core/ldap-error.js';
import { describeFailure, isServerFailure, upstreamError } from './errors.js';
import { serverTls, type TlsMode } from './tls-options.js';
import { UpstreamConnection } from './upstream-connection.js';

/** What one server of a forest answered to connect, bind and a read of the forest's base entry. */
export interface ServerProbe {
  readonly server: string;
  readonly tls: TlsMode;
  /** `ok`, `anonymous`, `failed` or `-` (not reached). */
  readonly bind: string;
  /** `ok`, `failed` or `-` (not reached). */
  readonly base: string;
  /** Round trip of the base read, when it succeeded. */
  readonly ms?: number;
  readonly error?: string;
  readonly ok: boolean;
}

/** Probes every server of a forest at once, each on a connection of its own. */
export function probeForest(config: LdapForestConfig): Promise<ServerProbe[]> {
  return Promise.all(config.servers.map((url, i) => probeServer(config, url, i)));
}

async function probeServer(config: LdapForestConfig, server: string, index: number): Promise<ServerProbe> {
  const tlsOptions = serverTls(config.tls, server);
  const tls = tlsOptions.mode;
  const options = { url: server, tls: tlsOptions, connectMs: config.timeouts.connectMs, operationMs: config.timeouts.operationMs };
  const credentials = config.bind && { dn: config.bind.dn, password: config.bind.password ?? '' };
  let connection: UpstreamConnection;
  try {
    connection = await UpstreamConnection.open(options, index, credentials);
  } catch (err) {
    const reached = !isServerFailure(err);
    return { server, tls, bind: reached ? 'failed' : '-', base: '-', error: describe(err), ok: false };
  }
  const bind = credentials ? 'ok' : 'anonymous';
  try {
    const started = performance.now();
    await connection.readEntry(config.base, ['1.1']);
    return { server, tls, bind, base: 'ok', ms: Math.round(performance.now() - started), ok: true };
  } catch (err) {
    return { server, tls, bind, base: 'failed', error: describe(upstreamError(err)), ok: false };
  } finally {
    connection.close();
  }
}

function describe(err: unknown): string {
  return err instanceof LdapError ? `${loggedMessage(err)} (${err.code})` : describeFailure(err);
}
