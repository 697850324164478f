import { Dn } from '../../src/core/dn.js';
import type { Directory } from '../../src/core/directory.js';
import type { Authenticator } from '../../src/core/identity.js';

/** For front-end tests: bind names are DNs checked by the directory under test. */
export function dnAuthenticator(directory: Directory): Authenticator {
  return {
    async authenticate({ name, password, signal, connectionId }) {
      const dn = Dn.parse(name);
      await directory.bind(dn, password, { signal, connectionId, boundDn: '' });
      return { kind: 'account', dn };
    },
    async provePassword(request) {
      return { kind: 'login', identity: await this.authenticate(request) };
    },
  };
}
