import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCanopy, type CanopyProcess } from '../support/canopy-process.js';

// Installs the packed package with --omit=dev into an empty folder and serves the bundled
// fixtures from there: a runtime dependency missing from "dependencies" fails this test.
describe('the packed package', () => {
  const root = resolve(import.meta.dirname, '../..');
  const dir = mkdtempSync(join(tmpdir(), 'canopy-pack-'));
  let canopy: CanopyProcess;

  beforeAll(async () => {
    execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root, stdio: 'pipe' });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    writeFileSync(join(dir, 'package.json'), '{"name":"pack-test","private":true}');
    execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', join(dir, tarball)], { cwd: dir, stdio: 'pipe' });
    canopy = await spawnCanopy(join(dir, 'node_modules/.bin/canopy'), ['serve'], {
      cwd: dir,
      env: { CANOPY_PORT: '0', CANOPY_LOG_LEVEL: 'info' },
    });
  }, 180_000);

  afterAll(async () => {
    expect(await canopy?.stop()).toBe(0);
  });

  it('starts on its bundled default and answers a search', async () => {
    const client = new Client({ url: canopy.url });
    try {
      // The default's local sync account (anonymous clients see the root DSE and schema only).
      await client.bind('cn=cucm-sync,ou=accounts,dc=corp,dc=example', 'Cucm-Sync-Passw0rd!');
      const { searchEntries } = await client.search('ou=avvid,dc=corp,dc=example', {
        filter: '(sAMAccountName=jdoe)',
        attributes: ['userPrincipalName'],
      });
      expect(searchEntries.map((e) => e.userPrincipalName)).toEqual(['jdoe@avvid.info']);
    } finally {
      await client.unbind();
    }
  });

  it('runs Node with the young generation bounded (the command`s own flags), so a sync stays within its memory', () => {
    const argv = readFileSync(`/proc/${canopy.child.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('--max-semi-space-size=8');
    expect(argv).toContain('--heap-growing-percent=40');
    expect(argv[0]).toMatch(/node$/); // env exec'd Node itself: it gets the signals
  });

  it('prints its help', () => {
    const help = execFileSync(join(dir, 'node_modules/.bin/canopy'), ['--help'], { encoding: 'utf8' });
    expect(help).toMatch(/canopy <command>/);
    expect(help).toMatch(/serve/);
  });
});
