import { Client } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { checkLdaptsSeam } from '../../src/backends/ldap/upstream-connection.js';

describe('the ldapts seam', () => {
  it('accepts the pinned ldapts', () => {
    expect(() => checkLdaptsSeam()).not.toThrow();
  });

  it('refuses, naming the internal, when one it relies on moved', () => {
    const prototype = Client.prototype as unknown as Record<string, unknown>;
    const send = prototype._send;
    delete prototype._send;
    try {
      expect(() => checkLdaptsSeam()).toThrow(/the installed ldapts lacks internals .*\(Client\._send\); install the version package\.json pins/);
    } finally {
      prototype._send = send;
    }
  });
});
