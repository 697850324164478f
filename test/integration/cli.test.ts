import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logRecords, spawnCanopy } from '../support/canopy-process.js';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'dist/cli.js');

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
}

describe('canopy command line', () => {
  it('--help lists the commands and the default configuration', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('serve');
    expect(r.stdout).toContain(join(root, 'config/default.yaml'));
  });

  it('an unknown command is a usage error', () => {
    const r = run(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });

  it('exits non-zero before listening on an invalid configuration, naming key and value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'listen: { ldap: "ldap//dc1" }\nforests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [a.ldif], colour: red }\n');
    const r = run(['serve', '--config', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('listen.ldap: "ldap//dc1" is not an ldap://host:port URL');
    expect(r.stderr).toContain('forests[0].colour: is not a known key');
    expect(r.stdout).not.toContain('canopy listening');
  });

  it('a YAML syntax error on the line of an inline password shows neither the line nor the password', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-cli-'));
    const file = join(dir, 'secret.yaml');
    writeFileSync(
      file,
      'forests:\n  - name: a\n    backend: ldap\n    base: "dc=a"\n    servers: ["ldap://127.0.0.1:1"]\n    bind:\n      dn: "cn=svc,dc=a"\n      password: "S3cr3t-XYZ" # the quote was meant to go here"\n     typo: 1\n',
    );
    for (const command of ['check', 'serve', 'validate']) {
      const r = run([command, '--config', file]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`canopy: invalid configuration ${file}`);
      expect(r.stderr).toMatch(/line 9, column \d+/);
      expect(r.stderr).not.toContain('S3cr3t-XYZ');
      expect(r.stdout).not.toContain('S3cr3t-XYZ');
    }
  });

  it('names a missing LDIF file by its key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-cli-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [nowhere.ldif] }\n');
    const r = run(['serve', '--config', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`forests[0].ldif[0]: cannot read ${join(dir, 'nowhere.ldif')}: ENOENT`);
    // A folder is no LDIF file for serve (the mock reads folders): named too, not a raw read error.
    writeFileSync(file, `forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: ["${dir}"] }\n`);
    const folder = run(['serve', '--config', file]);
    expect(folder.status).toBe(1);
    expect(folder.stderr).toContain(`forests[0].ldif[0]: cannot read ${dir}: EISDIR`);
  });

  it('validate accepts the default configuration', () => {
    const r = run(['validate']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('serve starts on the default configuration, as one process (memory forests), and stops cleanly on SIGTERM', async () => {
    const canopy = await spawnCanopy(process.execPath, [cli, 'serve'], { env: { CANOPY_PORT: '0' } });
    expect(canopy.url).toMatch(/^ldap:\/\/127\.0\.0\.1:\d+$/);
    expect(canopy.logLines.some((l) => l.includes('"forest":"avvid"'))).toBe(true);
    // serve.workers is auto by default, which a memory forest makes one process: said at info, and no worker starts.
    const records = logRecords(canopy);
    expect(records.find((l) => String(l.msg).startsWith('serve.workers auto: one process'))).toMatchObject({ level: 30, forests: ['avvid', 'vse'] });
    expect(records.find((l) => l.msg === 'canopy listening')).not.toHaveProperty('workers');
    expect(records.some((l) => l.msg === 'worker listening')).toBe(false);
    expect(await canopy.stop()).toBe(0);
  });
});
