import type { TLSSocket } from 'node:tls';

/** The certificate a TLS client presented, as SASL EXTERNAL needs it. */
export type ClientCertificate =
  | { readonly state: 'none' }
  /** Presented but not verified against tls.clientCa (`verifyClient: allow` lets such clients in). */
  | { readonly state: 'unverified'; readonly reason: string }
  /** Verified: its subject as an LDAP DN string (RFC 4514), most specific RDN first. */
  | { readonly state: 'verified'; readonly subject: string };

/** What `socket`'s client proved with a certificate, as checked during the handshake. */
export function clientCertificateOf(socket: TLSSocket): ClientCertificate {
  const certificate = socket.getPeerX509Certificate();
  if (!certificate) return { state: 'none' };
  if (!socket.authorized) return { state: 'unverified', reason: String(socket.authorizationError ?? 'not verified') };
  return { state: 'verified', subject: subjectDn(certificate.subject) };
}

/**
 * Node prints a subject as OpenSSL does with RFC 2253 escaping: one RDN a line, most significant
 * first, the values of a multi-valued RDN joined by " + " (a "+" in a value is escaped, so the
 * separator is unambiguous). An LDAP DN lists the RDNs the other way round.
 */
export function subjectDn(x509Subject: string): string {
  if (x509Subject === '') return '';
  return x509Subject
    .split('\n')
    .reverse()
    .map((rdn) => rdn.split(' + ').join('+'))
    .join(',');
}
