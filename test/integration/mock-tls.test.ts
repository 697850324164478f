/**
 * The mock directory over TLS as a client's test suite uses it: a generated CA that ldapts and
 * OpenLDAP's tools trust, LDAPS and StartTLS, a certificate of one's own, LDAP signing's
 * "TLS required" answer that TLS then satisfies, and client certificates for SASL EXTERNAL.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { makeClientCertificate, makeTestCertificates, type ClientCertificateFiles, type TestCertificates } from '../support/tls.js';

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

describe('startMockDirectory({ tlsClientCa })', () => {
  const DATA = `${LDIF}userPassword: Alice-Passw0rd\n`;
  let certs: TestCertificates;
  let alice: ClientCertificateFiles;
  let admin: ClientCertificateFiles;
  let svc: ClientCertificateFiles;
  let dir: MockDirectory;
  beforeAll(async () => {
    certs = await makeTestCertificates();
    alice = await makeClientCertificate(certs, 'alice', '/DC=com/DC=example/CN=alice');
    admin = await makeClientCertificate(certs, 'admin', '/CN=admin');
    svc = await makeClientCertificate(certs, 'svc', '/O=Example/CN=sync-service');
    dir = await startMockDirectory({
      ldif: DATA,
      tls: true,
      tlsClientCa: certs.caFile,
      tlsSubjectMapping: [{ subject: 'CN=sync-service,O=Example', dn: 'cn=admin' }],
    });
  }, 60_000);
  afterAll(async () => {
    await dir?.close();
    await certs?.remove();
  });
  /** OpenLDAP's tools trusting the mock's CA, presenting `c`. */
  const env = (c: ClientCertificateFiles) => ({ LDAPTLS_CACERT: dir.caFile!, LDAPTLS_CERT: c.certFile, LDAPTLS_KEY: c.keyFile });
  const whoami = async (c: ClientCertificateFiles, url = dir.ldapsUrl!, extra: string[] = []) =>
    (await runLdapTool('ldapwhoami', ['-Q', '-Y', 'EXTERNAL', '-H', url, ...extra], undefined, env(c))).stdout.trim();

  it('lists EXTERNAL and binds a certificate as the entry its subject names, over LDAPS and StartTLS', async () => {
    const dse = await runLdapTool('ldapsearch', ['-x', '-LLL', '-H', dir.url, '-b', '', '-s', 'base', 'supportedSASLMechanisms']);
    expect(dse.stdout).toContain('supportedSASLMechanisms: EXTERNAL');
    expect(await whoami(alice)).toBe('dn:cn=alice,dc=example,dc=com');
    expect(await whoami(alice, dir.url, ['-ZZ'])).toBe('dn:cn=alice,dc=example,dc=com');
  });

  it("binds the administrator's DN, or a subject tlsSubjectMapping maps to it, with the administrator's access", async () => {
    expect(await whoami(admin)).toBe('dn:cn=admin');
    expect(await whoami(svc)).toBe('dn:cn=admin');
    const read = (c: ClientCertificateFiles) =>
      runLdapTool('ldapsearch', ['-Q', '-LLL', '-Y', 'EXTERNAL', '-H', dir.ldapsUrl!, '-b', 'cn=alice,dc=example,dc=com', '-s', 'base', 'userPassword'], undefined, env(c));
    expect((await read(svc)).stdout).toContain('userPassword:');
    expect((await read(alice)).stdout).not.toContain('userPassword:'); // password attributes: the administrator's only
    const change = 'dn: cn=alice,dc=example,dc=com\nchangetype: modify\nreplace: sn\nsn: Jones\n';
    const modify = await runLdapTool('ldapmodify', ['-Q', '-Y', 'EXTERNAL', '-H', dir.ldapsUrl!], change, env(svc));
    expect(modify.status).toBe(0);
    dir.reset();
  });

  it('journals the bind with its mechanism, TLS and the identity', async () => {
    dir.journal.clear();
    await whoami(alice);
    expect(dir.journal.entries.find((e) => e.operation === 'bind')).toMatchObject({
      method: 'sasl EXTERNAL',
      tls: true,
      identity: 'dn:cn=alice,dc=example,dc=com',
      result: 0,
    });
  });

  it('refuses an EXTERNAL bind without a client certificate with inappropriateAuthentication (48)', async () => {
    const client = new Client({ url: dir.ldapsUrl!, tlsOptions: { ca: dir.caPem } });
    try {
      await expect(client.bind('EXTERNAL')).rejects.toMatchObject({ code: 48 });
    } finally {
      await client.unbind();
    }
  });

  it('checks its options', async () => {
    await expect(startMockDirectory({ ldif: LDIF, tlsClientCa: certs.caFile })).rejects.toThrow('tlsClientCa needs TLS');
    await expect(startMockDirectory({ ldif: LDIF, tls: true, tlsVerifyClient: 'demand' })).rejects.toThrow('tlsVerifyClient needs tlsClientCa');
    const missing = `${certs.dir}/missing.pem`;
    await expect(startMockDirectory({ ldif: LDIF, tls: true, tlsClientCa: missing })).rejects.toThrow(`tls.clientCa: cannot read ${missing}: ENOENT`);
  });
});
