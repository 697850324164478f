import { describe, expect, it } from 'vitest';
import { ConfigErrors } from '../../src/config/config-error.js';
import { parseConfig } from '../../src/config/load.js';

/** The ldap forest's config with `bind.dn` set to `dn`. */
const withBindDn = (dn: string): string =>
  `forests:\n  - name: corp\n    backend: ldap\n    base: DC=corp,DC=example\n    servers: [ldap://dc1.corp.example]\n    bind: { dn: ${JSON.stringify(dn)}, password: x }\n`;

function bindDnError(dn: string): string | undefined {
  try {
    parseConfig(withBindDn(dn), { source: 'canopy.yaml', baseDir: '/etc/canopy' });
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    return err.message;
  }
}

describe('ldap forest bind.dn', () => {
  it('accepts a DN, a UPN and a down-level name, as Active Directory does in a simple bind', () => {
    for (const dn of ['CN=svc-ldap,OU=Service,DC=corp,DC=example', 'svc-ldap@corp.example', 'CORP\\svc-ldap', 'corp-eu\\svc.ldap$']) {
      expect(bindDnError(dn), dn).toBeUndefined();
    }
  });

  it('refuses what is none of them, naming the three forms', () => {
    for (const dn of ['svc-ldap', 'svc@', '@corp.example', 'svc@corp..example', 'CORP\\', '\\svc', 'TOOLONGNETBIOSNAME\\svc', 'CORP\\svc:x', 'CN=svc,,DC=x']) {
      expect(bindDnError(dn), dn).toMatch(/bind\.dn.*not a valid DN, UPN \(svc@corp\.example\) or down-level name \(CORP\\svc\)/);
    }
  });
});
