/**
 * Linux logins through Canopy (issue 24): Debian's SSSD (`sssd -i`, its own configuration, one
 * domain per forest mount, POSIX IDs mapped from objectSid) finds users and groups of both mock
 * forests, by name and by number, and checks passwords over LDAPS with pamtester; once with the
 * forests in memory, once served by slapd (an upstream that stores SIDs as bytes and checks the
 * passwords itself). SSSD keeps its
 * caches in /var/lib/sss and reads PAM services from /etc/pam.d: the test removes what it adds
 * there and puts back the file SSSD rewrites (config.ldb).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { fixtureForests, startTestServer, testConfig } from '../support/server.js';
import type { Slapd } from '../support/slapd.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';
import { slapdForestsLike } from './ldap-helpers.js';

const SSSD = '/usr/sbin/sssd';
const PAMTESTER = '/usr/bin/pamtester';
const NSS_SSS = '/usr/lib/x86_64-linux-gnu/libnss_sss.so.2';
const PAM_SSS = '/usr/lib/x86_64-linux-gnu/security/pam_sss.so';
const SSS_DIR = '/var/lib/sss';
const SUFFIX = 'dc=corp,dc=example';
const READER = `cn=linux-hosts,${SUFFIX}`;
const READER_PASSWORD = 'Linux-Hosts-Passw0rd!';
/** Unique per run, so nothing here meets a real SSSD's domains or a previous run's cache. */
const RUN_TAG = `canopytest${process.pid}`;

function requireSssd(): void {
  const missing = [
    [SSSD, 'sssd-ldap'],
    [NSS_SSS, 'libnss-sss'],
    [PAM_SSS, 'libpam-sss'],
    [PAMTESTER, 'pamtester'],
  ].filter(([file]) => !existsSync(file));
  if (missing.length > 0) throw new Error(`SSSD is not installed: install the Debian packages ${missing.map(([, p]) => p).join(' ')}`);
  if (process.getuid?.() !== 0) throw new Error('the SSSD test runs sssd, which needs root (its caches are in /var/lib/sss)');
}

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without blocking: Canopy answers SSSD from this very process. */
function run(command: string, args: readonly string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** `getent -s sss …`: asks SSSD directly, whatever /etc/nsswitch.conf says (it is not touched). */
const getent = (...args: string[]): Promise<Run> => run('getent', ['-s', 'sss', ...args]);

/** The configuration's forests where the suite wants them (left in memory, or served by slapds it stops). */
type PlaceForests = (config: LoadedConfig, slapds: Slapd[]) => Promise<LoadedConfig>;

function describeSssd(title: string, kind: string, placeForests: PlaceForests) {
  /** Per suite, so the second SSSD meets none of the first one's domains. */
  const TAG = `${RUN_TAG}${kind}`;
  const PAM_SERVICE = `${TAG}-login`;
  const PAM_FILE = join('/etc/pam.d', PAM_SERVICE);
  const pamAuthenticate = (user: string, password: string): Promise<Run> => run(PAMTESTER, [PAM_SERVICE, user, 'authenticate'], `${password}\n`);

  describe(title, () => {
    let server: Awaited<ReturnType<typeof startTestServer>>;
    let certs: TestCertificates;
    let sssd: ChildProcess | undefined;
    let sssdLog = '';
    const dir = mkdtempSync(join(tmpdir(), 'canopy-sssd-'));
    let sssBefore: Set<string> | undefined;
    /** SSSD's own databases that existed before: copied here and put back afterwards. */
    const backups = new Map<string, string>();
    const slapds: Slapd[] = [];

    beforeAll(async () => {
      requireSssd();
      certs = await makeTestCertificates();
      const config = testConfig(
        `namespace: { suffix: "${SUFFIX}" }
tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}" }
accounts:
  - { dn: "${READER}", passwordHash: "${await hashPassword(READER_PASSWORD)}" }
access:
  - { who: "${READER}", what: { dn: "${SUFFIX}" }, allow: read }
  - { who: authenticated, what: { dn: "${SUFFIX}", attributes: [objectClass, cn, sAMAccountName, userPrincipalName, objectSid] }, allow: read }
${fixtureForests
  .replace('ldif: [fixtures/avvid.info.ldif]', `ldif: [fixtures/avvid.info.ldif], mount: "ou=avvid,${SUFFIX}", netbiosName: AVVID, upnSuffixes: { avvid.info: avvid.info }`)
  .replace('ldif: [fixtures/vse.lab.ldif]', `ldif: [fixtures/vse.lab.ldif], mount: "ou=vse,${SUFFIX}", netbiosName: VSE, upnSuffixes: { vse.lab: vse.local }`)}`,
      );
      server = await startTestServer(await placeForests(config, slapds));
      const domain = (forest: string) => `[domain/${TAG}-${forest}]
id_provider = ldap
auth_provider = ldap
ldap_uri = ldaps://127.0.0.1:${server.ldapsPort}
ldap_tls_cacert = ${certs.caFile}
ldap_tls_reqcert = demand
ldap_search_base = ou=${forest},${SUFFIX}
ldap_schema = ad
ldap_id_mapping = true
ldap_default_bind_dn = ${READER}
ldap_default_authtok = ${READER_PASSWORD}
ldap_referrals = false
cache_credentials = false
entry_cache_timeout = 1
use_fully_qualified_names = true
`;
      const configFile = join(dir, 'sssd.conf');
      writeFileSync(
        configFile,
        `[sssd]\nservices = nss, pam\ndomains = ${TAG}-avvid, ${TAG}-vse\n\n[nss]\n\n[pam]\n\n${domain('avvid')}\n${domain('vse')}`,
        { mode: 0o600 },
      );
      writeFileSync(PAM_FILE, 'auth required pam_sss.so\naccount required pam_sss.so\n');
      sssBefore = new Set(listFiles(SSS_DIR));
      for (const f of listFiles(join(SSS_DIR, 'db'))) {
        const copy = join(dir, `backup-${backups.size}`);
        copyFileSync(f, copy);
        backups.set(f, copy);
      }
      // Its own process group: its responders and providers are ended with it, before the cleanup below.
      sssd = spawn(SSSD, ['-i', '-c', configFile, '--logger=stderr', '-d', '1'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      sssd.stderr!.on('data', (d: Buffer) => (sssdLog += d.toString()));
      // SSSD answers once its responders run and a domain is online.
      for (let i = 0; i < 100 && (await getent('passwd', `jdoe@${TAG}-avvid`)).status !== 0; i++) await new Promise((r) => setTimeout(r, 200));
    }, 60_000);

    afterAll(async () => {
      if (sssd?.pid !== undefined) await stopGroup(sssd);
      rmSync(PAM_FILE, { force: true });
      // Caches and memory caches SSSD made for these domains go; the configuration database it rewrote comes back.
      if (sssBefore) for (const f of listFiles(SSS_DIR)) if (!sssBefore.has(f)) rmSync(f, { force: true });
      for (const [f, copy] of backups) copyFileSync(copy, f);
      await server?.close();
      await Promise.all(slapds.map((s) => s.stop()));
      await certs?.remove();
      rmSync(dir, { recursive: true, force: true });
    });

    it('finds the jdoe of each forest as a different user, by name and by number', async () => {
      const avvid = await getent('passwd', `jdoe@${TAG}-avvid`);
      const vse = await getent('passwd', `jdoe@${TAG}-vse`);
      expect(avvid.status, sssdLog.slice(-2000)).toBe(0);
      expect(vse.status).toBe(0);
      const [, , uidA, gidA, gecosA] = avvid.stdout.trim().split(':');
      const [, , uidV, gidV] = vse.stdout.trim().split(':');
      expect(gecosA).toBe('John Doe');
      expect(uidA).not.toBe(uidV);
      // The primary group is Domain Users (primaryGroupID 513) of the user's own domain.
      expect(gidA).toMatch(/513$/);
      expect(gidV).toMatch(/513$/);
      expect(gidA).not.toBe(gidV);
      // By number: SSSD maps the UID back to a SID and searches (objectSID=S-1-5-21-…) in string form.
      expect((await getent('passwd', uidA)).stdout).toContain(`jdoe@${TAG}-avvid`);
      expect((await getent('passwd', uidV)).stdout).toContain(`jdoe@${TAG}-vse`);
    });

    it('resolves primary and supplementary groups, by name and by number', async () => {
      const user = `jdoe@${TAG}-avvid`;
      const gid = (await getent('passwd', user)).stdout.trim().split(':')[3];
      const primary = await getent('group', gid);
      expect(primary.status).toBe(0);
      expect(primary.stdout).toMatch(new RegExp(`^Domain Users@${TAG}-avvid:\\*:${gid}:`));
      const groups = await getent('initgroups', user);
      expect(groups.status).toBe(0);
      // Supplementary groups (the primary one comes from the passwd entry, as `id` shows it).
      const gids = groups.stdout.trim().split(/\s+/).slice(1);
      expect(gids.length).toBeGreaterThan(0);
      for (const g of [gid, ...gids]) {
        const group = await getent('group', g);
        expect(group.status, `group ${g}`).toBe(0);
        const name = group.stdout.split(':')[0];
        expect((await getent('group', name)).stdout.split(':')[2]).toBe(g);
      }
    });

    it('checks passwords over LDAPS for a user of each forest, the name present in both included', async () => {
      for (const user of [`jdoe@${TAG}-avvid`, `jdoe@${TAG}-vse`]) {
        const ok = await pamAuthenticate(user, USER_PASSWORD);
        expect(ok.status, `${user}: ${ok.stderr}`).toBe(0);
        expect((await pamAuthenticate(user, 'wrong-password')).status, user).not.toBe(0);
      }
    });
  });
}

describeSssd('SSSD over two memory forests through Canopy', 'memory', (config) => Promise.resolve(config));
describeSssd('SSSD over two forests served by slapd through Canopy', 'slapd', async (config, slapds) => ({
  ...config,
  forests: await slapdForestsLike(config, slapds),
}));

/**
 * Ends SSSD and every process it started (its group): a provider left running would write its
 * cache again after the cleanup removed it. SIGKILL for what SIGTERM has not ended within seconds.
 */
async function stopGroup(child: ChildProcess): Promise<void> {
  const signal = (name: NodeJS.Signals | 0): boolean => {
    try {
      process.kill(-child.pid!, name);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 50 && signal(0); i++) await new Promise((r) => setTimeout(r, 100));
  signal('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
}

function listFiles(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() || d.isSocket())
    .map((d) => join(d.parentPath, d.name));
}
