import { X509Certificate } from 'node:crypto';
import { metrics } from './metrics.js';

/**
 * Publishes when the served certificate expires, as a timestamp (Prometheus's convention for
 * expiry: it stays right between scrapes, and `- time()` gives the seconds left). Labelled by
 * file, so that without TLS there is no series for an alert to misread as expired. The first
 * certificate of the file is the server's own; the rest are its chain.
 */
export function noteCertificateExpiry(file: string, pem: Buffer): void {
  const notAfter = Date.parse(new X509Certificate(pem).validTo);
  metrics.tlsCertificateExpiry.reset();
  metrics.tlsCertificateExpiry.set({ file }, notAfter / 1000);
}
