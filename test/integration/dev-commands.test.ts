import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const dev = readFileSync(join(root, 'dev'), 'utf8');

/** The `./dev X` commands of the README's "Two commands" section. */
function readmeSetupCommands(): string[] {
  const section = /## Two commands\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0);
}

describe('the README and ./dev agree', () => {
  it('the set-up is exactly two ./dev commands, and ./dev handles each', () => {
    const commands = readmeSetupCommands();
    expect(commands).toEqual(['./dev start', './dev test']);
    for (const c of commands) {
      const verb = c.split(' ')[1];
      expect(dev, `./dev has no "${verb}" case`).toMatch(new RegExp(`^\\s*${verb}\\) `, 'm'));
    }
    // Nothing else to install by hand: the README's set-up names no extra step.
    expect(readme).not.toMatch(/needs: apt-get/);
  });

  it('CI runs the README test command, which installs the packages the tests use', () => {
    const ci = readFileSync(join(root, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^exec \.\/dev test$/m);
    expect(ci).not.toContain('apt-get');
    const packages = /^TEST_PACKAGES=\(([^)]*)\)/m.exec(dev)?.[1].split(/\s+/).filter(Boolean);
    // Every outside program a test starts: the slapd forests and tools, the clients, the balancer, Samba AD, promtool.
    expect(packages).toEqual(expect.arrayContaining(['slapd', 'ldap-utils', 'openssl', 'python3-ldap3', 'haproxy', 'samba-ad-dc', 'prometheus', 'pamtester', 'faketime']));
    expect(dev).toMatch(/^\[ "\$cmd" = test \] && ensure_test_packages$/m);
  });

  it('./dev test, not root and a package missing, names the command to run and runs no test', () => {
    // A PATH whose dpkg-query says nothing is installed and whose id says "not root".
    const bin = join(root, 'node_modules/.cache/dev-test-fake-bin');
    spawnSync('mkdir', ['-p', bin]);
    spawnSync('sh', ['-c', `printf '#!/bin/sh\\nexit 1\\n' > ${bin}/dpkg-query; printf '#!/bin/sh\\necho 1000\\n' > ${bin}/id; chmod +x ${bin}/dpkg-query ${bin}/id`]);
    const r = spawnSync(join(root, 'dev'), ['test'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('dev: the tests need these Debian packages: slapd ldap-utils openssl python3-ldap3 sssd-ldap libnss-sss libpam-sss pamtester');
    expect(r.stderr).toContain('sudo apt-get install -y slapd ldap-utils openssl python3-ldap3 sssd-ldap libnss-sss libpam-sss pamtester');
    expect(r.stdout).not.toContain('vitest');
  });
});

describe('./dev start at a terminal', () => {
  it('logs for people and prints where it listens and how to begin; JSON when not a terminal', async () => {
    if (spawnSync('script', ['--version']).status !== 0) throw new Error('script not found: install the Debian package bsdutils');
    const cli = join(root, 'dist/cli.js');
    // `script` gives the server a pseudo-terminal as its stdout, as a person's shell would.
    const child = spawn('script', ['-qefc', `${process.execPath} ${cli} serve`, '/dev/null'], {
      env: { ...process.env, CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no welcome within 60 s:\n${out}`)), 60_000);
        child.stdout.on('data', () => {
          if (out.includes('Ctrl-C stops')) {
            clearTimeout(timer);
            done();
          }
        });
      });
    } finally {
      child.kill('SIGTERM');
    }
    expect(out).toMatch(/Canopy is serving dc=corp,dc=example at ldap:\/\/127\.0\.0\.1:\d+ \(forests: avvid, vse\)/);
    expect(out).toContain('Bind as cn=cucm-sync,ou=accounts,dc=corp,dc=example');
    expect(out).toContain('A one-minute tour');
    expect(out).toContain('canopy listening'); // pretty: a message, not a JSON object
    expect(out).not.toContain('"msg":"canopy listening"');
    expect(out).not.toContain('Cucm-Sync-Passw0rd!');
  }, 90_000);
});
