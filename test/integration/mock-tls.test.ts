/**
 * The mock directory over TLS as a client's test suite uses it: a generated CA that ldapts and
 * OpenLDAP's tools trust, LDAPS and StartTLS, a certificate of one's own, and LDAP signing's
 * "TLS required" answer that TLS then satisfies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { makeTestCertificates } from '../support/tls.js';

const LDIF = 'dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\ndn: cn=alice,dc=example,dc=com\nobjectClass: person\ncn: alice\nsn: Smith\n';

describe('startMockDirectory({ tls: true })', () => {
  let dir: MockDirectory;
  beforeAll(async () => {
    dir = await startMockDirectory({ ldif: LDIF, tls: true, requireTls: true });
  });
  afterAll(() => dir.close());
  const search = (url: string, extra: string[], env: Record<string, string>) =>
    runLdapTool('ldapsearch', ['-x', '-LLL', '-H', url, ...extra, '-D', dir.bindDn, '-w', dir.password, '-b', 'cn=alice,dc=example,dc=com', '-s', 'base', 'sn'], undefined, env);

  it('serves LDAPS and StartTLS with a certificate its generated CA signed', async () => {
    expect(dir.ldapsUrl).toBe(`ldaps://127.0.0.1:${dir.ldapsPort}`);
    expect(dir.caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const ldaps = new Client({ url: dir.ldapsUrl!, tlsOptions: { ca: dir.caPem } });
    await ldaps.bind(dir.bindDn, dir.password);
    expect((await ldaps.search('cn=alice,dc=example,dc=com', { scope: 'base' })).searchEntries[0].sn).toBe('Smith');
    await ldaps.unbind();
    const plain = new Client({ url: dir.url });
    await plain.startTLS({ ca: dir.caPem, servername: 'localhost' });
    await plain.bind(dir.bindDn, dir.password);
    await plain.unbind();
  });

  it('is trusted by OpenLDAP clients through LDAPTLS_CACERT, and only then', async () => {
    const trust = { LDAPTLS_CACERT: dir.caFile! };
    expect((await search(dir.ldapsUrl!, [], trust)).stdout).toContain('sn: Smith');
    expect((await search(dir.url, ['-ZZ'], trust)).stdout).toContain('sn: Smith');
    expect((await search(dir.ldapsUrl!, [], { LDAPTLS_CACERT: '/dev/null' })).status).not.toBe(0);
  });

  it('refuses a simple bind without TLS when requireTls is set', async () => {
    expect((await search(dir.url, [], {})).status).toBe(8); // strongerAuthRequired
  });
});

describe('startMockDirectory with a certificate of its own', () => {
  it('serves it, removes nothing of it at close, and has no generated CA', async () => {
    const certs = await makeTestCertificates();
    try {
      const dir = await startMockDirectory({ ldif: LDIF, tlsCertFile: certs.certFile, tlsKeyFile: certs.keyFile });
      expect(dir.caPem).toBeUndefined();
      const client = new Client({ url: dir.ldapsUrl!, tlsOptions: { ca: readFileSync(certs.caFile) } });
      await client.bind(dir.bindDn, dir.password);
      await client.unbind();
      await dir.close();
      expect(existsSync(certs.certFile)).toBe(true);
    } finally {
      await certs.remove();
    }
  });

  it('removes the generated files at close', async () => {
    const dir = await startMockDirectory({ ldif: LDIF, tls: true });
    expect(existsSync(dir.caFile!)).toBe(true);
    await dir.close();
    expect(existsSync(dir.caFile!)).toBe(false);
  });
});
