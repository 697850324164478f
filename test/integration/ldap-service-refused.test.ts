/**
 * A refused service account password is a configuration error, not an outage to retry: after one
 * refused bind no request or readiness probe binds with it again (Active Directory would lock the
 * account out), every surface names it, and a new password in `bind.passwordFile` is taken
 * without a restart. Binds are counted by a proxy in front of slapd.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLdapForest, type LdapDirectory } from '../../src/backends/ldap/ldap-directory.js';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';
import type { LdapForestConfig } from '../../src/config/schema.js';
import { Dn } from '../../src/core/dn.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { checkReadiness } from '../../src/http/check-readiness.js';
import { createLogger } from '../../src/observability/logger.js';
import { metrics, metricValue } from '../../src/observability/metrics.js';
import { runDoctor } from '../../src/tools/doctor.js';
import { SERVICE_PASSWORD } from '../../src/tools/fixture-generator.js';
import { startCountingProxy, type CountingProxy } from '../support/counting-proxy.js';
import { openAccess, startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { collect, context, searchRequest, serviceDn } from './ldap-helpers.js';

const SUFFIX = 'DC=avvid,DC=info';
const FIXTURE = fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url));
const WRONG = 'Rotated-Yesterday-1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a refused service account', () => {
  let slapd: Slapd;
  let proxy: CountingProxy;
  let dir: string;
  let passwordFile: string;
  let config: LoadedConfig;
  let forest: LdapDirectory;
  const logLines: string[] = [];

  const lookup = async (): Promise<number | LdapError> => {
    try {
      return (await collect(forest.search(searchRequest(SUFFIX, '(sAMAccountName=jdoe)', 'sub', ['1.1']), context()))).length;
    } catch (err) {
      if (err instanceof LdapError) return err;
      throw err;
    }
  };

  beforeAll(async () => {
    slapd = await startSlapd({ suffix: SUFFIX, ldif: [FIXTURE] });
    proxy = await startCountingProxy(slapd);
    dir = mkdtempSync(join(tmpdir(), 'canopy-refused-'));
    passwordFile = join(dir, 'avvid.secret');
    writeFileSync(passwordFile, `${WRONG}\n`);
    config = parseConfig(
      [
        'forests:',
        '  - name: avvid',
        '    backend: ldap',
        `    base: "${SUFFIX}"`,
        `    servers: ["${proxy.url}"]`,
        `    bind: { dn: "${serviceDn(SUFFIX)}", passwordFile: avvid.secret }`,
        '    timeouts: { connectMs: 2000, operationMs: 5000 }',
        '',
      ].join('\n'),
      { source: join(dir, 'canopy.yaml'), baseDir: dir },
    );
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    forest = openLdapForest(config.forests[0] as LdapForestConfig, createLogger('info', sink));
  });

  afterAll(async () => {
    await forest?.close();
    await proxy?.close();
    await slapd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers unavailable naming the forest, after one bind; the refused account, its server and the fix are the log\'s', async () => {
    const err = await lookup();
    expect(err).toBeInstanceOf(LdapError);
    expect((err as LdapError).code).toBe(52);
    expect((err as LdapError).message).toBe('forest "avvid": its service account was refused; no further binds are tried with this password until an operator fixes it');
    expect((err as LdapError).detail).toMatch(/^the service account CN=svc-canopy,.* was refused by ldap:\/\//);
    expect((err as LdapError).detail).toContain(passwordFile);
    expect(proxy.binds).toBe(1);
  });

  it('binds no more for further requests, readiness probes or recovery probes', async () => {
    for (let i = 0; i < 10; i++) expect(((await lookup()) as LdapError).code).toBe(52);
    const compared = await forest.compare(Dn.parse(`CN=John Doe,OU=Users,${SUFFIX}`), 'sn', 'Doe', context()).catch((e: unknown) => e);
    expect((compared as LdapError).code).toBe(52);
    const first = await checkReadiness(true, [{ name: 'avvid', ready: () => forest.ready() }]);
    await sleep(2100); // past the readiness cache: a second probe runs
    const second = await checkReadiness(true, [{ name: 'avvid', ready: () => forest.ready() }]);
    for (const r of [first, second]) {
      expect(r.ready).toBe(false);
      expect(r.forests[0].reason).toMatch(/^forest "avvid": its service account was refused.*\[the service account .* was refused by ldap:\/\//);
    }
    expect(proxy.binds).toBe(1);
  });

  it('is logged at error once, without the password, and shown by the metric', async () => {
    const errors = logLines.filter((l) => l.includes('"level":50'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('"forest":"avvid"');
    expect(errors[0]).toContain(proxy.url);
    expect(logLines.join('')).not.toContain(WRONG);
    expect(await metricValue(metrics.upstreamServiceBindRefused, { forest: 'avvid' })).toBe(1);
  });

  it('is a blocking finding of canopy doctor', async () => {
    const report = await runDoctor(config, { alias: 'sAMAccountName', maxEntries: 80_000, logger: createLogger('silent') });
    const finding = report.findings.find((f) => f.check === 'service-account-refused');
    expect(finding).toMatchObject({ severity: 'blocking', forests: ['avvid'], subject: serviceDn(SUFFIX) });
    expect(finding?.message).toContain('was refused');
    expect(report.blocking).toBeGreaterThan(0);
  });

  it('is bound with once more after a reload that keeps the forest (the account may have been fixed in the directory)', async () => {
    const file = join(dir, 'reload.secret');
    writeFileSync(file, `${WRONG}\n`);
    const yaml =
      `forests:\n  - { name: reloaded, backend: ldap, base: "${SUFFIX}", servers: ["${proxy.url}"], ` +
      `bind: { dn: "${serviceDn(SUFFIX)}", passwordFile: "${file}" } }\n${openAccess}`;
    const server = await startTestServer(yaml);
    const client = new Client({ url: server.url });
    const search = () => client.search(SUFFIX, { filter: '(sAMAccountName=jdoe)', attributes: ['1.1'] }).then(() => 0, (e: { code: number }) => e.code);
    try {
      const before = proxy.binds;
      expect(await search()).toBe(52);
      expect(await search()).toBe(52);
      expect(proxy.binds).toBe(before + 1);
      const report = await server.reload(server.config);
      expect(report.reopened).toEqual([]);
      expect(proxy.binds).toBe(before + 1);
      expect(await search()).toBe(52);
      expect(proxy.binds).toBe(before + 2);
    } finally {
      await client.unbind().catch(() => undefined);
      await server.close();
    }
  });

  it('serves again within seconds of the right password being written to the password file, without a restart', async () => {
    const before = proxy.binds;
    writeFileSync(passwordFile, `${SERVICE_PASSWORD}\n`);
    const started = Date.now();
    let answer = await lookup();
    while (answer !== 1 && Date.now() - started < 10_000) {
      await sleep(100);
      answer = await lookup();
    }
    expect(answer).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(proxy.binds).toBeGreaterThan(before);
    expect(await metricValue(metrics.upstreamServiceBindRefused, { forest: 'avvid' })).toBe(0);
    await sleep(2100);
    expect((await forest.ready()).ready).toBe(true);
  });
});
