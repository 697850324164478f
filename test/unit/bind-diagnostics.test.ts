import { describe, expect, it } from 'vitest';
import { bindDiagnosticsOf, bindRefusal } from '../../src/auth/bind-diagnostics.js';
import { parseConfig } from '../../src/config/load.js';
import { LdapError } from '../../src/core/ldap-error.js';
import type { PolicyNotes } from '../../src/core/password-policy.js';
import { ResultCode } from '../../src/core/result-codes.js';

/** What a domain controller sends, server name and all. */
const upstream = (data: string) =>
  new LdapError(ResultCode.invalidCredentials, `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${data}, v4563 dc01.corp.example`);

describe('bindRefusal', () => {
  it('rebuilds a disclosed AD reason in AD format, nothing else of the upstream text, and notes the policy error', () => {
    const policy: PolicyNotes = {};
    const err = bindRefusal(upstream('775'), 'ad', policy);
    expect(err.code).toBe(ResultCode.invalidCredentials);
    expect(err.message).toBe('80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563');
    expect(policy.state).toEqual({ error: 1 });
  });

  it('says the same for an unknown user and a wrong password, and everything under generic', () => {
    const messages = [bindRefusal(upstream('525'), 'ad', undefined), bindRefusal(upstream('52e'), 'ad', undefined), bindRefusal(upstream('775'), 'generic', undefined)].map((e) => e.message);
    expect(new Set(messages)).toEqual(new Set(['invalid credentials']));
  });
});

describe('bindDiagnosticsOf', () => {
  const forests = parseConfig(
    `forests:
  - { name: ad, backend: ldap, servers: ["ldap://dc1"], base: "DC=a,DC=b", netbiosName: CORP }
  - { name: openldap, backend: ldap, servers: ["ldap://ol1"], base: "dc=c,dc=d" }
  - { name: mock, backend: memory, base: "DC=e,DC=f", ldif: [fixtures/avvid.info.ldif], profile: ad }
`,
    { source: 'test', baseDir: process.cwd() },
  );
  it('defaults to ad for AD forests (a NetBIOS name, a memory forest with the AD profile), generic otherwise', () => {
    expect(forests.forests.map((f) => bindDiagnosticsOf(forests.security, f))).toEqual(['ad', 'generic', 'ad']);
    expect(bindDiagnosticsOf({ ...forests.security, bindDiagnostics: 'generic' }, forests.forests[0])).toBe('generic');
  });
});
