import { generateKeyPair, randomBytes, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** A throw-away CA and a server certificate it signed, as PEM text and as files. */
export interface MockCertificates {
  readonly caPem: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Deletes the files. */
  remove(): Promise<void>;
}

const VALID_DAYS = 30;

/**
 * Generates a CA and a server certificate for `hosts` (plus localhost, 127.0.0.1 and ::1), and
 * writes them to a new private temporary folder. Node cannot build an X.509 certificate by itself:
 * node-forge (no dependencies, loaded only here) encodes them. The RSA work (key generation,
 * signatures) is Node's native crypto: forge's pure-JavaScript RSA would take most of a second.
 */
export async function createMockCertificates(hosts: readonly string[] = []): Promise<MockCertificates> {
  const { default: forge } = await import('node-forge');
  const { pki } = forge;
  const newKeys = async () => {
    const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    return { publicKey: pki.publicKeyFromPem(publicKey), privatePem: privateKey };
  };
  const certificate = (publicKey: ReturnType<typeof pki.publicKeyFromPem>, subject: string) => {
    const cert = pki.createCertificate();
    cert.publicKey = publicKey;
    // A positive serial (first bit clear), random so that clients never see two certificates with one issuer and serial.
    cert.serialNumber = '01' + randomBytes(15).toString('hex');
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + VALID_DAYS * 86_400_000);
    cert.setSubject([{ name: 'commonName', value: subject }]);
    return cert;
  };

  const signWith = (cert: ReturnType<typeof pki.createCertificate>, privatePem: string) => {
    cert.signatureOid = cert.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption;
    // Public in forge (its own sign() uses it) but missing from its type declarations.
    cert.tbsCertificate = (pki as unknown as { getTBSCertificate(c: typeof cert): typeof cert.tbsCertificate }).getTBSCertificate(cert);
    const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
    cert.signature = sign('sha256', tbs, privatePem).toString('binary');
  };

  const [caKeys, serverKeys] = await Promise.all([newKeys(), newKeys()]);
  const ca = certificate(caKeys.publicKey, `Canopy mock directory CA ${randomBytes(4).toString('hex')}`);
  ca.setIssuer(ca.subject.attributes);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signWith(ca, caKeys.privatePem);

  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...hosts.filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::')])];
  const server = certificate(serverKeys.publicKey, names.find((n) => n !== 'localhost' && !isIP(n)) ?? 'localhost');
  server.setIssuer(ca.subject.attributes);
  server.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signWith(server, caKeys.privatePem);

  const dir = await mkdtemp(join(tmpdir(), 'canopy-mock-tls-'));
  const file = (name: string) => join(dir, name);
  const caPem = pki.certificateToPem(ca);
  try {
    await writeFile(file('ca.pem'), caPem);
    await writeFile(file('server.pem'), pki.certificateToPem(server));
    await writeFile(file('server.key'), serverKeys.privatePem, { mode: 0o600 });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    caPem,
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
