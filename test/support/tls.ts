/**
 * Throw-away certificates for TLS tests, made with the `openssl` command line: a CA, a server
 * certificate for 127.0.0.1 / localhost signed by it, and a second, unrelated CA (the wrong one);
 * client certificates signed by either on request.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  readonly dir: string;
  /** PEM CA certificate that signed the server certificate. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** A CA that signed nothing here. */
  readonly otherCaFile: string;
  remove(): Promise<void>;
}

export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'canopy-tls-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args);
  try {
    for (const ca of ['ca', 'other-ca']) {
      await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=Canopy test ${ca}`,
        '-keyout', file(`${ca}.key`), '-out', file(`${ca}.pem`));
    }
    await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr'));
    await openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-days', '2', '-extfile', file('server.ext'), '-out', file('server.pem'));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    otherCaFile: file('other-ca.pem'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ClientCertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * A client certificate (extendedKeyUsage clientAuth) for `subject`, in OpenSSL's form
 * (`/DC=com/DC=example/UID=alice`, most significant RDN first), signed by the test CA or by the
 * unrelated one; its files are named after `name` in the certificates' folder.
 */
export async function makeClientCertificate(
  certs: TestCertificates,
  name: string,
  subject: string,
  signer: 'ca' | 'other-ca' = 'ca',
): Promise<ClientCertificateFiles> {
  const file = (ext: string): string => join(certs.dir, `${name}.${ext}`);
  await writeFile(file('ext'), 'extendedKeyUsage=clientAuth\n');
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-multivalue-rdn', '-subj', subject, '-keyout', file('key'), '-out', file('csr')]);
  await run('openssl', ['x509', '-req', '-in', file('csr'), '-CA', join(certs.dir, `${signer}.pem`), '-CAkey', join(certs.dir, `${signer}.key`),
    '-CAcreateserial', '-days', '2', '-extfile', file('ext'), '-out', file('pem')]);
  return { certFile: file('pem'), keyFile: file('key') };
}

/**
 * A PEM certificate revocation list of the test CA revoking `revoked` (none: an empty list), made
 * with `openssl ca` and a throw-away database; written to `name` in the certificates' folder.
 */
export async function makeCrl(certs: TestCertificates, revoked: readonly ClientCertificateFiles[], name = 'crl.pem'): Promise<string> {
  const dir = await mkdtemp(join(certs.dir, 'crl-db-'));
  const config = join(dir, 'ca.cnf');
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'crlnumber'), '01\n');
  await writeFile(config, `[ca]\ndefault_ca = test\n[test]\ndatabase = ${join(dir, 'index.txt')}\ncrlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 2\n`);
  const signer = ['-config', config, '-keyfile', join(certs.dir, 'ca.key'), '-cert', join(certs.dir, 'ca.pem')];
  for (const c of revoked) await run('openssl', ['ca', ...signer, '-revoke', c.certFile]);
  const out = join(certs.dir, name);
  await run('openssl', ['ca', ...signer, '-gencrl', '-out', out]);
  await rm(dir, { recursive: true, force: true });
  return out;
}
