/**
 * A real Active Directory domain controller (Samba AD) behind Canopy: the reasons AD gives for a
 * refused login reach the client in AD's message (`data 532`, `533`, `701`, `773`, `775`) and in the
 * password policy response control, an unknown user and a wrong password stay indistinguishable,
 * and a user who must change the password changes it through Canopy.
 */
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLdapTool } from '../support/ldap-tools.js';
import { captureLog } from '../support/log-capture.js';
import { bindWithPolicy } from '../support/password-policy.js';
import { startSambaDc, type SambaDc } from '../support/samba-ad.js';
import { startTestServer } from '../support/server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';

const DOMAIN = 'canopy.test';
const ADMIN_PASSWORD = 'Adm1n-Passw0rd!';
const PASSWORD = 'User-Passw0rd!';
const NEW_PASSWORD = 'Changed-Passw0rd!';
const upn = (user: string) => `${user}@${DOMAIN}`;
/** Canopy's one message for every other refusal (ldapts appends the code). */
const GENERIC = /^invalid credentials( Code: 0x31)?$/;
/** AD's message for a refused login, as Canopy rebuilds it; `reason` is the `data` code. */
const adMessage = (reason: string) => new RegExp(`AcceptSecurityContext error, data ${reason},`);

describe('a Samba AD domain controller behind Canopy', () => {
  let dc: SambaDc;
  let canopy: Awaited<ReturnType<typeof startTestServer>>;
  let certs: TestCertificates;
  const log = captureLog();
  const userDn = (user: string) => `CN=${user},CN=Users,${dc.base}`;

  beforeAll(async () => {
    dc = await startSambaDc({ domain: DOMAIN, netbiosName: 'CANOPY', adminPassword: ADMIN_PASSWORD });
    for (const user of ['fine', 'disabled', 'expired', 'mustchange', 'mustchange2', 'locked']) await dc.tool('user', 'create', user, PASSWORD);
    await dc.tool('user', 'disable', 'disabled');
    await dc.tool('user', 'setexpiry', 'expired', '--days=0');
    for (const user of ['mustchange', 'mustchange2']) await dc.tool('user', 'setpassword', user, `--newpassword=${PASSWORD}`, '--must-change-at-next-login');
    // Passwords last two days (Samba ignores a maxPwdAge of one day or less); `aged` set its three days ago.
    await dc.toolDaysAgo(3, 'user', 'create', 'aged', PASSWORD);
    await dc.tool('domain', 'passwordsettings', 'set', '--account-lockout-threshold=3', '--min-pwd-age=0', '--max-pwd-age=2');
    certs = await makeTestCertificates();
    // Over LDAPS: AD changes a password (unicodePwd) only on an encrypted connection.
    canopy = await startTestServer(
      `tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}" }\nforests:\n  - { name: samba, backend: ldap, servers: ["${dc.ldapsUrl}"], base: "${dc.base}", upnSuffixes: { ${DOMAIN}: ${DOMAIN} }, netbiosName: CANOPY, ` +
        `tls: { ca: "${dc.caFile}", servername: "${dc.tlsName}" }, bind: { dn: "${dc.adminDn}", password: "${ADMIN_PASSWORD}" } }\n`,
      { logger: log.logger },
    );
  }, 120_000);
  afterAll(async () => {
    await canopy?.close();
    await dc?.stop();
    await certs?.remove();
  });

  it('logs in a user in good standing, by UPN and by DN', async () => {
    expect((await bindWithPolicy(canopy.url, upn('fine'), PASSWORD)).error).toBeUndefined();
    expect((await bindWithPolicy(canopy.url, userDn('fine'), PASSWORD)).error).toBeUndefined();
  });

  it('passes on AD`s reason for a disabled account (533) and an expired one (701), for the right password only', async () => {
    for (const [user, reason] of [['disabled', '533'], ['expired', '701']]) {
      const refused = await bindWithPolicy(canopy.url, upn(user), PASSWORD);
      expect(refused.error?.code).toBe(49);
      expect(refused.error?.message).toMatch(adMessage(reason));
      // Rebuilt by Canopy: Samba's own DSID and version tag (`DSID-0C0903A9`, `v1db1`) stay behind.
      expect(refused.error?.message).not.toMatch(/0C0903A9|v1db1/);
      expect(refused.policy?.error).toBeUndefined(); // the control has no error for these
      expect((await bindWithPolicy(canopy.url, upn(user), 'wrong')).error?.message).toMatch(GENERIC);
    }
  });

  it('says a password expired (532) in the message and as passwordExpired, and ldapwhoami -e ppolicy shows it', async () => {
    const refused = await bindWithPolicy(canopy.url, upn('aged'), PASSWORD);
    expect(refused.error?.code).toBe(49);
    expect(refused.error?.message).toMatch(adMessage('532'));
    expect(refused.policy?.error).toBe(0); // passwordExpired
    const whoami = await runLdapTool('ldapwhoami', ['-x', '-H', canopy.url, '-e', 'ppolicy', '-D', userDn('aged'), '-w', PASSWORD]);
    expect(whoami.status).toBe(49);
    expect(whoami.stderr).toMatch(/Password expired/);
    expect((await bindWithPolicy(canopy.url, upn('aged'), 'wrong')).error?.message).toMatch(GENERIC);
  });

  it('keeps an unknown user and a wrong password indistinguishable (AD says 52e for both)', async () => {
    const wrong = await bindWithPolicy(canopy.url, upn('fine'), 'wrong');
    const unknownUpn = await bindWithPolicy(canopy.url, upn('nobody'), PASSWORD);
    const unknownDn = await bindWithPolicy(canopy.url, userDn('nobody'), PASSWORD);
    for (const refused of [wrong, unknownUpn, unknownDn]) {
      expect(refused.error?.code).toBe(49);
      expect(refused.error?.message).toMatch(GENERIC);
      expect(refused.policy).toBeUndefined();
    }
  });

  it('says a password must change (773) in the message and as changeAfterReset, then lets the user change it through Canopy', async () => {
    const refused = await bindWithPolicy(canopy.url, upn('mustchange'), PASSWORD);
    expect(refused.error?.code).toBe(49);
    expect(refused.error?.message).toMatch(adMessage('773'));
    expect(refused.policy?.error).toBe(2); // changeAfterReset
    const whoami = await runLdapTool('ldapwhoami', ['-x', '-H', canopy.url, '-e', 'ppolicy', '-D', upn('mustchange'), '-w', PASSWORD]);
    expect(whoami.status).toBe(49);
    expect(whoami.stderr).toMatch(/Password must be changed/);
    expect(whoami.stderr).toMatch(adMessage('773'));

    // Anonymous RFC 3062 Password Modify naming the user, proving the old password: Canopy makes AD's
    // own change (unicodePwd delete old, add new) over LDAPS.
    const change = await runLdapTool('ldappasswd', ['-x', '-H', canopy.url, '-a', PASSWORD, '-s', NEW_PASSWORD, userDn('mustchange')]);
    expect(change.status, change.stdout + change.stderr).toBe(0);
    const after = await bindWithPolicy(canopy.url, upn('mustchange'), NEW_PASSWORD);
    expect(after.error).toBeUndefined();
    expect(after.policy?.error).toBeUndefined();
    expect((await bindWithPolicy(canopy.url, upn('mustchange'), PASSWORD)).error?.message).toMatch(GENERIC);
  });

  it('lets a user who must change the password change it AD`s way through Canopy: unicodePwd delete old, add new, over LDAPS', async () => {
    const value = (password: string) => Buffer.from(`"${password}"`, 'utf16le').toString('base64');
    const ldif = `dn: ${userDn('mustchange2')}\nchangetype: modify\ndelete: unicodePwd\nunicodePwd:: ${value(PASSWORD)}\n-\nadd: unicodePwd\nunicodePwd:: ${value(NEW_PASSWORD)}\n-\n`;
    const clear = await runLdapTool('ldapmodify', ['-x', '-H', canopy.url], ldif);
    expect(clear.status).toBe(53); // never in clear
    const wrongOld = ldif.replace(value(PASSWORD), value('wrong'));
    const tls = { LDAPTLS_CACERT: certs.caFile };
    const refused = await runLdapTool('ldapmodify', ['-x', '-H', canopy.urls[1]], wrongOld, tls);
    expect(refused.status).toBe(49);
    const change = await runLdapTool('ldapmodify', ['-x', '-H', canopy.urls[1]], ldif, tls);
    expect(change.status, change.stderr).toBe(0);
    expect((await bindWithPolicy(canopy.url, upn('mustchange2'), NEW_PASSWORD)).error).toBeUndefined();
  });

  it('says an account AD locked after three wrong passwords is locked (775, accountLocked), whatever the password', async () => {
    for (let i = 0; i < 3; i++) expect((await bindWithPolicy(canopy.url, upn('locked'), 'wrong')).error?.message).toMatch(GENERIC);
    for (const password of [PASSWORD, 'wrong']) {
      const refused = await bindWithPolicy(canopy.url, upn('locked'), password);
      expect(refused.error?.code).toBe(49);
      expect(refused.error?.message).toMatch(adMessage('775'));
      expect(refused.policy?.error).toBe(1); // accountLocked
    }
    const whoami = await runLdapTool('ldapwhoami', ['-x', '-H', canopy.url, '-e', 'ppolicy', '-D', userDn('locked'), '-w', PASSWORD]);
    expect(whoami.status).toBe(49);
    expect(whoami.stderr).toMatch(/Account locked/);
    // Samba counted the failures that came through Canopy: the account's lockoutTime is set.
    const admin = new Client({ url: dc.url });
    try {
      await admin.bind(dc.adminDn, ADMIN_PASSWORD);
      const [entry] = (await admin.search(userDn('locked'), { scope: 'base', attributes: ['lockoutTime'] })).searchEntries;
      expect(Number(entry.lockoutTime)).toBeGreaterThan(0);
    } finally {
      await admin.unbind();
    }
  });

  it('never writes a password to the log', () => {
    expect(log.raw.some((l) => l.includes('"op":"extended"'))).toBe(true);
    for (const secret of [PASSWORD, NEW_PASSWORD, ADMIN_PASSWORD]) expect(log.raw.filter((l) => l.includes(secret))).toEqual([]);
  });
});
