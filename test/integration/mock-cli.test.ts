/** `canopy mock` as a developer runs it: a separate process serving LDIF files without a configuration. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { runLdapTool } from '../support/ldap-tools.js';
import { repoRoot } from '../support/server.js';
import { makeClientCertificate, makeTestCertificates } from '../support/tls.js';

const cli = join(repoRoot, 'dist/cli.js');

interface Mock {
  readonly child: ChildProcess;
  /** Resolves with the next start-up banner's fields (url, password, …). */
  banner(): Promise<Record<string, string>>;
  stop(): Promise<number | null>;
}

function spawnMock(args: string[]): Mock {
  const child = spawn(process.execPath, [cli, 'mock', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const waiting: ((fields: Record<string, string>) => void)[] = [];
  let fields: Record<string, string> = {};
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const listening = /listening on (\S+)/.exec(line);
    if (listening) fields = { url: listening[1] };
    const field = /^ {2}([a-zA-Z ]+):\s+(.*)$/.exec(line);
    if (field) fields[field[1].trim()] = field[2];
    if (field?.[1].startsWith('password')) waiting.shift()?.(fields);
  });
  return {
    child,
    banner: () => new Promise((resolve) => waiting.push(resolve)),
    stop: () =>
      new Promise((done) => {
        child.once('exit', (code) => done(code));
        child.kill('SIGTERM');
      }),
  };
}

const LDIF = `dn: dc=example,dc=com
objectClass: domain
dc: example

dn: cn=alice,dc=example,dc=com
objectClass: person
cn: alice
sn: Smith
`;

const search = (b: Record<string, string>, filter: string) =>
  runLdapTool('ldapsearch', ['-x', '-LLL', '-H', b.url, '-D', b['bind DN'], '-w', b.password, '-b', 'dc=example,dc=com', filter, 'sn']);

describe('canopy mock', () => {
  it('serves LDIF files on a free port, prints how to bind, saves its state on exit and reloads on change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-mock-'));
    const file = join(dir, 'data.ldif');
    const saved = join(dir, 'saved.ldif');
    writeFileSync(file, LDIF);
    const mock = spawnMock([file, '--port', '0', '--admin-dn', 'cn=Manager,dc=example,dc=com', '--admin-password', 'Adm1n!', '--save', saved, '--watch']);
    const b = await mock.banner();
    expect(b.url).toMatch(/^ldap:\/\/127\.0\.0\.1:\d+$/);
    expect(b).toMatchObject({ port: b.url.split(':')[2], suffixes: 'dc=example,dc=com', profile: 'plain', entries: '2', 'bind DN': 'cn=Manager,dc=example,dc=com', password: 'Adm1n!' });
    expect((await search(b, '(cn=alice)')).stdout).toContain('sn: Smith');

    const modify = await runLdapTool('ldapmodify', ['-x', '-H', b.url, '-D', b['bind DN'], '-w', 'Adm1n!'], 'dn: cn=alice,dc=example,dc=com\nchangetype: modify\nreplace: sn\nsn: Jones\n');
    expect(modify.status).toBe(0);

    const reloaded = mock.banner();
    writeFileSync(file, LDIF + '\ndn: cn=bob,dc=example,dc=com\nobjectClass: person\ncn: bob\nsn: Brown\n');
    const again = await reloaded;
    expect(again).toMatchObject({ url: b.url, entries: '3', password: 'Adm1n!' });
    expect((await search(again, '(cn=bob)')).stdout).toContain('sn: Brown');

    expect(await mock.stop()).toBe(0);
    const state = readFileSync(saved, 'utf8');
    expect(state).toContain('dn: cn=bob,dc=example,dc=com');
    expect(state).toContain('sn: Smith'); // reloaded from the file, so the earlier change is gone
  });

  it('serves the bundled fixtures with a generated password and the AD profile', async () => {
    const mock = spawnMock(['--port', '0', '--fault', 'unavailable:count=1,forest=vse.lab']);
    const b = await mock.banner();
    expect(b).toMatchObject({ suffixes: 'DC=avvid,DC=info  DC=vse,DC=lab', profile: 'ad', entries: '164' });
    expect(b.password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const vse = ['-x', '-LLL', '-H', b.url, '-D', b['bind DN'], '-w', b.password, '-b', 'DC=vse,DC=lab', '(sAMAccountName=jdoe)', 'memberOf'];
    expect((await runLdapTool('ldapsearch', vse)).status).toBe(52);
    const after = await runLdapTool('ldapsearch', vse);
    expect(after.status).toBe(0);
    expect(after.stdout).toContain('memberOf:');
    expect(await mock.stop()).toBe(0);
  });

  it('serves LDAPS and StartTLS with --tls, printing the CA file to trust, removed on exit', async () => {
    const mock = spawnMock(['--port', '0', '--ldaps-port', '0', '--tls', '--admin-password', 'Adm1n!']);
    const b = await mock.banner();
    expect(b.ldaps).toMatch(/^\d+$/);
    const ldaps = `ldaps://127.0.0.1:${b.ldaps}`;
    const trust = { LDAPTLS_CACERT: b['CA file'] };
    const args = (url: string, ...extra: string[]) => ['-x', '-LLL', ...extra, '-H', url, '-D', 'cn=admin', '-w', 'Adm1n!', '-b', 'DC=avvid,DC=info', '-s', 'base', 'dc'];
    expect((await runLdapTool('ldapsearch', args(ldaps), undefined, trust)).stdout).toContain('dc: avvid');
    expect((await runLdapTool('ldapsearch', args(b.url, '-ZZ'), undefined, trust)).stdout).toContain('dc: avvid');
    expect(await mock.stop()).toBe(0);
    expect(existsSync(b['CA file'])).toBe(false);
  });

  it('asks TLS clients for a certificate with --tls-client-ca, binding it with SASL EXTERNAL; --tls-verify-client demand refuses others', async () => {
    const certs = await makeTestCertificates();
    try {
      const alice = await makeClientCertificate(certs, 'alice', '/DC=com/DC=example/CN=alice');
      const dir = certs.dir;
      writeFileSync(join(dir, 'data.ldif'), LDIF);
      const mock = spawnMock([join(dir, 'data.ldif'), '--port', '0', '--ldaps-port', '0', '--tls', '--tls-client-ca', certs.caFile, '--tls-verify-client', 'demand']);
      const b = await mock.banner();
      const whoami = (env: Record<string, string>) =>
        runLdapTool('ldapwhoami', ['-Q', '-Y', 'EXTERNAL', '-H', `ldaps://127.0.0.1:${b.ldaps}`], undefined, { LDAPTLS_CACERT: b['CA file'], ...env });
      expect((await whoami({ LDAPTLS_CERT: alice.certFile, LDAPTLS_KEY: alice.keyFile })).stdout.trim()).toBe('dn:cn=alice,dc=example,dc=com');
      const refused = await runLdapTool('ldapwhoami', ['-x', '-H', `ldaps://127.0.0.1:${b.ldaps}`], undefined, { LDAPTLS_CACERT: b['CA file'] });
      expect(refused.status).not.toBe(0); // no certificate: the handshake fails
      expect(await mock.stop()).toBe(0);
    } finally {
      await certs.remove();
    }
  });

  it('rejects bad flags and unreadable files', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'mock', ...args], { encoding: 'utf8', timeout: 20_000 });
    expect(run('--profile', 'novell').status).toBe(2);
    expect(run('--fault', 'latency').stderr).toContain('invalid fault');
    expect(run('--tls-cert', 'x.pem').stderr).toContain('--tls-cert and --tls-key go together');
    expect(run('--ldaps-port', '0').status).toBe(2);
    expect(run('--tls-client-ca', 'ca.pem').stderr).toContain('--tls-client-ca needs --tls or --tls-cert/--tls-key');
    expect(run('--tls', '--tls-verify-client', 'demand').stderr).toContain('--tls-verify-client needs --tls-client-ca');
    expect(run('--tls', '--tls-client-ca', 'ca.pem', '--tls-verify-client', 'never').stderr).toContain('--tls-verify-client must be allow or demand');
    const noCa = run('--tls', '--port', '0', '--ldaps-port', '0', '--tls-client-ca', '/nowhere/ca.pem');
    expect(noCa.status).toBe(1);
    expect(noCa.stderr).toContain('tls.clientCa: cannot read /nowhere/ca.pem: ENOENT');
    const missing = run('/nowhere/x.ldif', '--port', '0');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('/nowhere/x.ldif');
  });
});
