/**
 * Starts a throw-away OpenLDAP slapd (back-mdb, AD-like schema) loaded from LDIF, on a free
 * loopback port. For tests that need a real upstream directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SlapdOptions {
  /** The database suffix, e.g. `DC=avvid,DC=info`. */
  readonly suffix: string;
  /** LDIF file paths, or LDIF texts (anything containing a newline), loaded in order. */
  readonly ldif: readonly string[];
  readonly rootDn?: string;
  readonly rootPassword?: string;
  /** Lines appended to the database section, e.g. `sizelimit size.soft=1000 …`. */
  readonly extraConfig?: string;
  /** Serve StartTLS on the ldap:// listener and LDAPS on a second port with this certificate. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

/** A running slapd, whatever it serves. */
export interface SlapdServer {
  readonly url: string;
  readonly port: number;
  /** The generated slapd.conf, for slap* tools (slapcat, slapschema) run against the same data. */
  readonly configFile: string;
  /** Set when started with `tls`. */
  readonly ldapsUrl?: string;
  /** The process id, undefined between `kill` and `restart` (for pinning it or reading /proc). */
  readonly pid: number | undefined;
  /** Stops the server but keeps its data and ports, for `restart` (failover tests). */
  kill(): Promise<void>;
  /** Starts the server again on the same ports after `kill`. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A slapd serving LDIF from back-mdb. */
export interface Slapd extends SlapdServer {
  readonly rootDn: string;
  readonly rootPassword: string;
}

const SBIN = '/usr/sbin';
const SLAPD = join(SBIN, 'slapd');
const SLAPADD = join(SBIN, 'slapadd');
const SCHEMA_DIR = '/etc/ldap/schema';
const AD_SCHEMA = fileURLToPath(new URL('../../fixtures/openldap/ad-schema.schema', import.meta.url));
export const MISSING_SLAPD =
  'OpenLDAP is not installed: install the Debian packages `slapd` and `ldap-utils` (e.g. `apt-get install -y slapd ldap-utils`)';

export async function startSlapd(options: SlapdOptions): Promise<Slapd> {
  const rootDn = options.rootDn ?? `CN=admin,${options.suffix}`;
  const rootPassword = options.rootPassword ?? 'secret';
  const server = await serve(options.tls, async (dir, configFile) => {
    await mkdir(join(dir, 'db'));
    await writeFile(configFile, [...(await header(dir, options.tls)), ...mdbDatabase(dir, options, rootDn, rootPassword)].join('\n'));
    for (const [i, source] of options.ldif.entries()) {
      const file = join(dir, `data-${i}.ldif`);
      const text = source.includes('\n') ? source : await readFile(source, 'utf8');
      // slapadd (2.5) does not know RFC 2849's `version: 1` line and reads it as an attribute.
      await writeFile(file, text.replace(/^version:[^\n]*\n/i, ''));
      await run(SLAPADD, ['-f', configFile, '-l', file, '-q']);
    }
  });
  return Object.assign(server, { rootDn, rootPassword });
}

/**
 * Starts slapd with the same schema and `database` (slapd.conf lines from `moduleload` and
 * `database` on) instead of a loaded back-mdb: e.g. a back-meta proxy in front of other slapd servers.
 */
export function startSlapdWith(database: string): Promise<SlapdServer> {
  return serve(undefined, async (dir, configFile) => {
    await writeFile(configFile, [...(await header(dir)), database, ''].join('\n'));
  });
}

/** Makes a directory, lets `prepare` write the configuration (and data) there, then runs slapd on free ports. */
async function serve(
  tls: SlapdOptions['tls'],
  prepare: (dir: string, configFile: string) => Promise<void>,
): Promise<SlapdServer> {
  // ldapsearch (ldap-utils) is not needed here, but tests using this harness spawn it.
  if (![SLAPD, SLAPADD, join(SCHEMA_DIR, 'core.schema'), '/usr/bin/ldapsearch'].every((f) => existsSync(f))) {
    throw new Error(MISSING_SLAPD);
  }
  const dir = await mkdtemp(join(tmpdir(), 'canopy-slapd-'));
  try {
    const configFile = join(dir, 'slapd.conf');
    await prepare(dir, configFile);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const ldapsPort = tls ? await freePort() : undefined;
      try {
        let child: ChildProcess | undefined = await launch(configFile, port, ldapsPort);
        return {
          url: `ldap://127.0.0.1:${port}`,
          port,
          ldapsUrl: ldapsPort === undefined ? undefined : `ldaps://127.0.0.1:${ldapsPort}`,
          configFile,
          get pid() {
            return child?.pid;
          },
          kill: async () => {
            if (child) await kill(child);
            child = undefined;
          },
          restart: async () => {
            if (child) await kill(child);
            child = await launch(configFile, port, ldapsPort);
          },
          stop: async () => {
            if (child) await kill(child);
            child = undefined;
            await rm(dir, { recursive: true, force: true });
          },
        };
      } catch (err) {
        // Another process may take the port between our probe and slapd's bind; slapd then exits
        // (at -d 0 often without a word), and a configuration error fails the same way every time.
        if (attempt >= 5 || !/already in use|bind|slapd exited/i.test(String(err))) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The global section: the AD-like schema, pid files, TLS, the module path. */
async function header(dir: string, tls?: SlapdOptions['tls']): Promise<string[]> {
  await writeFile(join(dir, 'core.schema'), adLikeCoreSchema(await readFile(join(SCHEMA_DIR, 'core.schema'), 'utf8')));
  return [
    `include ${join(dir, 'core.schema')}`,
    ...['cosine', 'inetorgperson'].map((s) => `include ${join(SCHEMA_DIR, `${s}.schema`)}`),
    `include ${AD_SCHEMA}`,
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    ...(tls ? [`TLSCertificateFile ${tls.certFile}`, `TLSCertificateKeyFile ${tls.keyFile}`] : []),
    'modulepath /usr/lib/ldap',
  ];
}

function mdbDatabase(dir: string, options: SlapdOptions, rootDn: string, rootPassword: string): string[] {
  const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return [
    'moduleload back_mdb',
    'database mdb',
    'maxsize 1073741824',
    `suffix ${quote(options.suffix)}`,
    `rootdn ${quote(rootDn)}`,
    `rootpw ${quote(rootPassword)}`,
    `directory ${join(dir, 'db')}`,
    'index objectClass eq',
    'index sAMAccountName,userPrincipalName,mail eq,sub',
    'index objectGUID eq',
    options.extraConfig ?? '',
    '',
  ];
}

/**
 * OpenLDAP's `person` requires `sn`; AD's does not (computers, service accounts and some people
 * have none). A copy of core.schema with `sn` optional keeps full schema checking for the rest.
 */
function adLikeCoreSchema(core: string): string {
  const person = /(NAME 'person'[^)]*?)MUST \( sn \$ cn \)(\s+)MAY \( /;
  if (!person.test(core)) throw new Error(`unexpected ${SCHEMA_DIR}/core.schema: cannot make person's sn optional`);
  return core.replace(person, '$1MUST cn$2MAY ( sn $$ ');
}

/** Runs a command to its end; its output, or an error with the output (`shown` is the command line to name there). */
export function run(command: string, args: readonly string[], shown = `${command} ${args.join(' ')}`): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${shown} exited with ${code}:\n${output}`)),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts slapd in the foreground (-d) and resolves once it listens on its ports. */
async function launch(configFile: string, port: number, ldapsPort?: number): Promise<ChildProcess> {
  const urls = [`ldap://127.0.0.1:${port}/`, ...(ldapsPort === undefined ? [] : [`ldaps://127.0.0.1:${ldapsPort}/`])];
  const child = spawn(SLAPD, ['-f', configFile, '-h', urls.join(' '), '-d', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `slapd exited (${code ?? signal}):\n${stderr}`));
  child.on('error', (err) => (exited = `slapd failed to start: ${err.message}`));
  const deadline = Date.now() + 10_000;
  // Owned by this child, not merely accepted: another test's server may hold a port that the
  // probe in freePort saw free, and then this slapd exits while that one answers.
  while (!(await listensOn(child.pid, port)) || (ldapsPort !== undefined && !(await listensOn(child.pid, ldapsPort)))) {
    if (exited !== undefined) throw new Error(exited);
    if (Date.now() > deadline) {
      await kill(child);
      throw new Error(`slapd did not accept connections on port ${port} within 10 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return child;
}

/** Whether process `pid` holds a socket listening on 127.0.0.1:`port` (Linux /proc). */
async function listensOn(pid: number | undefined, port: number): Promise<boolean> {
  if (pid === undefined) return false;
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // local_address is "0100007F:PORT"; state 0A is LISTEN; field 9 is the socket's inode.
    if (fields[1] === `0100007F:${hexPort}` && fields[3] === '0A') inodes.add(`socket:[${fields[9]}]`);
  }
  if (inodes.size === 0) return false;
  const fdDir = `/proc/${pid}/fd`;
  const fds = await readdir(fdDir).catch(() => [] as string[]);
  for (const fd of fds) {
    if (inodes.has(await readlink(join(fdDir, fd)).catch(() => ''))) return true;
  }
  return false;
}

export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process exited. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
