/**
 * SASL EXTERNAL with a client certificate (RFC 4513 §5.2.3), through OpenLDAP's tools and ldapts:
 * LDAPS and StartTLS, the subject as a DN of the tree or mapped to a local account by
 * tls.subjectMapping, Who Am I, access as the mapped DN, and each refusal's result code.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { metrics } from '../../src/observability/metrics.js';
import type { RunningServer } from '../../src/server.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { captureLog } from '../support/log-capture.js';
import { RawLdapClient } from '../support/raw-ldap.js';
import { parseConfig } from '../../src/config/load.js';
import { repoRoot, startTestServer, testConfig } from '../support/server.js';
import { makeClientCertificate, makeCrl, makeTestCertificates, type ClientCertificateFiles, type TestCertificates } from '../support/tls.js';

const SUFFIX = 'dc=example,dc=com';
const ALICE = `uid=alice,ou=people,${SUFFIX}`;
const BOB = `uid=bob,ou=people,${SUFFIX}`;
const SECRET = `cn=plans,ou=secrets,${SUFFIX}`;
const LDIF = `dn: ${SUFFIX}
objectClass: domain
dc: example

dn: ou=people,${SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ${ALICE}
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Smith
userPassword: Alice-Passw0rd

dn: ${BOB}
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Jones
msDS-UserAccountDisabled: TRUE

dn: ou=secrets,${SUFFIX}
objectClass: organizationalUnit
ou: secrets

dn: ${SECRET}
objectClass: device
cn: plans
description: only alice reads this
`;

/** Alice alone reads ou=secrets; every bound identity reads the rest. */
const ACCESS = `access:
  - { who: "${ALICE}", what: { dn: "ou=secrets,${SUFFIX}" }, allow: read }
  - { who: authenticated, what: { dn: "ou=secrets,${SUFFIX}" }, allow: none }
  - { who: authenticated, what: { dn: "" }, allow: read }
`;

describe('SASL EXTERNAL (tls.verifyClient: allow)', () => {
  const log = captureLog();
  let certs: TestCertificates;
  let server: RunningServer & { url: string };
  let ldaps: string;
  const cert: Record<'alice' | 'monitor' | 'nobody' | 'bob' | 'stranger', ClientCertificateFiles> = {} as never;
  /** OpenLDAP's tools presenting `who`'s certificate (or none), trusting the test CA. */
  const tlsEnv = (who?: keyof typeof cert): Record<string, string> => ({
    LDAPTLS_CACERT: certs.caFile,
    ...(who && { LDAPTLS_CERT: cert[who].certFile, LDAPTLS_KEY: cert[who].keyFile }),
  });
  const whoami = (url: string, who: keyof typeof cert | undefined, extra: string[] = []) =>
    runLdapTool('ldapwhoami', ['-Q', '-Y', 'EXTERNAL', '-H', url, ...extra], undefined, tlsEnv(who));
  /** An ldapts client presenting `who`'s certificate (or none); plain LDAP for an ldap:// URL. */
  const ldapts = (url: string, who?: keyof typeof cert) =>
    new Client({
      url,
      timeout: 10_000,
      ...(url.startsWith('ldaps:') && {
        tlsOptions: { ca: readFileSync(certs.caFile), ...(who && { cert: readFileSync(cert[who].certFile), key: readFileSync(cert[who].keyFile) }) },
      }),
    });

  beforeAll(async () => {
    certs = await makeTestCertificates();
    cert.alice = await makeClientCertificate(certs, 'alice', '/DC=com/DC=example/OU=people/UID=alice');
    cert.monitor = await makeClientCertificate(certs, 'monitor', '/O=Canopy Test/OU=Services/CN=monitor');
    cert.nobody = await makeClientCertificate(certs, 'nobody', '/O=Canopy Test/CN=nobody');
    cert.bob = await makeClientCertificate(certs, 'bob', '/DC=com/DC=example/OU=people/UID=bob');
    cert.stranger = await makeClientCertificate(certs, 'stranger', '/DC=com/DC=example/OU=people/UID=alice', 'other-ca');
    writeFileSync(join(certs.dir, 'data.ldif'), LDIF);
    server = await startTestServer(
      testConfig(`tls:
  certFile: "${certs.certFile}"
  keyFile: "${certs.keyFile}"
  clientCa: "${certs.caFile}"
  verifyClient: allow
  subjectMapping:
    - { subject: "CN=([^,]+),OU=Services,O=Canopy Test", dn: "cn=$1,ou=accounts" }
accounts:
  - { dn: "cn=monitor,ou=accounts", passwordHash: "${await hashPassword('Monitor-Passw0rd')}" }
forests:
  - { name: example, backend: memory, base: "${SUFFIX}", ldif: ["${join(certs.dir, 'data.ldif')}"] }
${ACCESS}`),
      { logger: log.logger },
    );
    ldaps = server.urls.find((u) => u.startsWith('ldaps:'))!;
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await certs?.remove();
  });

  it('lists EXTERNAL in the root DSE', async () => {
    const r = await runLdapTool('ldapsearch', ['-x', '-LLL', '-H', server.url, '-b', '', '-s', 'base', 'supportedSASLMechanisms']);
    expect(r.stdout).toContain('supportedSASLMechanisms: EXTERNAL');
  });

  it('binds as the entry the subject names, over LDAPS and over StartTLS, and Who Am I says so', async () => {
    const overLdaps = await whoami(ldaps, 'alice');
    expect(overLdaps.stderr).toBe('');
    expect(overLdaps.stdout.trim()).toBe(`dn:${ALICE}`);
    const overStartTls = await whoami(server.url, 'alice', ['-ZZ']);
    expect(overStartTls.stdout.trim()).toBe(`dn:${ALICE}`);
  });

  it('gives the identity what a simple bind of that DN gets: alice reads the secret, others do not', async () => {
    const read = (auth: string[], env: Record<string, string>) =>
      runLdapTool('ldapsearch', ['-LLL', '-H', ldaps, ...auth, '-b', SECRET, '-s', 'base', 'description'], undefined, env);
    const external = await read(['-Q', '-Y', 'EXTERNAL'], tlsEnv('alice'));
    expect(external.stdout).toContain('description: only alice reads this');
    const simple = await read(['-x', '-D', ALICE, '-w', 'Alice-Passw0rd'], tlsEnv());
    expect(external.stdout).toBe(simple.stdout);
    const monitor = await read(['-Q', '-Y', 'EXTERNAL'], tlsEnv('monitor'));
    expect(monitor.stdout).not.toContain('only alice');
    expect(monitor.status).toBe(32); // noSuchObject: the access rule hides the entry
  });

  it('writes the bind audit and access log lines: mechanism, certificate subject, identity', async () => {
    log.lines.length = 0;
    await whoami(ldaps, 'alice');
    expect(log.lines.find((l) => l.msg === 'bind audit')).toMatchObject({
      bind: '',
      mechanism: 'EXTERNAL',
      subject: 'UID=alice,OU=people,DC=example,DC=com',
      identity: 'user',
      dn: ALICE,
      forest: 'example',
      code: 0,
    });
    expect(log.lines.find((l) => l.msg === 'operation' && l.op === 'bind')).toMatchObject({ method: 'sasl', mechanism: 'EXTERNAL', code: 0 });
  });

  it('maps a subject to a local account by tls.subjectMapping', async () => {
    expect((await whoami(ldaps, 'monitor')).stdout.trim()).toBe('dn:cn=monitor,ou=accounts');
  });

  it('binds through ldapts, with an empty authorization identity or dn:<its own DN>', async () => {
    const client = ldapts(ldaps, 'alice');
    try {
      await client.bind('EXTERNAL');
      expect(await client.exop('1.3.6.1.4.1.4203.1.11.3')).toMatchObject({ value: `dn:${ALICE}` });
      await client.bind('EXTERNAL', `dn:${ALICE.toUpperCase()}`);
      expect(await client.exop('1.3.6.1.4.1.4203.1.11.3')).toMatchObject({ value: `dn:${ALICE}` });
    } finally {
      await client.unbind();
    }
  });

  it('refuses another authorization identity with invalidCredentials (49)', async () => {
    const client = ldapts(ldaps, 'alice');
    try {
      await expect(client.bind('EXTERNAL', `dn:${BOB}`)).rejects.toMatchObject({ code: 49, message: expect.stringContaining(`may not act as "${BOB}"`) });
      await expect(client.bind('EXTERNAL', 'u:alice')).rejects.toMatchObject({ code: 49 });
      // The failed bind left the connection anonymous (RFC 4511 §4.2.1).
      expect(await client.exop('1.3.6.1.4.1.4203.1.11.3')).toMatchObject({ value: '' });
    } finally {
      await client.unbind();
    }
  });

  it('refuses a subject that names no account, or a disabled one, with invalidCredentials (49)', async () => {
    const nobody = await whoami(ldaps, 'nobody');
    expect(nobody.status).toBe(49);
    const client = ldapts(ldaps, 'bob');
    try {
      const disabled = () => metrics.bindsFailed.get().then((m) => m.values.find((v) => v.labels.forest === 'example' && v.labels.reason === 'disabled')?.value ?? 0);
      const before = await disabled();
      await expect(client.bind('EXTERNAL')).rejects.toMatchObject({
        code: 49,
        message: expect.stringContaining('maps to "UID=bob,OU=people,DC=example,DC=com", which is no account that may log in'),
      });
      expect(await disabled()).toBe(before + 1);
    } finally {
      await client.unbind();
    }
  });

  it('answers inappropriateAuthentication (48) without a certificate, without TLS, and for a certificate of another CA', async () => {
    for (const [url, who, reason] of [
      [ldaps, undefined, 'no client certificate'],
      [server.url, undefined, 'no TLS'],
      [ldaps, 'stranger', 'not verified'],
    ] as const) {
      const client = ldapts(url, who);
      try {
        await expect(client.bind('EXTERNAL')).rejects.toMatchObject({ code: 48, message: expect.stringContaining(reason) });
      } finally {
        await client.unbind();
      }
    }
  });
});

describe('tls.verifyClient: demand', () => {
  let certs: TestCertificates;
  let server: RunningServer & { url: string };
  let alice: ClientCertificateFiles;
  let stranger: ClientCertificateFiles;

  beforeAll(async () => {
    certs = await makeTestCertificates();
    alice = await makeClientCertificate(certs, 'alice', '/DC=com/DC=example/OU=people/UID=alice');
    stranger = await makeClientCertificate(certs, 'stranger', '/DC=com/DC=example/OU=people/UID=alice', 'other-ca');
    writeFileSync(join(certs.dir, 'data.ldif'), LDIF);
    server = await startTestServer(
      testConfig(`tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}", clientCa: "${certs.caFile}", verifyClient: demand }
forests:
  - { name: example, backend: memory, base: "${SUFFIX}", ldif: ["${join(certs.dir, 'data.ldif')}"] }
${ACCESS}`),
    );
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await certs?.remove();
  });

  const whoami = (url: string, extra: string[], env: Record<string, string>) =>
    runLdapTool('ldapwhoami', ['-Q', '-Y', 'EXTERNAL', '-H', url, ...extra], undefined, { LDAPTLS_CACERT: certs.caFile, ...env });
  const ldaps = () => server.urls.find((u) => u.startsWith('ldaps:'))!;

  it('serves a client whose certificate the client CA signed', async () => {
    const env = { LDAPTLS_CERT: alice.certFile, LDAPTLS_KEY: alice.keyFile };
    expect((await whoami(ldaps(), [], env)).stdout.trim()).toBe(`dn:${ALICE}`);
    expect((await whoami(server.url, ['-ZZ'], env)).stdout.trim()).toBe(`dn:${ALICE}`);
  });

  it('refuses the handshake without a client certificate, over LDAPS and StartTLS', async () => {
    const simple = (url: string, extra: string[]) =>
      runLdapTool('ldapwhoami', ['-x', '-H', url, ...extra], undefined, { LDAPTLS_CACERT: certs.caFile });
    for (const r of [await simple(ldaps(), []), await simple(server.url, ['-ZZ'])]) {
      expect(r.status).not.toBe(0);
      expect(r.stdout).toBe('');
    }
    // The plain port still serves clients that do not start TLS.
    expect((await simple(server.url, [])).stdout.trim()).toBe('anonymous');
  });

  it('refuses a certificate another CA signed', async () => {
    const client = new Client({ url: ldaps(), timeout: 10_000, tlsOptions: { ca: readFileSync(certs.caFile), cert: readFileSync(stranger.certFile), key: readFileSync(stranger.keyFile) } });
    await expect(client.bind('EXTERNAL')).rejects.toThrow();
    await client.unbind().catch(() => undefined);
    const r = await whoami(ldaps(), [], { LDAPTLS_CERT: stranger.certFile, LDAPTLS_KEY: stranger.keyFile });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
  });
});

describe('tls.clientCa', () => {
  let certs: TestCertificates;
  beforeAll(async () => {
    certs = await makeTestCertificates();
    writeFileSync(join(certs.dir, 'data.ldif'), LDIF);
  }, 60_000);
  afterAll(() => certs?.remove());
  /** The result code of an EXTERNAL bind presenting `c` through ldapts. */
  const externalBind = async (url: string, c: ClientCertificateFiles): Promise<number> => {
    const client = new Client({ url, timeout: 10_000, tlsOptions: { ca: readFileSync(certs.caFile), cert: readFileSync(c.certFile), key: readFileSync(c.keyFile) } });
    try {
      await client.bind('EXTERNAL');
      return 0;
    } catch (err) {
      return (err as { code: number }).code;
    } finally {
      await client.unbind();
    }
  };
  const config = async (clientCa: string, mapping = '') =>
    testConfig(`tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}", clientCa: "${clientCa}", verifyClient: allow${mapping} }
logging: { level: silent }
accounts:
  - { dn: "cn=monitor,ou=accounts", passwordHash: "${await hashPassword('Monitor-Passw0rd')}" }
forests:
  - { name: example, backend: memory, base: "${SUFFIX}", ldif: ["${join(certs.dir, 'data.ldif')}"] }
${ACCESS}`);

  it('that cannot be read, or holds no certificate, stops the start with an error naming the key and the file', async () => {
    const missing = join(certs.dir, 'missing.pem');
    await expect(startTestServer(await config(missing))).rejects.toThrow(`tls.clientCa: cannot read ${missing}: ENOENT`);
    await expect(startTestServer(await config(certs.keyFile))).rejects.toThrow(`tls.clientCa: ${certs.keyFile} holds no PEM certificate`);
  });

  it('replaced in place is read again by a reload, for new handshakes; tls.subjectMapping changes on reload too', async () => {
    const alice = await makeClientCertificate(certs, 'alice', '/DC=com/DC=example/OU=people/UID=alice');
    const stranger = await makeClientCertificate(certs, 'stranger', '/DC=com/DC=example/OU=people/UID=alice', 'other-ca');
    const clientCa = join(certs.dir, 'client-ca.pem');
    writeFileSync(clientCa, readFileSync(certs.caFile));
    const server = await startTestServer(await config(clientCa));
    try {
      const ldaps = server.urls.find((u) => u.startsWith('ldaps:'))!;
      const whoami = (c: ClientCertificateFiles) =>
        runLdapTool('ldapwhoami', ['-Q', '-Y', 'EXTERNAL', '-H', ldaps], undefined, { LDAPTLS_CACERT: certs.caFile, LDAPTLS_CERT: c.certFile, LDAPTLS_KEY: c.keyFile });
      // OpenLDAP's tools (GnuTLS) send only a certificate of a CA the server names, so a refused
      // one is presented through ldapts.
      expect((await whoami(alice)).stdout.trim()).toBe(`dn:${ALICE}`);
      expect(await externalBind(ldaps, stranger)).toBe(48);
      writeFileSync(clientCa, readFileSync(certs.otherCaFile));
      const mapping = `, subjectMapping: [{ subject: "UID=alice,OU=people,DC=example,DC=com", dn: "cn=monitor,ou=accounts" }]`;
      expect(await server.reload(await config(clientCa, mapping))).toEqual({ reopened: [], needRestart: [] });
      expect(await externalBind(ldaps, alice)).toBe(48);
      expect((await whoami(stranger)).stdout.trim()).toBe('dn:cn=monitor,ou=accounts');
    } finally {
      await server.close();
    }
  });
});

describe('tls.clientCrl', () => {
  let certs: TestCertificates;
  let alice: ClientCertificateFiles;
  let carol: ClientCertificateFiles;
  beforeAll(async () => {
    certs = await makeTestCertificates();
    writeFileSync(join(certs.dir, 'data.ldif'), LDIF);
    alice = await makeClientCertificate(certs, 'alice', '/DC=com/DC=example/OU=people/UID=alice');
    // Carol's certificate names alice too: only its revocation tells them apart.
    carol = await makeClientCertificate(certs, 'carol', '/DC=com/DC=example/OU=people/UID=alice');
  }, 60_000);
  afterAll(() => certs?.remove());
  const config = (crl: string, verifyClient = 'allow') =>
    testConfig(`tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}", clientCa: "${certs.caFile}", clientCrl: "${crl}", verifyClient: ${verifyClient} }
logging: { level: silent }
forests:
  - { name: example, backend: memory, base: "${SUFFIX}", ldif: ["${join(certs.dir, 'data.ldif')}"] }
${ACCESS}`);
  /** The result code of an EXTERNAL bind presenting `c` through ldapts; 'refused' when the handshake fails. */
  const externalBind = async (url: string, c: ClientCertificateFiles): Promise<number | 'refused'> => {
    const client = new Client({ url, timeout: 10_000, tlsOptions: { ca: readFileSync(certs.caFile), cert: readFileSync(c.certFile), key: readFileSync(c.keyFile) } });
    try {
      await client.bind('EXTERNAL');
      return 0;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return typeof code === 'number' ? code : 'refused';
    } finally {
      await client.unbind().catch(() => undefined);
    }
  };

  it('refuses a revoked client certificate for SASL EXTERNAL (48), and a reload reads a new list', async () => {
    const crl = await makeCrl(certs, [carol], 'served-crl.pem');
    const server = await startTestServer(config(crl));
    try {
      const ldaps = server.urls.find((u) => u.startsWith('ldaps:'))!;
      expect(await externalBind(ldaps, alice)).toBe(0);
      expect(await externalBind(ldaps, carol)).toBe(48);
      // Over StartTLS too, through OpenLDAP's tools.
      const whoami = (c: ClientCertificateFiles) =>
        runLdapTool('ldapwhoami', ['-Q', '-Y', 'EXTERNAL', '-ZZ', '-H', server.url], undefined, { LDAPTLS_CACERT: certs.caFile, LDAPTLS_CERT: c.certFile, LDAPTLS_KEY: c.keyFile });
      expect((await whoami(alice)).stdout.trim()).toBe(`dn:${ALICE}`);
      expect((await whoami(carol)).status).not.toBe(0);
      // Alice's certificate revoked in place: a reload serves the new list to new handshakes.
      writeFileSync(crl, readFileSync(await makeCrl(certs, [carol, alice], 'next-crl.pem')));
      expect(await server.reload(config(crl))).toEqual({ reopened: [], needRestart: [] });
      expect(await externalBind(ldaps, alice)).toBe(48);
    } finally {
      await server.close();
    }
  });

  it('with verifyClient demand, refuses the handshake of a revoked certificate', async () => {
    const server = await startTestServer(config(await makeCrl(certs, [carol], 'demand-crl.pem'), 'demand'));
    try {
      const ldaps = server.urls.find((u) => u.startsWith('ldaps:'))!;
      expect(await externalBind(ldaps, alice)).toBe(0);
      expect(await externalBind(ldaps, carol)).toBe('refused');
    } finally {
      await server.close();
    }
  });

  it('that cannot be read, holds no list, or comes without clientCa, is an error naming the key', async () => {
    const missing = join(certs.dir, 'missing-crl.pem');
    await expect(startTestServer(config(missing))).rejects.toThrow(`tls.clientCrl: cannot read ${missing}: ENOENT`);
    await expect(startTestServer(config(certs.caFile))).rejects.toThrow(`tls.clientCrl: ${certs.caFile} holds no PEM certificate revocation list`);
    expect(() => parseConfig(`tls: { certFile: a.pem, keyFile: a.key, clientCrl: crl.pem }\n`, { source: 'x.yaml', baseDir: certs.dir })).toThrow('clientCrl needs clientCa');
  });
});

describe('SASL EXTERNAL and the bind throttle', () => {
  it("is refused while the mapped account is throttled for failed passwords, and clears the account's failures as a simple bind does", async () => {
    const certs = await makeTestCertificates();
    writeFileSync(join(certs.dir, 'data.ldif'), LDIF);
    const server = await startTestServer(
      testConfig(`tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}", clientCa: "${certs.caFile}", verifyClient: allow }
security: { throttle: { maxFailuresPerAccount: 2, slowAfter: 0, delayMs: 0 } }
forests:
  - { name: example, backend: memory, base: "${SUFFIX}", ldif: ["${join(certs.dir, 'data.ldif')}"] }
${ACCESS}`),
    );
    const guess = new Client({ url: server.url });
    try {
      const alice = await makeClientCertificate(certs, 'alice', '/DC=com/DC=example/OU=people/UID=alice');
      const whoami = () =>
        runLdapTool('ldapwhoami', ['-Q', '-Y', 'EXTERNAL', '-H', server.urls.find((u) => u.startsWith('ldaps:'))!], undefined, {
          LDAPTLS_CACERT: certs.caFile,
          LDAPTLS_CERT: alice.certFile,
          LDAPTLS_KEY: alice.keyFile,
        });
      const fail = () => expect(guess.bind(ALICE, 'Wrong-Guess')).rejects.toMatchObject({ code: 49 });
      await fail();
      expect((await whoami()).stdout.trim()).toBe(`dn:${ALICE}`);
      await fail(); // one failure since the certificate's success: not at the limit of 2
      expect((await whoami()).stdout.trim()).toBe(`dn:${ALICE}`);
      await fail();
      await fail();
      const refused = await whoami();
      expect(refused.status).toBe(49);
      // Answered as any other refusal of the certificate's account (the log says it was throttled).
      expect(refused.stderr).toContain('which is no account that may log in');
    } finally {
      await guess.unbind();
      await server.close();
      await certs.remove();
    }
  });
});

describe('SASL EXTERNAL behind a load balancer (listen.proxyProtocol)', () => {
  it('verifies the certificate of an LDAPS handshake after the PROXY header; the header’s client is the bind audit’s and a refused handshake’s peer', async () => {
    const certs = await makeTestCertificates();
    writeFileSync(join(certs.dir, 'data.ldif'), LDIF);
    const log = captureLog();
    const server = await startTestServer(
      parseConfig(
        `listen: { ldap: "ldap://127.0.0.1:0", ldaps: "ldaps://127.0.0.1:0", proxyProtocol: { from: ["127.0.0.1/32"] } }
http: { port: 0 }
tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}", clientCa: "${certs.caFile}", verifyClient: demand }
forests:
  - { name: example, backend: memory, base: "${SUFFIX}", ldif: ["${join(certs.dir, 'data.ldif')}"] }
${ACCESS}`,
        { source: 'test', baseDir: repoRoot },
      ),
      { logger: log.logger },
    );
    try {
      const alice = await makeClientCertificate(certs, 'alice', '/DC=com/DC=example/OU=people/UID=alice');
      /** An LDAPS session through the "balancer" 127.0.0.1 for the client `client:port`, presenting `certificate` if given. */
      const through = async (client: string, port: number, certificate?: ClientCertificateFiles) => {
        const raw = tcpConnect({ port: server.ldapsPort!, host: '127.0.0.1', localAddress: '127.0.0.1' });
        await once(raw, 'connect');
        raw.write(`PROXY TCP4 ${client} 192.0.2.1 ${port} 636\r\n`);
        return tlsConnect({
          socket: raw,
          ca: readFileSync(certs.caFile),
          servername: 'localhost',
          ...(certificate && { cert: readFileSync(certificate.certFile), key: readFileSync(certificate.keyFile) }),
        });
      };

      const tls = await through('198.51.100.9', 42000, alice);
      await once(tls, 'secureConnect');
      const c = RawLdapClient.over(tls);
      expect((await c.saslBind('EXTERNAL')).code).toBe(0);
      c.close();
      expect(log.lines.find((l) => l.msg === 'bind audit')).toMatchObject({
        peer: '198.51.100.9:42000',
        mechanism: 'EXTERNAL',
        subject: 'UID=alice,OU=people,DC=example,DC=com',
        dn: ALICE,
        code: 0,
      });

      // verifyClient: demand refuses a handshake without a certificate; the log names the header's client.
      const bare = await through('198.51.100.10', 42001);
      bare.on('error', () => undefined); // the server's alert: certificate required
      await new Promise((resolve) => bare.once('close', resolve));
      await expect.poll(() => log.lines.find((l) => l.msg === 'TLS handshake failed')).toMatchObject({ peer: '198.51.100.10' });
    } finally {
      await server.close();
      await certs.remove();
    }
  });
});
