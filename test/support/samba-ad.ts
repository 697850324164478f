/**
 * Provisions a throw-away Samba Active Directory domain controller in a temporary directory and runs
 * it on loopback, serving LDAP only. For tests of what a real AD says about an account's state.
 * Samba's AD LDAP server has no port setting: it listens on 389 and 636 (LDAPS, with a self-signed
 * certificate it makes on first start), so one such DC runs on a machine at a time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, kill, run } from './slapd.js';

export const MISSING_FAKETIME = 'faketime is not installed: install the Debian package `faketime` (e.g. `apt-get install -y faketime`)';
export const MISSING_SAMBA =
  'Samba AD is not installed: install the Debian packages `samba-ad-dc` and `samba-ad-provision` (e.g. `apt-get install -y samba-ad-dc samba-ad-provision`)';
const SAMBA = '/usr/sbin/samba';
const SAMBA_TOOL = '/usr/bin/samba-tool';
const FAKETIME = '/usr/bin/faketime';
const LDAP_PORT = 389;
const LDAPS_PORT = 636;

export interface SambaDcOptions {
  /** The DNS domain, e.g. `canopy.test`; the realm is its upper case. */
  readonly domain: string;
  /** The NetBIOS domain name, e.g. `CANOPY`. */
  readonly netbiosName: string;
  readonly adminPassword: string;
}

export interface SambaDc {
  readonly url: string;
  readonly ldapsUrl: string;
  /** The domain's naming context, e.g. `DC=canopy,DC=test`. */
  readonly base: string;
  /** The PEM CA certificate Samba signed its LDAPS certificate with. */
  readonly caFile: string;
  /** The name in the LDAPS certificate (the DC's FQDN). */
  readonly tlsName: string;
  readonly adminDn: string;
  /** Runs `samba-tool` against this DC's own database (user create, disable, setexpiry, …). */
  tool(...args: string[]): Promise<string>;
  /**
   * Runs `samba-tool` with its clock `days` in the past (faketime): what it writes is dated then, e.g.
   * `pwdLastSet`, which Samba lets nobody set to a time of their choosing.
   */
  toolDaysAgo(days: number, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startSambaDc(options: SambaDcOptions): Promise<SambaDc> {
  if (![SAMBA, SAMBA_TOOL].every((f) => existsSync(f))) throw new Error(MISSING_SAMBA);
  for (const port of [LDAP_PORT, LDAPS_PORT]) {
    if (await accepts(port)) throw new Error(`port ${port} on 127.0.0.1 is in use: Samba AD's LDAP server listens there and has no setting to move it`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'canopy-samba-'));
  let child: ChildProcess | undefined;
  try {
    const host = 'dc1';
    await run(SAMBA_TOOL, [
      'domain', 'provision', `--realm=${options.domain.toUpperCase()}`, `--domain=${options.netbiosName}`,
      '--server-role=dc', '--dns-backend=NONE', `--host-name=${host}`, `--targetdir=${dir}`, `--adminpass=${options.adminPassword}`,
    ], 'samba-tool domain provision');
    const configFile = join(dir, 'etc', 'smb.conf');
    await writeFile(configFile, serveLdapOnly(await readFile(configFile, 'utf8'), dir));
    child = await launch(configFile);
    const base = options.domain.split('.').map((label) => `DC=${label}`).join(',');
    const running = child;
    return {
      url: `ldap://127.0.0.1:${LDAP_PORT}`,
      ldapsUrl: `ldaps://127.0.0.1:${LDAPS_PORT}`,
      base,
      caFile: join(dir, 'private', 'tls', 'ca.pem'),
      tlsName: `${host.toUpperCase()}.${options.domain}`,
      adminDn: `CN=Administrator,CN=Users,${base}`,
      // Named without its arguments in an error: they may hold passwords.
      tool: (...args) => run(SAMBA_TOOL, [...args, '-s', configFile], `samba-tool ${args.slice(0, 2).join(' ')}`),
      toolDaysAgo: (days, ...args) => {
        if (!existsSync(FAKETIME)) throw new Error(MISSING_FAKETIME);
        return run(FAKETIME, ['-f', `-${days}d`, SAMBA_TOOL, ...args, '-s', configFile], `faketime samba-tool ${args.slice(0, 2).join(' ')}`);
      },
      stop: async () => {
        await kill(running);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child) await kill(child);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The provisioned smb.conf, changed to run only the LDAP service on loopback (no SMB, Kerberos,
 * RPC or NetBIOS ports), to accept simple binds in clear as a test's clients send them, to forget a
 * changed password at once, and to log into the temporary directory.
 */
function serveLdapOnly(conf: string, dir: string): string {
  const global = [
    'server services = ldap',
    'interfaces = lo',
    'bind interfaces only = yes',
    'ldap server require strong auth = no',
    // A changed password stops working at once, as a test expects (AD keeps the old one for an hour).
    'old password allowed period = 0',
    `log file = ${join(dir, 'log.%m')}`,
  ];
  const kept = conf.split('\n').filter((line) => !/^\s*(server services|interfaces|bind interfaces only|log file)\s*=/i.test(line));
  const at = kept.findIndex((line) => /^\s*\[global\]/i.test(line));
  if (at < 0) throw new Error(`samba-tool wrote no [global] section:\n${conf}`);
  kept.splice(at + 1, 0, ...global.map((line) => `\t${line}`));
  return kept.join('\n');
}

/** Runs samba in the foreground and resolves once both LDAP ports accept connections. */
async function launch(configFile: string): Promise<ChildProcess> {
  const child = spawn(SAMBA, ['--interactive', '-s', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `samba exited (${code ?? signal}):\n${output}`));
  child.on('error', (err) => (exited = `samba failed to start: ${err.message}`));
  // The first start makes the LDAPS key pair, which takes a few seconds.
  const deadline = Date.now() + 60_000;
  while (!(await accepts(LDAP_PORT)) || !(await accepts(LDAPS_PORT))) {
    if (exited !== undefined) throw new Error(exited);
    if (Date.now() > deadline) {
      await kill(child);
      throw new Error(`samba did not accept LDAP connections within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}
