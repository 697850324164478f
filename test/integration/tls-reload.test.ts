/**
 * Canopy's own certificate renewed in place (a Kubernetes Secret updated, a renewal tool's
 * output) is served from the next reload on, without a restart that would cut running syncs.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigErrors } from '../../src/config/config-error.js';
import { parseConfig } from '../../src/config/load.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { fixtureForests, openAccess, repoRoot, startTestServer } from '../support/server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';

describe("reloading Canopy's own certificate", () => {
  let first: TestCertificates;
  let second: TestCertificates;
  let dir: string;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let yaml: string;

  beforeAll(async () => {
    [first, second] = await Promise.all([makeTestCertificates(), makeTestCertificates()]);
    dir = mkdtempSync(join(tmpdir(), 'canopy-tls-reload-'));
    copyFileSync(first.certFile, join(dir, 'cert.pem'));
    copyFileSync(first.keyFile, join(dir, 'key.pem'));
    yaml = `tls: { certFile: "${join(dir, 'cert.pem')}", keyFile: "${join(dir, 'key.pem')}" }\n${fixtureForests}${openAccess}`;
    server = await startTestServer(yaml);
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    await Promise.all([first?.remove(), second?.remove()]);
  });

  /** Whether an LDAPS client trusting only `caFile` completes a search. */
  async function trusts(caFile: string): Promise<boolean> {
    const client = new Client({ url: `ldaps://127.0.0.1:${server.ldapsPort}`, tlsOptions: { ca: readFileSync(caFile) }, connectTimeout: 3000 });
    try {
      await client.search('DC=avvid,DC=info', { filter: '(sAMAccountName=jdoe)' });
      return true;
    } catch {
      return false;
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  const reload = () => server.reload(parseConfig(yaml, { source: 'test', baseDir: repoRoot }));
  const expiry = (file: string) => Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000;

  it('serves the renewed certificate to new connections after a reload, and publishes its expiry', async () => {
    expect(await trusts(first.caFile)).toBe(true);
    copyFileSync(second.certFile, join(dir, 'cert.pem'));
    copyFileSync(second.keyFile, join(dir, 'key.pem'));
    expect(await trusts(second.caFile)).toBe(false); // nothing read until the reload
    await reload();
    expect(await trusts(second.caFile)).toBe(true);
    expect(await trusts(first.caFile)).toBe(false);
    expect(await metricValue(metrics.tlsCertificateExpiry, { file: join(dir, 'cert.pem') })).toBe(expiry(second.certFile));
  });

  it('refuses a reload whose certificate and key do not belong together, and keeps serving the old pair', async () => {
    copyFileSync(first.certFile, join(dir, 'cert.pem')); // the key is still the second's
    await expect(reload()).rejects.toThrow(ConfigErrors);
    await expect(reload()).rejects.toThrow(/cannot be served together/);
    expect(await trusts(second.caFile)).toBe(true);
  });

  it('serves the files a reload names at other paths, without a restart; asking for client certificates waits for one', async () => {
    const moved = `tls: { certFile: "${first.certFile}", keyFile: "${first.keyFile}" }\n${fixtureForests}${openAccess}`;
    const report = await server.reload(parseConfig(moved, { source: 'test', baseDir: repoRoot }));
    expect(report.needRestart).toEqual([]);
    expect(await trusts(first.caFile)).toBe(true);
    expect(await trusts(second.caFile)).toBe(false);
    expect(await metricValue(metrics.tlsCertificateExpiry, { file: first.certFile })).toBe(expiry(first.certFile));
    expect(await metricValue(metrics.tlsCertificateExpiry, { file: join(dir, 'cert.pem') })).toBe(0); // the old file's series is gone
    const demanding = `tls: { certFile: "${first.certFile}", keyFile: "${first.keyFile}", clientCa: "${first.caFile}", verifyClient: demand }\n${fixtureForests}${openAccess}`;
    expect((await server.reload(parseConfig(demanding, { source: 'test', baseDir: repoRoot }))).needRestart).toEqual(['tls.verifyClient']);
    // Not in effect yet: a client without a certificate is still served over LDAPS.
    expect(await trusts(first.caFile)).toBe(true);
  });
});
