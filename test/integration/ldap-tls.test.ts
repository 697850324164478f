/** Upstream TLS: LDAPS and StartTLS to slapd, verified against the configured CA and host name. */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLdapForest } from '../../src/backends/ldap/ldap-directory.js';
import { Dn } from '../../src/core/dn.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { createLogger } from '../../src/observability/logger.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { parseConfig } from '../../src/config/load.js';
import { openAccess, repoRoot, startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';
import { collect, context, ldapForestConfig, searchRequest } from './ldap-helpers.js';

const SUFFIX = 'DC=avvid,DC=info';
const LDIF = `dn: ${SUFFIX}
objectClass: top
objectClass: domain
dc: avvid

dn: CN=svc-canopy,${SUFFIX}
objectClass: person
cn: svc-canopy
userPassword: ${USER_PASSWORD}
`;

describe('ldap forest over TLS', () => {
  let certs: TestCertificates;
  let slapd: Slapd;
  const logger = createLogger('silent');

  beforeAll(async () => {
    certs = await makeTestCertificates();
    slapd = await startSlapd({ suffix: SUFFIX, ldif: [LDIF], tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
  });

  afterAll(async () => {
    await slapd?.stop();
    await certs?.remove();
  });

  const forestConfig = (server: string, tls: Record<string, unknown>) =>
    ldapForestConfig(SUFFIX, [server], { name: 'secure', bind: { dn: `CN=svc-canopy,${SUFFIX}`, password: USER_PASSWORD }, tls });

  const baseSearch = async (server: string, tls: Record<string, unknown>, log = logger) => {
    const forest = openLdapForest(forestConfig(server, tls), log);
    try {
      return (await collect(forest.search(searchRequest(SUFFIX, '(objectClass=*)', 'base'), context()))).length;
    } finally {
      await forest.close();
    }
  };

  it('reads over LDAPS and StartTLS with the right CA, and binds users over them', async () => {
    expect(await baseSearch(slapd.ldapsUrl!, { ca: certs.caFile })).toBe(1);
    expect(await baseSearch(slapd.url, { ca: certs.caFile, startTls: true })).toBe(1);
    // Each server's certificate expiry, as its TLS connections saw it: for an alert before it expires.
    const expires = Date.parse(new X509Certificate(readFileSync(certs.certFile)).validTo) / 1000;
    for (const server of [slapd.ldapsUrl!, slapd.url]) {
      expect(await metricValue(metrics.upstreamCertificateExpiry, { forest: 'secure', server })).toBe(expires);
    }
    const forest = openLdapForest(forestConfig(slapd.url, { ca: certs.caFile, startTls: true }), logger);
    await forest.bind(Dn.parse(`CN=svc-canopy,${SUFFIX}`), Buffer.from(USER_PASSWORD), context());
    await forest.close();
  });

  it.each([
    ['LDAPS, wrong CA', () => [slapd.ldapsUrl!, { ca: certs.otherCaFile }] as const],
    ['StartTLS, wrong CA', () => [slapd.url, { ca: certs.otherCaFile, startTls: true }] as const],
    ['LDAPS, wrong host name', () => [slapd.ldapsUrl!, { ca: certs.caFile, servername: 'wrong.example' }] as const],
  ])('refuses %s with an error naming the forest; the server and the TLS failure go to the log', async (_name, setup) => {
    const [server, tls] = setup();
    const err = await baseSearch(server, tls).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LdapError);
    expect((err as LdapError).code).toBe(52);
    expect((err as LdapError).message).toBe('forest "secure": no server reachable');
    expect((err as LdapError).detail).toContain(server);
    expect((err as LdapError).detail).toMatch(/certificate|altnames|issuer/i);
  });

  it('accepts any certificate only with rejectUnauthorized: false, and warns at start', async () => {
    const out = new PassThrough();
    let logged = '';
    out.on('data', (d: Buffer) => (logged += d.toString()));
    expect(await baseSearch(slapd.ldapsUrl!, { ca: certs.otherCaFile, rejectUnauthorized: false }, createLogger('warn', out))).toBe(1);
    expect(logged).toMatch(/"level":40.*not verified/);
  });

  it('reads a CA file replaced in place on reload: the forest is reopened with it', async () => {
    const caFile = join(certs.dir, 'forest-ca.pem');
    copyFileSync(certs.otherCaFile, caFile);
    const yaml = `forests:
  - ${JSON.stringify({ ...forestConfig(slapd.ldapsUrl!, { ca: caFile }), timeouts: { connectMs: 1000, operationMs: 2000 } })}
${openAccess}`;
    const server = await startTestServer(yaml);
    const client = new Client({ url: server.url });
    try {
      await expect(client.search(SUFFIX, { scope: 'base' })).rejects.toMatchObject({ code: 52 });
      const config = () => parseConfig(yaml, { source: 'test', baseDir: repoRoot });
      expect((await server.reload(config())).reopened).toEqual([]);
      copyFileSync(certs.caFile, caFile);
      expect((await server.reload(config())).reopened).toEqual(['secure']);
      expect((await client.search(SUFFIX, { scope: 'base' })).searchEntries).toHaveLength(1);
    } finally {
      await client.unbind();
      await server.close();
    }
  });
});
