import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { accessSchema } from '../../src/config/auth-schema.js';
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js';
import { Dn } from '../../src/core/dn.js';
import { createLogger } from '../../src/observability/logger.js';
import { runDoctor, type DoctorReport } from '../../src/tools/doctor.js';
import type { Finding } from '../../src/tools/doctor-tally.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { ldapForestConfig } from './ldap-helpers.js';

// `canopy doctor` over the fixtures' planted problems (fixtures/README.md), through the real CLI
// for its output and exit status, and in process for what the configured view changes.

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'dist/cli.js');
const DEFAULT_CONFIG = join(root, 'config/default.yaml');
const env = { CANOPY_LOG_LEVEL: 'silent' };
const defaults = loadConfigFile(DEFAULT_CONFIG, { ...process.env, ...env });

const JDOE = ['CN=John Doe,OU=Users,ou=avvid,dc=corp,dc=example', 'CN=John Doe,OU=Users,ou=vse,dc=corp,dc=example'];
const PRINCE = 'CN=Prince,OU=Users,ou=avvid,dc=corp,dc=example';
const XWANG = 'CN=王小明,OU=Users,ou=avvid,dc=corp,dc=example';

function doctor(args: string[]) {
  return spawnSync(process.execPath, [cli, 'doctor', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

function doctorJson(args: string[]): { status: number | null; stderr: string; report: DoctorReport & { exitCode: number } } {
  const r = doctor([...args, '--json']);
  return { status: r.status, stderr: r.stderr, report: JSON.parse(r.stdout) as DoctorReport & { exitCode: number } };
}

const find = (report: Pick<DoctorReport, 'findings'>, check: string, subject: string, forest?: string): Finding | undefined =>
  report.findings.find((f) => f.check === check && f.subject === subject && (forest === undefined || f.forests.includes(forest)));

/** The findings table: each finding row with the DN lines indented below it. */
function tableFindings(stdout: string): { row: string[]; dns: string[] }[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('SEVERITY'));
  const detailsAt = lines[start].indexOf('DETAILS');
  const out: { row: string[]; dns: string[] }[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line === '') break;
    if (line.startsWith(' ')) out.at(-1)!.dns.push(line.slice(detailsAt).trim());
    else out.push({ row: line.split(/ {2,}/), dns: [] });
  }
  return out;
}

/** People in an LDIF as a sync client counts them (objectClass user, not computer), and all entries. */
function ldifCounts(file: string): { entries: number; users: number } {
  const entries = parseLdif(readFileSync(file, 'utf8'), file).map((r) => r.entry);
  const classes = (e: (typeof entries)[number]) => (e.get('objectClass')?.values ?? []).map((v) => String(v).toLowerCase());
  return { entries: entries.length, users: entries.filter((e) => classes(e).includes('user') && !classes(e).includes('computer')).length };
}

describe('canopy doctor on the fixtures (config/default.yaml)', () => {
  it('names the duplicate jdoe, the user without sn and the unmapped UPN suffix in its table, and exits 1', () => {
    const r = doctor(['--config', DEFAULT_CONFIG]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    const rows = tableFindings(r.stdout);
    const jdoe = rows.find((f) => f.row[2] === 'sAMAccountName=jdoe');
    expect(jdoe?.row.slice(0, 5)).toEqual(['blocking', 'duplicate-alias', 'sAMAccountName=jdoe', '2', 'avvid,vse']);
    expect(jdoe?.dns).toEqual(JDOE);
    const noSn = rows.find((f) => f.row[1] === 'missing-sn' && f.row[4] === 'avvid');
    expect(noSn?.row.slice(0, 4)).toEqual(['warning', 'missing-sn', 'sn', '1']);
    expect(noSn?.dns).toEqual([PRINCE]);
    const upn = rows.find((f) => f.row[1] === 'unmapped-upn-suffix' && f.row[4] === 'avvid');
    expect(upn?.row.slice(0, 4)).toEqual(['warning', 'unmapped-upn-suffix', '@legacy.avvid.info', '1']);
    expect(upn?.dns).toEqual([XWANG]);
    expect(r.stdout).toMatch(/^ou=avvid,dc=corp,dc=example +avvid +\d+ +61 +4 +complete$/m);
    expect(r.stdout).toMatch(/\d+ blocking, \d+ warnings, \d+ notes: .* \(exit 1\)\n$/);
  });

  it('reports the same in JSON, with every entry and user of each forest counted', () => {
    const { status, stderr, report } = doctorJson(['--config', DEFAULT_CONFIG]);
    expect(stderr).toBe('');
    expect(status).toBe(1);
    expect(report.exitCode).toBe(1);
    expect(report.aliasAttribute).toBe('sAMAccountName');
    expect(report.readAs).toBe('cn=cucm-sync,ou=accounts,dc=corp,dc=example');
    expect(find(report, 'duplicate-alias', 'sAMAccountName=jdoe')).toMatchObject({ severity: 'blocking', count: 2, forests: ['avvid', 'vse'], dns: JDOE });
    expect(find(report, 'missing-sn', 'sn', 'avvid')).toMatchObject({ severity: 'warning', count: 1, dns: [PRINCE] });
    expect(find(report, 'unmapped-upn-suffix', '@legacy.avvid.info', 'avvid')).toMatchObject({ severity: 'warning', count: 1, dns: [XWANG] });
    expect(find(report, 'unmapped-upn-suffix', '@legacy.vse.local', 'vse')?.count).toBe(1);
    // vse's own suffix is mapped (vse.lab → vse.local): its UPNs are not reported.
    expect(report.findings.filter((f) => f.check === 'unmapped-upn-suffix')).toHaveLength(2);
    expect(report.blocking).toBe(report.findings.filter((f) => f.severity === 'blocking').length);
    for (const f of defaults.forests) {
      if (f.backend !== 'memory') throw new Error('the default forests are memory forests');
      const base = report.bases.find((b) => b.forest === f.name)!;
      expect({ entries: base.entries, users: base.users }).toEqual(ldifCounts(f.ldif[0]));
      expect(base.error).toBeUndefined();
    }
  });

  it('--alias-attribute userPrincipalName: the unmapped suffixes block, jdoe (unique UPNs) does not', () => {
    const { status, report } = doctorJson(['--config', DEFAULT_CONFIG, '--alias-attribute', 'userPrincipalName']);
    expect(status).toBe(1);
    expect(report.aliasAttribute).toBe('userPrincipalName');
    expect(report.findings.filter((f) => f.severity === 'blocking').map((f) => [f.check, f.subject])).toEqual([
      ['unmapped-upn-suffix', '@legacy.avvid.info'],
      ['unmapped-upn-suffix', '@legacy.vse.local'],
    ]);
  });

  it('an unsupported --alias-attribute is a usage error (2) naming the choices', () => {
    const r = doctor(['--config', DEFAULT_CONFIG, '--alias-attribute', 'cn']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--alias-attribute "cn" is not supported; use one of sAMAccountName, userPrincipalName, mail, employeeNumber, telephoneNumber');
  });

  it('an invalid configuration, a bad --max-entries or an unknown --as is status 2, not a finding', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-doctor-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [a.ldif], colour: red }\n');
    const invalid = doctor(['--config', bad]);
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toContain('forests[0].colour: is not a known key');
    const max = doctor(['--config', DEFAULT_CONFIG, '--max-entries', 'lots']);
    expect(max.status).toBe(2);
    expect(max.stderr).toContain('--max-entries must be a non-negative integer');
    const as = doctor(['--config', DEFAULT_CONFIG, '--as', 'cn=nobody,dc=elsewhere']);
    expect(as.status).toBe(2);
    expect(as.stderr).toContain('"cn=nobody,dc=elsewhere" is neither a configured account nor within a forest\'s mount');
  });
});

describe('canopy doctor on a clean configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-doctor-clean-'));
  const config = join(dir, 'clean.yaml');
  beforeAll(() => {
    const person = (dn: string, cn: string, sam: string, upn: string, uac: number) =>
      `dn: ${dn}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\ncn: ${cn}\nsn: ${cn.split(' ')[1]}\nsAMAccountName: ${sam}\nuserPrincipalName: ${upn}\nuserAccountControl: ${uac}\n`;
    writeFileSync(
      join(dir, 'one.ldif'),
      [
        'dn: dc=one,dc=test\nobjectClass: top\nobjectClass: domain\ndc: one\n',
        person('cn=Ann Lee,dc=one,dc=test', 'Ann Lee', 'alee', 'alee@one.test', 512),
        person('cn=Bob Ray,dc=one,dc=test', 'Bob Ray', 'bray', 'bray@one.test', 514),
        // A computer (no sn, as in AD) and a contact (no sAMAccountName) are not users.
        'dn: cn=WS01,dc=one,dc=test\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\nobjectClass: computer\ncn: WS01\nsAMAccountName: WS01$\n',
        'dn: cn=Vendor Contact,dc=one,dc=test\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: contact\ncn: Vendor Contact\nsn: Contact\n',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'two.ldif'),
      ['dn: dc=two,dc=test\nobjectClass: top\nobjectClass: domain\ndc: two\n', person('cn=Cy Park,dc=two,dc=test', 'Cy Park', 'cpark', 'cpark@two.example', 512)].join('\n'),
    );
    writeFileSync(
      config,
      [
        'namespace: { suffix: "dc=corp,dc=test" }',
        'forests:',
        '  - { name: one, backend: memory, base: "dc=one,dc=test", mount: "ou=one,dc=corp,dc=test", upnSuffixes: { one.test: one.test }, ldif: [one.ldif] }',
        '  - { name: two, backend: memory, base: "dc=two,dc=test", mount: "ou=two,dc=corp,dc=test", upnSuffixes: { two.test: two.example }, ldif: [two.ldif] }',
        '',
      ].join('\n'),
    );
  });

  it('exits 0 with only the disabled user as a note', () => {
    const r = doctor(['--config', config]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('0 blocking, 0 warnings, 1 notes: nothing blocks (exit 0)');
    const { status, report } = doctorJson(['--config', config]);
    expect(status).toBe(0);
    expect(report.readAs).toBe("the forests' service accounts (no access rules applied)");
    expect(report.bases.map((b) => [b.base, b.entries, b.users, b.disabled])).toEqual([
      ['ou=one,dc=corp,dc=test', 5, 2, 1],
      ['ou=two,dc=corp,dc=test', 2, 1, 0],
    ]);
    expect(report.findings.map((f) => [f.severity, f.check, f.dns])).toEqual([['info', 'disabled-users', ['cn=Bob Ray,ou=one,dc=corp,dc=test']]]);
  });

  it('warns above --max-entries users per search base, and a warning does not block', () => {
    const { status, report } = doctorJson(['--config', config, '--max-entries', '1']);
    expect(status).toBe(0);
    expect(report.findings.filter((f) => f.severity === 'warning')).toEqual([
      expect.objectContaining({ check: 'entry-limit', subject: 'ou=one,dc=corp,dc=test', count: 2, forests: ['one'] }),
    ]);
  });

  it('a forest that cannot be read blocks (exit 1) and is named', () => {
    const down = join(dir, 'down.yaml');
    writeFileSync(
      down,
      readFileSync(config, 'utf8') +
        '  - { name: gone, backend: ldap, base: "dc=gone,dc=test", mount: "ou=gone,dc=corp,dc=test", servers: ["ldap://127.0.0.1:1"], timeouts: { connectMs: 500, operationMs: 1000 } }\n',
    );
    const { status, stderr, report } = doctorJson(['--config', down]);
    expect(status).toBe(1);
    // Logs go to stderr: stdout is the report alone.
    expect(stderr).toContain('upstream server marked down');
    expect(report.findings.filter((f) => f.severity === 'blocking')).toEqual([
      expect.objectContaining({ check: 'unreadable-forest', subject: 'ou=gone,dc=corp,dc=test', forests: ['gone'] }),
    ]);
    expect(report.bases.find((b) => b.forest === 'gone')?.error).toMatch(/unavailable|gone|127\.0\.0\.1:1/);
  });
});

describe('the doctor reads through the configured view', () => {
  const logger = createLogger('silent');
  const run = (config: LoadedConfig, as?: string) => runDoctor(config, { alias: 'sAMAccountName', maxEntries: 80_000, logger, ...(as && { as }) });

  it("a forest's filter leaves its jdoe out: no longer a duplicate", async () => {
    const forests = defaults.forests.map((f) => (f.name === 'vse' ? { ...f, filter: '(!(sAMAccountName=jdoe))' } : f));
    const report = await run({ ...defaults, forests });
    expect(find(report, 'duplicate-alias', 'sAMAccountName=jdoe')).toBeUndefined();
    expect(find(report, 'duplicate-alias', 'sAMAccountName=prince')).toBeDefined();
    expect(report.bases.find((b) => b.forest === 'vse')?.users).toBe(60);
  });

  it('attributes the reading account may not read count as missing', async () => {
    const sync = 'cn=cucm-sync,ou=accounts,dc=corp,dc=example';
    const access = accessSchema.parse([{ who: sync, what: { dn: 'dc=corp,dc=example', attributes: ['objectClass', 'sAMAccountName', 'userPrincipalName'] }, allow: 'read' }]);
    const report = await run({ ...defaults, access });
    expect(report.readAs).toBe(sync);
    expect(find(report, 'missing-sn', 'sn', 'avvid')?.count).toBe(61);
  });

  it('onDuplicate: priority over the alias resolves a value found once per forest: a warning, not a block', async () => {
    const namespace = { ...defaults.namespace!, uniqueAttributes: ['sAMAccountName'], onDuplicate: 'priority' as const };
    const report = await run({ ...defaults, namespace });
    expect(find(report, 'duplicate-alias', 'sAMAccountName=jdoe')?.severity).toBe('warning');
    expect(report.blocking).toBe(0);
  });

  it('--as a forest user reads that user’s view; several accounts without --as is a usage error', async () => {
    const jdoe = await run(defaults, JDOE[0]);
    // The default rules let an authenticated user read a few attributes, sAMAccountName and sn among them.
    expect(jdoe.readAs).toBe(`${JDOE[0]} (forest avvid)`);
    expect(find(jdoe, 'duplicate-alias', 'sAMAccountName=jdoe')).toBeDefined();
    const accounts = [...defaults.accounts, { ...defaults.accounts[0], dn: 'cn=other,ou=accounts,dc=corp,dc=example' }];
    await expect(run({ ...defaults, accounts })).rejects.toThrow(/several accounts are configured; choose whose view to read with --as/);
  });
});

describe('canopy doctor over slapd forests (upstream paging past a size limit)', () => {
  const slapds: Slapd[] = [];
  let config: string;
  beforeAll(async () => {
    const forests = await Promise.all(
      defaults.forests.map(async (f) => {
        if (f.backend !== 'memory') throw new Error('the default forests are memory forests');
        // A size limit far below the forest's size: only a paged read gets every entry.
        const slapd = await startSlapd({ suffix: f.base, ldif: f.ldif, extraConfig: 'sizelimit size.soft=25 size.hard=25 size.pr=25 size.prtotal=unlimited' });
        slapds.push(slapd);
        const { name, mount, upnSuffixes, netbiosName, attributes, priority } = f;
        return ldapForestConfig(f.base, [slapd.url], { name, mount, upnSuffixes, netbiosName, attributes, priority, pageSize: 20 });
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'canopy-doctor-slapd-'));
    config = join(dir, 'slapd.yaml');
    const document = { namespace: defaults.namespace, forests, accounts: defaults.accounts, access: defaults.access };
    // JSON is YAML; `$` doubled so the password hash is not read as a variable reference.
    writeFileSync(config, JSON.stringify(document).replaceAll('$', '$$$$'));
  });
  afterAll(() => Promise.all(slapds.map((s) => s.stop())));

  it('finds what it finds over the memory backend, and exits 1', async () => {
    const { status, report } = doctorJson(['--config', config]);
    expect(status).toBe(1);
    const memory = await runDoctor(defaults, { alias: 'sAMAccountName', maxEntries: 80_000, logger: createLogger('silent') });
    const comparable = (r: Pick<DoctorReport, 'findings' | 'bases'>) => ({
      bases: r.bases.map(({ forest, base, entries, users, disabled, error }) => ({ forest, base, entries, users, disabled, error })),
      findings: r.findings.map((f) => ({ ...f, dns: f.dns.map((d) => Dn.parse(d).key).sort() })),
    });
    expect(comparable(report)).toEqual(comparable(memory));
    expect(find(report, 'duplicate-alias', 'sAMAccountName=jdoe')?.severity).toBe('blocking');
    expect(find(report, 'missing-sn', 'sn', 'vse')?.count).toBe(1);
    expect(find(report, 'unmapped-upn-suffix', '@legacy.avvid.info', 'avvid')?.count).toBe(1);
    expect(report.bases.every((b) => b.users > 25)).toBe(true);
  });
});
