import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/frontend/admission.js';

describe('connection admission', () => {
  it('counts a balancer’s connection awaiting its PROXY header in maxConnections, then under the client it names', () => {
    const admission = new Admission(3, 1);
    expect(admission.admit('192.0.2.1')).toBeUndefined();
    expect(admission.awaitHeader()).toBeUndefined();
    expect(admission.awaitHeader()).toBeUndefined();
    // Three places taken: neither a direct client nor another balancer connection gets one.
    expect(admission.admit('192.0.2.2')).toEqual({ key: 'maxConnections', limit: 3 });
    expect(admission.awaitHeader()).toEqual({ key: 'maxConnections', limit: 3 });
    // A header arrives naming a client already at its per-address cap: refused under that address.
    admission.headerRead();
    expect(admission.admit('192.0.2.1')).toEqual({ key: 'maxConnectionsPerAddress', limit: 1 });
    expect(admission.admit('::ffff:198.51.100.7')).toBeUndefined();
    // A header that never came gives its place back.
    admission.headerRead();
    expect(admission.admit('192.0.2.2')).toBeUndefined();
    admission.release('198.51.100.7');
    expect(admission.awaitHeader()).toBeUndefined();
  });
});
