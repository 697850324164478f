/**
 * An OpenLDAP forest's password policy (the ppolicy overlay) reaches a client that sends the
 * password policy request control with its bind through Canopy: lockout, the expiry warning, and a
 * password reset by an administrator, which the user changes through Canopy as itself.
 */
import { PassThrough } from 'node:stream';
import { Client, InvalidCredentialsError } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordModifyValue, PASSWORD_MODIFY_OID } from '../../src/backends/ldap/password-change.js';
import { Dn } from '../../src/core/dn.js';
import { createLogger } from '../../src/observability/logger.js';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { bindWithPolicy } from '../support/password-policy.js';
import { startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';

const BASE = 'DC=pp,DC=test';
const MOUNT = 'ou=pp,dc=corp,dc=example';
const POLICY = `CN=default,OU=Policies,${BASE}`;
const person = (cn: string, extra = '') =>
  `dn: CN=${cn},OU=Users,${BASE}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\ncn: ${cn}\nsAMAccountName: ${cn}\nuserPrincipalName: ${cn}@pp.test\nuserPassword: ${USER_PASSWORD}\n${extra}`;
/** pwdChangedTime as slapd writes it (generalized time), `ago` ms in the past. */
const changed = (ago: number) => `pwdChangedTime: ${new Date(Date.now() - ago).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z')}\n`;

const LDIF = [
  `dn: ${BASE}\nobjectClass: top\nobjectClass: domain\ndc: pp\n`,
  `dn: OU=Users,${BASE}\nobjectClass: organizationalUnit\nou: Users\n`,
  `dn: OU=ServiceAccounts,${BASE}\nobjectClass: organizationalUnit\nou: ServiceAccounts\n`,
  `dn: ${serviceDn(BASE)}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\ncn: svc-canopy\nsAMAccountName: svc-canopy\nuserPassword: ${SERVICE_PASSWORD}\n`,
  `dn: OU=Policies,${BASE}\nobjectClass: organizationalUnit\nou: Policies\n`,
  // Passwords last 10 days, with a warning in the last 5; two failures lock an account for an hour;
  // a password an administrator set must be changed.
  `dn: ${POLICY}\nobjectClass: top\nobjectClass: device\nobjectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\npwdMaxAge: 864000\npwdExpireWarning: 432000\npwdLockout: TRUE\npwdMaxFailure: 2\npwdLockoutDuration: 3600\npwdMustChange: TRUE\n`,
  person('fresh', changed(60_000)),
  person('ageing', changed(8 * 86_400_000)),
  person('target', changed(60_000)),
  // Reset by an administrator: slapd lets them bind, says changeAfterReset, and allows nothing but the change.
  person('reset1', `${changed(60_000)}pwdReset: TRUE\n`),
  person('reset2', `${changed(60_000)}pwdReset: TRUE\n`),
].join('\n');
/** Users change their own password; everyone reads the rest (the service account finds users). */
const ACL = 'access to attrs=userPassword by self write by anonymous auth by * none\naccess to * by * read';

describe('an OpenLDAP forest`s password policy through Canopy', () => {
  let slapd: Slapd;
  let canopy: Awaited<ReturnType<typeof startTestServer>>;
  const logLines: string[] = [];
  const logStream = new PassThrough().on('data', (chunk: Buffer) => logLines.push(chunk.toString('utf8')));

  beforeAll(async () => {
    slapd = await startSlapd({
      suffix: BASE,
      ldif: [LDIF],
      extraConfig: `moduleload ppolicy\noverlay ppolicy\nppolicy_default "${POLICY}"\nppolicy_use_lockout\n${ACL}`, // the lockout said as accountLocked
    });
    canopy = await startTestServer(
      `forests:\n  - { name: pp, backend: ldap, servers: ["${slapd.url}"], base: "${BASE}", mount: "${MOUNT}", upnSuffixes: { pp.test: pp.test }, ` +
        `bind: { dn: "${serviceDn(BASE)}", password: "${SERVICE_PASSWORD}" } }\n`,
      { logger: createLogger('debug', logStream) },
    );
  }, 60_000);
  afterAll(async () => {
    await canopy?.close();
    await slapd?.stop();
  });

  it('passes on the time before a password expires, and nothing for a fresh one', async () => {
    const ageing = await bindWithPolicy(canopy.url, 'ageing@pp.test', USER_PASSWORD);
    expect(ageing.error).toBeUndefined();
    expect(ageing.policy?.timeBeforeExpiration).toBeGreaterThan(86_400);
    expect(ageing.policy?.timeBeforeExpiration).toBeLessThanOrEqual(2 * 86_400);
    const fresh = await bindWithPolicy(canopy.url, `CN=fresh,OU=Users,${MOUNT}`, USER_PASSWORD);
    expect(fresh.error).toBeUndefined();
    expect(fresh.policy?.timeBeforeExpiration).toBeUndefined();
  });

  it('passes on accountLocked once the forest locked the account, and ldapwhoami -e ppolicy sees it', async () => {
    for (let i = 0; i < 2; i++) expect((await bindWithPolicy(canopy.url, 'target@pp.test', 'wrong')).error?.code).toBe(49);
    const locked = await bindWithPolicy(canopy.url, 'target@pp.test', USER_PASSWORD);
    expect(locked.error?.code).toBe(49);
    expect(locked.policy?.error).toBe(1); // accountLocked
    const whoami = await runLdapTool('ldapwhoami', ['-x', '-H', canopy.url, '-e', 'ppolicy', '-D', `CN=target,OU=Users,${MOUNT}`, '-w', USER_PASSWORD]);
    expect(whoami.stderr).toMatch(/Account locked/i);
  });

  /** pwdReset as slapd holds it, read there by its administrator. */
  async function pwdResetOf(cn: string): Promise<unknown> {
    const root = new Client({ url: slapd.url });
    try {
      await root.bind(slapd.rootDn, slapd.rootPassword);
      return (await root.search(`CN=${cn},OU=Users,${BASE}`, { scope: 'base', attributes: ['pwdReset'] })).searchEntries[0].pwdReset;
    } finally {
      await root.unbind();
    }
  }

  it('lets a user whose password was reset change it through Canopy as itself (ldappasswd), so slapd`s ppolicy clears pwdReset', async () => {
    const dn = `CN=reset1,OU=Users,${MOUNT}`;
    const reset = await bindWithPolicy(canopy.url, 'reset1@pp.test', USER_PASSWORD);
    expect(reset.error).toBeUndefined();
    expect(reset.policy?.error).toBe(2); // changeAfterReset, from slapd
    // Until the change, the login may do nothing else, as on slapd.
    const search = await runLdapTool('ldapsearch', ['-x', '-H', canopy.url, '-D', dn, '-w', USER_PASSWORD, '-b', MOUNT, '(cn=fresh)']);
    expect(search.status).toBe(50);

    const change = await runLdapTool('ldappasswd', ['-x', '-H', canopy.url, '-D', dn, '-w', USER_PASSWORD, '-a', USER_PASSWORD, '-s', 'Changed-Passw0rd!']);
    expect(change.status, change.stdout + change.stderr).toBe(0);
    // slapd clears pwdReset only for the user's own change (an administrator's would set it again).
    expect(await pwdResetOf('reset1')).toEqual([]);
    const after = await bindWithPolicy(canopy.url, 'reset1@pp.test', 'Changed-Passw0rd!');
    expect(after.error).toBeUndefined();
    expect(after.policy?.error).toBeUndefined();
  });

  it('lets such a user change it from a connection not bound as it by proving the old password; a wrong one is a failed login', async () => {
    const anonymous = new Client({ url: canopy.url });
    try {
      const wrong = await anonymous.exop(PASSWORD_MODIFY_OID, passwordModifyValue({ user: Dn.parse(`CN=reset2,OU=Users,${MOUNT}`), oldPassword: Buffer.from('wrong'), newPassword: Buffer.from('Changed-Passw0rd!') })).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(InvalidCredentialsError);
      expect((wrong as Error).message).toBe((await bindWithPolicy(canopy.url, `CN=fresh,OU=Users,${MOUNT}`, 'wrong')).error!.message);

      await anonymous.exop(PASSWORD_MODIFY_OID, passwordModifyValue({ user: Dn.parse(`CN=reset2,OU=Users,${MOUNT}`), oldPassword: Buffer.from(USER_PASSWORD), newPassword: Buffer.from('Changed-Passw0rd!') }));
    } finally {
      await anonymous.unbind();
    }
    expect(await pwdResetOf('reset2')).toEqual([]);
    const after = await bindWithPolicy(canopy.url, 'reset2@pp.test', 'Changed-Passw0rd!');
    expect(after.error).toBeUndefined();
    expect(after.policy?.error).toBeUndefined();
  });

  it('never writes a password to the log', () => {
    expect(logLines.some((l) => l.includes('"op":"extended"'))).toBe(true);
    for (const secret of [USER_PASSWORD, 'Changed-Passw0rd!']) expect(logLines.filter((l) => l.includes(secret))).toEqual([]);
  });
});
