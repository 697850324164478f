import { Dn } from '../../src/core/dn.js';
import type { Directory } from '../../src/core/directory.js';
import type { Authenticator } from '../../src/core/identity.js';

/** For front-end tests: bind names are DNs checked by the directory under test; SASL EXTERNAL binds as the certificate's subject. */
export function dnAuthenticator(directory: Directory): Authenticator {
  return {
    async authenticate({ name, password, signal, connectionId }) {
      const dn = Dn.parse(name);
      await directory.bind(dn, password, { signal, connectionId, boundDn: '' });
      return { kind: 'account', dn };
    },
    // A verified certificate's subject is the DN, whether or not the directory holds it.
    async authenticateCertificate({ subject }) {
      return { kind: 'account', dn: Dn.parse(subject) };
    },
    async provePassword(request) {
      return { kind: 'login', identity: await this.authenticate(request) };
    },
  };
}
