import { releaseLoadGarbage, withLoadHeapGrowth } from '../backends/memory/release-load-garbage.js';
import { watch, type FSWatcher } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { LdifError } from '../backends/memory/ldif.js';
import { ConfigErrors } from '../config/config-error.js';
import { createLogger } from '../observability/logger.js';
import { faultSchema, type FaultSpec } from './faults.js';
import { startMockDirectory, type MockDirectory, type MockDirectoryOptions } from './mock-directory.js';
import { createMockCertificates, type MockCertificates } from './mock-tls.js';

export const mockUsage = `Usage: canopy mock [FILE.ldif | FOLDER ...] [options]

Serves LDIF files as a mock directory, without a configuration file; the suffixes come from the
data. A folder stands for its *.ldif files in name order; change records (changetype: add,
modify, delete, modrdn) apply in order; files that configure a server (cn=config, cn=schema) are
skipped with a warning. Without files: the bundled AD-like fixtures.

Options:
  --host HOST             listen address (default 127.0.0.1)
  -p, --port N            port (default 3389; 0 = a free one, printed)
  --admin-dn DN           the administrator's DN, like slapd's root DN: not an entry (default cn=admin)
  --admin-password PW     the administrator's password (default: generated, printed)
  --anonymous-read        anonymous clients read everything but password attributes (default: the
                          root DSE and the schema only); only the administrator reads passwords
  --profile ad|plain      Active Directory behaviour (default: ad when the data looks like AD)
  --max-val-range N       values of one attribute returned at once under the ad profile (default 1500, at least 10)
  --referrals             under the ad profile, subtree searches at a domain root end with AD's
                          continuation references (DNS zones, configuration partition)
  --tls                   serve LDAPS and StartTLS with a CA and server certificate generated at
                          start; the CA file's path is printed for clients to trust
  --tls-cert FILE         serve LDAPS and StartTLS with this PEM certificate (with --tls-key)
  --tls-key FILE
  --ldaps-port N          LDAPS port with TLS (default 3636; 0 = a free one, printed)
  --tls-client-ca FILE    with TLS, ask clients for a certificate signed by these CAs (PEM): one that
                          presents it binds with SASL EXTERNAL as its subject (an entry of the data,
                          or the administrator's DN)
  --tls-verify-client M   allow (default: clients without a certificate are served too) or demand
                          (their TLS handshake is refused)
  --require-tls           refuse simple binds without TLS with strongerAuthRequired (8), as DCs
                          that require LDAP signing do (without TLS: every simple bind)
  --save FILE             write the directory's state as LDIF on exit
  --watch                 restart with the files' new content when they change
  --fault SPEC            inject a fault at start, e.g. unavailable:count=3  latency:ms=200,per=entry
                          drop:afterEntries=100  drop:afterPages=2  hang  busy:forest=avvid.info
                          (repeatable)
  --fault-port N          serve the fault switches and the journal of operations received
                          (GET /journal) over HTTP on 127.0.0.1:N (0 = a free one)
  --journal-size N        operations the journal keeps before dropping the oldest (default 10000)
  --log-level LEVEL       default warn
  -h, --help              show this help
`;

/** Output stream and process hooks, replaceable in tests. */
export interface MockIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  /** Resolves when the process should stop (SIGINT/SIGTERM). */
  readonly stopped: Promise<void>;
}

/** `canopy mock`: runs until `io.stopped`; returns the exit status. */
export async function runMock(argv: readonly string[], io: MockIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        'admin-password': { type: 'string' },
        'admin-dn': { type: 'string' },
        'anonymous-read': { type: 'boolean' },
        profile: { type: 'string' },
        'max-val-range': { type: 'string' },
        referrals: { type: 'boolean' },
        'require-tls': { type: 'boolean' },
        tls: { type: 'boolean' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'ldaps-port': { type: 'string' },
        'tls-client-ca': { type: 'string' },
        'tls-verify-client': { type: 'string' },
        save: { type: 'string' },
        watch: { type: 'boolean' },
        fault: { type: 'string', multiple: true },
        'fault-port': { type: 'string' },
        'journal-size': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err.write(`canopy mock: ${(err as Error).message}\n\n${mockUsage}`);
    return 2;
  }
  const { values, positionals: files } = parsed;
  if (values.help) {
    io.out.write(mockUsage);
    return 0;
  }
  let options: MockDirectoryOptions;
  let faults: FaultSpec[];
  let tlsOn = false;
  try {
    if (values.profile !== undefined && values.profile !== 'ad' && values.profile !== 'plain') throw new UsageError('--profile must be ad or plain');
    faults = (values.fault ?? []).map((f) => faultSchema.parse(parseFaultFlag(f)));
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
    if (values.tls && values['tls-cert'] !== undefined) throw new UsageError('--tls generates a certificate: leave it out with --tls-cert');
    tlsOn = values.tls === true || values['tls-cert'] !== undefined;
    if (values['ldaps-port'] !== undefined && !tlsOn) throw new UsageError('--ldaps-port needs --tls or --tls-cert/--tls-key');
    if (values['tls-client-ca'] !== undefined && !tlsOn) throw new UsageError('--tls-client-ca needs --tls or --tls-cert/--tls-key');
    const verifyClient = values['tls-verify-client'];
    if (verifyClient !== undefined && verifyClient !== 'allow' && verifyClient !== 'demand') throw new UsageError('--tls-verify-client must be allow or demand');
    if (verifyClient !== undefined && values['tls-client-ca'] === undefined) throw new UsageError('--tls-verify-client needs --tls-client-ca');
    options = {
      ...(files.length > 0 && { files }),
      host: values.host ?? '127.0.0.1',
      port: integerFlag('--port', values.port ?? '3389'),
      ...(values['admin-password'] !== undefined && { adminPassword: values['admin-password'] }),
      ...(values['admin-dn'] !== undefined && { adminDn: values['admin-dn'] }),
      ...(values['anonymous-read'] && { anonymousRead: true }),
      ...(values.profile !== undefined && { profile: values.profile as 'ad' | 'plain' }),
      ...(values['max-val-range'] !== undefined && { maxValRange: integerFlag('--max-val-range', values['max-val-range']) }),
      ...(values.referrals && { referrals: true }),
      ...(values['require-tls'] && { requireTls: true }),
      ...(values['tls-cert'] !== undefined && { tlsCertFile: values['tls-cert'], tlsKeyFile: values['tls-key'] }),
      ...(tlsOn && { ldapsPort: integerFlag('--ldaps-port', values['ldaps-port'] ?? '3636') }),
      ...(values['tls-client-ca'] !== undefined && { tlsClientCa: values['tls-client-ca'] }),
      ...(verifyClient !== undefined && { tlsVerifyClient: verifyClient }),
      ...(values['fault-port'] !== undefined && { faultPort: integerFlag('--fault-port', values['fault-port']) }),
      ...(values['journal-size'] !== undefined && { journalSize: integerFlag('--journal-size', values['journal-size']) }),
      logger: createLogger((values['log-level'] ?? 'warn') as 'warn'),
    };
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof ZodError)) throw err;
    io.err.write(`canopy mock: ${describeError(err)}\n`);
    return 2;
  }

  let mock: MockDirectory;
  // Generated here rather than by each start, so that a --watch restart keeps the CA clients trust.
  let certificates: MockCertificates | undefined;
  try {
    if (values.tls) {
      certificates = await createMockCertificates([options.host!]);
      options = { ...options, tlsCertFile: certificates.certFile, tlsKeyFile: certificates.keyFile };
    }
    mock = await start(options, faults, io, certificates?.caFile);
  } catch (err) {
    await certificates?.remove();
    io.err.write(`canopy mock: ${describeError(err)}\n`);
    return 1;
  }
  let watchers: FSWatcher[] = [];
  if (values.watch && files.length > 0) {
    let timer: NodeJS.Timeout | undefined;
    const restart = async (): Promise<void> => {
      const previous = mock.toLdif();
      await mock.close();
      // Same port and password, so clients only need to reconnect.
      const again = {
        ...options,
        port: mock.port,
        ...(mock.ldapsPort !== undefined && { ldapsPort: mock.ldapsPort }),
        adminPassword: mock.password,
        ...(mock.faultUrl && { faultPort: Number(new URL(mock.faultUrl).port) }),
      };
      try {
        mock = await start(again, faults, io, certificates?.caFile);
      } catch (err) {
        io.err.write(`canopy mock: not reloaded, serving the previous data: ${describeError(err)}\n`);
        const { files: _files, ...rest } = again;
        mock = await start({ ...rest, ldif: previous }, faults, io, certificates?.caFile);
      }
    };
    watchers = files.map((f) =>
      watch(f, () => {
        clearTimeout(timer);
        // Editors write a file in several steps: reload once they are done.
        timer = setTimeout(() => void restart(), 200);
      }),
    );
  }
  await io.stopped;
  for (const w of watchers) w.close();
  if (values.save !== undefined) {
    await writeFile(values.save, mock.toLdif());
    io.out.write(`saved ${values.save}\n`);
  }
  await mock.close();
  await certificates?.remove();
  return 0;
}

async function start(options: MockDirectoryOptions, faults: readonly FaultSpec[], io: MockIo, caFile?: string): Promise<MockDirectory> {
  const mock = await withLoadHeapGrowth(() => startMockDirectory(options));
  releaseLoadGarbage();
  const lines = [
    `canopy mock directory listening on ${mock.url}${mock.ldapsUrl ? ` and ${mock.ldapsUrl} (StartTLS too)` : ''}`,
    `  port:      ${mock.port}`,
    ...(mock.ldapsPort !== undefined ? [`  ldaps:     ${mock.ldapsPort}`] : []),
    // For clients to trust, e.g. LDAPTLS_CACERT=… for OpenLDAP's tools.
    ...(caFile ? [`  CA file:   ${caFile}`] : []),
    `  suffixes:  ${mock.suffixes.join('  ')}`,
    `  profile:   ${mock.profile}`,
    `  entries:   ${mock.loaded}`,
    `  bind DN:   ${mock.bindDn}`,
    `  password:  ${mock.password}`,
    ...(mock.faultUrl ? [`  faults:    ${mock.faultUrl}/faults`, `  journal:   ${mock.faultUrl}/journal`] : []),
  ];
  io.out.write(lines.join('\n') + '\n');
  for (const w of mock.warnings) io.err.write(`canopy mock: warning: ${w}\n`);
  for (const f of faults) mock.faults.inject(f);
  return mock;
}

class UsageError extends Error {}

function integerFlag(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a non-negative integer, not "${text}"`);
  return Number(text);
}

/** `kind[:key=value,...]`, numbers as numbers: `latency:ms=200,per=entry`. */
export function parseFaultFlag(text: string): FaultSpec {
  const [kind, rest] = text.split(/:(.*)/s, 2);
  const spec: Record<string, string | number> = { kind };
  for (const pair of rest ? rest.split(',') : []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--fault ${text}: "${pair}" is not key=value`);
    const value = pair.slice(eq + 1);
    spec[pair.slice(0, eq)] = /^\d+$/.test(value) ? Number(value) : value;
  }
  return spec as unknown as FaultSpec;
}

function describeError(err: unknown): string {
  if (err instanceof ConfigErrors) return `invalid data or TLS files:\n${err.message.replace(/^/gm, '  ')}`;
  if (err instanceof ZodError) return `invalid fault: ${err.issues.map((i) => `${i.path.join('.') || 'kind'}: ${i.message}`).join('; ')}`;
  if (err instanceof LdifError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE' || e.code === 'EACCES') return `cannot listen: ${e.message}`;
  if (e.code === 'ENOENT') return `cannot read ${e.path ?? 'file'}: no such file`;
  return e.message;
}
