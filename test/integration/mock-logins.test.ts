/**
 * Logins that say why, against the mock directory through real clients (ldapts with the password
 * policy control, ldapwhoami -e ppolicy): Active Directory's account states in the AD profile, with
 * AD's messages; OpenLDAP's ppolicy in the plain profile; the mock's clock moving lockout and expiry.
 */
import { Attribute, BerWriter, Change, Client, InvalidCredentialsError, PasswordPolicyControl, ResultCodeError } from 'ldapts';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { passwordModifyValue, PASSWORD_MODIFY_OID } from '../../src/backends/ldap/password-change.js';
import { Dn } from '../../src/core/dn.js';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { bindWithPolicy } from '../support/password-policy.js';
import { startTestServer } from '../support/server.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** AD's FILETIME: 100 ns since 1601. */
const fileTime = (ms: number) => String(BigInt(ms) * 10000n + 116444736000000000n);
const adMessage = (data: string) => `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${data}, v4563`;

async function passwordModify(client: Client, user: string, newPassword: string, oldPassword?: string): Promise<PasswordPolicyControl> {
  const control = new PasswordPolicyControl();
  const value = passwordModifyValue({ user: Dn.parse(user), newPassword: Buffer.from(newPassword), ...(oldPassword && { oldPassword: Buffer.from(oldPassword) }) });
  await client.exop(PASSWORD_MODIFY_OID, value, control);
  return control;
}

/**
 * The mock directory with `ldif`, started before a block's tests (handed over with an
 * administrator client bound to it), reset after each test and stopped after all.
 */
function useMock(profile: 'ad' | 'plain', ldif: () => string, started: (dir: MockDirectory, admin: Client) => void): void {
  let dir: MockDirectory | undefined;
  let admin: Client | undefined;
  beforeAll(async () => {
    dir = await startMockDirectory({ ldif: ldif(), profile });
    admin = new Client({ url: dir.url });
    await admin.bind(dir.bindDn, dir.password);
    started(dir, admin);
  });
  afterEach(() => dir?.reset());
  afterAll(async () => {
    await admin?.unbind();
    await dir?.close();
  });
}

const AD_BASE = 'DC=logins,DC=test';
const adDn = (cn: string) => `CN=${cn},CN=Users,${AD_BASE}`;

/** An AD domain with a lockout and password age policy, and a user in each account state (password Passw0rd!). */
function adLdif(): string {
  const now = Date.now();
  const user = (cn: string, extra = '') =>
    `dn: ${adDn(cn)}\nobjectClass: user\ncn: ${cn}\nsAMAccountName: ${cn}\nuserPrincipalName: ${cn}@logins.test\nuserAccountControl: 512\npwdLastSet: ${fileTime(now - DAY)}\nuserPassword: Passw0rd!\n${extra}`;
  return [
    // Lock after 3 failures for 30 minutes; passwords last 42 days (AD's intervals are negative 100 ns counts).
    `dn: ${AD_BASE}\nobjectClass: domain\nobjectClass: domainDNS\ndc: logins\nlockoutThreshold: 3\nlockoutDuration: -18000000000\nlockOutObservationWindow: -18000000000\nmaxPwdAge: -36288000000000\n`,
    `dn: CN=Users,${AD_BASE}\nobjectClass: container\ncn: Users\n`,
    user('ok'),
    user('disabled').replace('userAccountControl: 512', 'userAccountControl: 514'),
    user('mustchange').replace(/pwdLastSet: \d+/, 'pwdLastSet: 0'),
    user('gone', `accountExpires: ${fileTime(now - DAY)}\n`),
    user('stale').replace(/pwdLastSet: \d+/, `pwdLastSet: ${fileTime(now - 50 * DAY)}`),
    user('locker'),
  ].join('\n');
}

describe('mock directory, profile ad: account states with AD reasons', () => {
  const BASE = AD_BASE;
  const dnOf = adDn;
  let dir: MockDirectory;
  let admin: Client;

  useMock('ad', adLdif, (started, bound) => {
    dir = started;
    admin = bound;
  });

  it('answers an unknown user and a wrong password alike, without a reason', async () => {
    const unknown = await bindWithPolicy(dir.url, dnOf('nobody'), 'Passw0rd!');
    const wrong = await bindWithPolicy(dir.url, dnOf('ok'), 'wrong');
    expect(unknown.error).toBeInstanceOf(InvalidCredentialsError);
    expect(wrong.error).toBeInstanceOf(InvalidCredentialsError);
    expect(unknown.error!.message).toBe(wrong.error!.message);
    expect(wrong.error!.message).not.toMatch(/data|525|52e/);
    expect(wrong.policy?.error).toBeUndefined();
  });

  it.each([
    ['disabled', '533', undefined],
    ['mustchange', '773', 2], // changeAfterReset
    ['gone', '701', undefined],
    ['stale', '532', 0], // passwordExpired
  ])('refuses %s with the right password with AD data %s and the control error', async (cn, data, policyError) => {
    const { error, policy } = await bindWithPolicy(dir.url, dnOf(cn), 'Passw0rd!');
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect(error!.message).toContain(adMessage(data));
    expect(policy?.error).toBe(policyError);
    // With a wrong password AD gives no reason of the account's.
    const wrong = await bindWithPolicy(dir.url, dnOf(cn), 'wrong');
    expect(wrong.error!.message).not.toContain('data');
  });

  it('locks an account at lockoutThreshold until lockoutDuration passes on the mock clock', async () => {
    for (let i = 0; i < 3; i++) expect((await bindWithPolicy(dir.url, dnOf('locker'), 'wrong')).error).toBeInstanceOf(InvalidCredentialsError);
    const locked = await bindWithPolicy(dir.url, dnOf('locker'), 'Passw0rd!');
    expect(locked.error!.message).toContain(adMessage('775'));
    expect(locked.policy?.error).toBe(1); // accountLocked
    const read = async () =>
      (await admin.search(dnOf('locker'), { scope: 'base', attributes: ['lockoutTime', 'badPwdCount', 'msDS-User-Account-Control-Computed'] })).searchEntries[0];
    const state = await read();
    expect(Number(state['msDS-User-Account-Control-Computed']) & 0x10).toBe(0x10);
    expect(state.lockoutTime).not.toBe('0');
    expect(state.badPwdCount).toBe('3');

    dir.clock.advance(31 * MINUTE);
    expect(Number((await read())['msDS-User-Account-Control-Computed']) & 0x10).toBe(0);
    expect((await bindWithPolicy(dir.url, dnOf('locker'), 'Passw0rd!')).error).toBeUndefined();
    expect(await read()).toMatchObject({ lockoutTime: '0', badPwdCount: '0' });
  });

  it('expires a password after maxPwdAge on the mock clock (532, computed flag 0x800000)', async () => {
    dir.clock.advance(42 * DAY);
    const { error } = await bindWithPolicy(dir.url, dnOf('ok'), 'Passw0rd!');
    expect(error!.message).toContain(adMessage('532'));
    const entry = (await admin.search(dnOf('ok'), { scope: 'base', attributes: ['msDS-User-Account-Control-Computed'] })).searchEntries[0];
    expect(Number(entry['msDS-User-Account-Control-Computed']) & 0x800000).toBe(0x800000);
  });

  it('lets ldapwhoami -e ppolicy see the reason', async () => {
    const result = await runLdapTool('ldapwhoami', ['-x', '-H', dir.url, '-e', 'ppolicy', '-D', dnOf('mustchange'), '-w', 'Passw0rd!']);
    expect(result.status).toBe(49);
    expect(result.stderr).toContain('data 773');
    expect(result.stderr).toMatch(/Password must be changed/i);
  });

  describe('through Canopy in front of it (an ldap forest)', () => {
    const MOUNT = 'ou=logins,dc=corp,dc=example';
    const proxied = (cn: string) => `CN=${cn},CN=Users,${MOUNT}`;
    const proxy = (diagnostics: string) =>
      startTestServer(
        `${diagnostics}forests:\n  - { name: logins, backend: ldap, servers: ["${dir.url}"], base: "${BASE}", mount: "${MOUNT}", netbiosName: LOGINS, ` +
          `bind: { dn: "${dir.bindDn}", password: "${dir.password}" } }\n`,
      );

    it('passes AD reasons in AD format by default for an AD forest; 525 and 52e stay one message', async () => {
      const canopy = await proxy('');
      onTestFinished(() => canopy.close());
      const locked = await bindWithPolicy(canopy.url, 'LOGINS\\mustchange', 'Passw0rd!');
      // Nothing but AD's message (ldapts appends the code to what it received).
      expect(locked.error!.message.replace(/ Code: 0x31$/, '')).toBe(adMessage('773'));
      expect(locked.policy?.error).toBe(2);
      const unknown = await bindWithPolicy(canopy.url, proxied('nobody'), 'Passw0rd!');
      const wrong = await bindWithPolicy(canopy.url, proxied('ok'), 'wrong');
      expect(unknown.error!.message).toBe(wrong.error!.message);
      expect(wrong.error!.message).not.toContain('data');
    });

    it('lets a user refused with 773 change its password through Canopy: Password Modify with the old one, not bound', async () => {
      const canopy = await proxy('');
      onTestFinished(() => canopy.close());
      const anonymous = new Client({ url: canopy.url });
      onTestFinished(() => anonymous.unbind());
      await passwordModify(anonymous, proxied('mustchange'), 'N3w-Passw0rd!', 'Passw0rd!');
      expect((await bindWithPolicy(canopy.url, 'LOGINS\\mustchange', 'N3w-Passw0rd!')).error).toBeUndefined();
      const entry = (await admin.search(dnOf('mustchange'), { scope: 'base', attributes: ['pwdLastSet'] })).searchEntries[0];
      expect(BigInt(entry.pwdLastSet as string)).toBeGreaterThan(0n);
      // A wrong old password is a failed login, answered as one.
      const wrong = await passwordModify(anonymous, proxied('stale'), 'N3w-Passw0rd!', 'wrong').catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(InvalidCredentialsError);
      expect((wrong as Error).message).toBe((await bindWithPolicy(canopy.url, proxied('ok'), 'wrong')).error!.message);
    });

    it('keeps one message and no control state with bindDiagnostics: generic', async () => {
      const canopy = await proxy('security: { bindDiagnostics: generic }\n');
      onTestFinished(() => canopy.close());
      const { error, policy } = await bindWithPolicy(canopy.url, proxied('disabled'), 'Passw0rd!');
      expect(error).toBeInstanceOf(InvalidCredentialsError);
      expect(error!.message).toBe((await bindWithPolicy(canopy.url, proxied('ok'), 'wrong')).error!.message);
      expect(policy).toBeUndefined();
    });
  });

  it('logs a user in by UPN after an administrator set a new password (773 met)', async () => {
    await passwordModify(admin, dnOf('mustchange'), 'N3w-Passw0rd!');
    expect((await bindWithPolicy(dir.url, 'mustchange@logins.test', 'N3w-Passw0rd!')).error).toBeUndefined();
  });

  it('lets a user refused with 773 change its own password without an administrator: ldappasswd with the old one, not bound', async () => {
    const tool = await runLdapTool('ldappasswd', ['-x', '-H', dir.url, '-a', 'Passw0rd!', '-s', 'N3w-Passw0rd!', dnOf('mustchange')]);
    expect(tool.status, tool.stderr).toBe(0);
    expect((await bindWithPolicy(dir.url, dnOf('mustchange'), 'N3w-Passw0rd!')).error).toBeUndefined();
    expect((await bindWithPolicy(dir.url, dnOf('mustchange'), 'Passw0rd!')).error).toBeInstanceOf(InvalidCredentialsError);
    const entry = (await admin.search(dnOf('mustchange'), { scope: 'base', attributes: ['pwdLastSet'] })).searchEntries[0];
    expect(BigInt(entry.pwdLastSet as string)).toBeGreaterThan(0n);
  });

  it('counts a wrong old password as a failed login: invalidCredentials with no hint, and lockoutThreshold of them lock the account', async () => {
    const anonymous = new Client({ url: dir.url });
    onTestFinished(() => anonymous.unbind());
    const wrongBind = (await bindWithPolicy(dir.url, dnOf('ok'), 'wrong')).error!;
    for (let i = 0; i < 3; i++) {
      const err = await passwordModify(anonymous, dnOf('mustchange'), 'N3w-Passw0rd!', 'wrong').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidCredentialsError);
      expect((err as Error).message).toBe(wrongBind.message);
    }
    // Locked out now: the right old password changes nothing either, and AD's 775 says why.
    const locked = await passwordModify(anonymous, dnOf('mustchange'), 'N3w-Passw0rd!', 'Passw0rd!').catch((e: unknown) => e);
    expect((locked as Error).message).toContain(adMessage('775'));
    expect((await bindWithPolicy(dir.url, dnOf('mustchange'), 'N3w-Passw0rd!')).error).toBeInstanceOf(InvalidCredentialsError);
  });
});

describe('mock directory, profile ad: a password changed with unicodePwd, over TLS', () => {
  let dir: MockDirectory;
  const quoted = (password: string) => Buffer.from(`"${password}"`, 'utf16le');
  const ownChange = (oldPassword: Buffer, newPassword: Buffer) => [
    new Change({ operation: 'delete', modification: new Attribute({ type: 'unicodePwd', values: [oldPassword] }) }),
    new Change({ operation: 'add', modification: new Attribute({ type: 'unicodePwd', values: [newPassword] }) }),
  ];
  const ldaps = () => {
    const client = new Client({ url: dir.ldapsUrl!, tlsOptions: { ca: [dir.caPem!] } });
    onTestFinished(() => client.unbind());
    return client;
  };

  beforeAll(async () => {
    dir = await startMockDirectory({ ldif: adLdif(), profile: 'ad', tls: true });
  });
  afterEach(() => dir?.reset());
  afterAll(() => dir?.close());

  it('lets a user refused with 773 change it with ldapmodify (delete the old, add the new), not bound', async () => {
    const b64 = (password: string) => quoted(password).toString('base64');
    const ldif = `dn: ${adDn('mustchange')}\nchangetype: modify\ndelete: unicodePwd\nunicodePwd:: ${b64('Passw0rd!')}\n-\nadd: unicodePwd\nunicodePwd:: ${b64('N3w-Passw0rd!')}\n-\n`;
    const tool = await runLdapTool('ldapmodify', ['-x', '-H', dir.ldapsUrl!], ldif, { LDAPTLS_CACERT: dir.caFile! });
    expect(tool.status, tool.stderr).toBe(0);
    expect((await bindWithPolicy(dir.url, adDn('mustchange'), 'N3w-Passw0rd!')).error).toBeUndefined();
  });

  it('lets a bound user change its own the same way, and refuses a wrong old password with invalidCredentials when not bound as the user', async () => {
    const user = ldaps();
    await user.bind(adDn('ok'), 'Passw0rd!');
    await user.modify(adDn('ok'), ownChange(quoted('Passw0rd!'), quoted('Own-Passw0rd!')));
    expect((await bindWithPolicy(dir.url, adDn('ok'), 'Own-Passw0rd!')).error).toBeUndefined();
    const err = await ldaps().modify(adDn('ok'), ownChange(quoted('wrong'), quoted('Other-Passw0rd!'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidCredentialsError);
    expect((await bindWithPolicy(dir.url, adDn('ok'), 'Own-Passw0rd!')).error).toBeUndefined();
  });

  it('refuses it in clear text (unwillingToPerform) and a value that is not quoted UTF-16LE (constraintViolation)', async () => {
    const plain = new Client({ url: dir.url });
    onTestFinished(() => plain.unbind());
    const clear = await plain.modify(adDn('mustchange'), ownChange(quoted('Passw0rd!'), quoted('N3w-Passw0rd!'))).catch((e: unknown) => e);
    expect((clear as ResultCodeError).code).toBe(53);
    const utf8 = await ldaps().modify(adDn('mustchange'), ownChange(quoted('Passw0rd!'), Buffer.from('"N3w-Passw0rd!"'))).catch((e: unknown) => e);
    expect((utf8 as ResultCodeError).code).toBe(19);
    expect((await bindWithPolicy(dir.url, adDn('mustchange'), 'Passw0rd!')).error!.message).toContain(adMessage('773'));
  });
});

describe('mock directory, profile plain: ppolicy', () => {
  const BASE = 'dc=plain,dc=test';
  const dnOf = (uid: string) => `uid=${uid},ou=people,${BASE}`;
  let dir: MockDirectory;
  let admin: Client;

  useMock('plain', () => {
    const changed = new Date(Date.now() - 25 * DAY).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    const user = (uid: string) => `dn: ${dnOf(uid)}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: Passw0rd!\npwdChangedTime: ${changed}\n`;
    return [
      `dn: ${BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: plain\no: plain\n`,
      `dn: ou=policies,${BASE}\nobjectClass: organizationalUnit\nou: policies\n`,
      // 30-day passwords with a 7-day warning and 2 grace logins; 3 failures lock for 10 minutes.
      `dn: cn=default,ou=policies,${BASE}\nobjectClass: device\nobjectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\n` +
        `pwdMinLength: 8\npwdCheckQuality: 1\npwdMaxAge: ${30 * 86400}\npwdExpireWarning: ${7 * 86400}\npwdGraceAuthNLimit: 2\n` +
        `pwdLockout: TRUE\npwdMaxFailure: 3\npwdLockoutDuration: 600\npwdMustChange: TRUE\n`,
      // Passwords written in clear are stored hashed for the users this one governs.
      `dn: cn=hashing,ou=policies,${BASE}\nobjectClass: device\nobjectClass: pwdPolicy\ncn: hashing\npwdAttribute: userPassword\nolcPPolicyHashCleartext: TRUE\n`,
      `dn: ou=people,${BASE}\nobjectClass: organizationalUnit\nou: people\n`,
      user('alice'),
      user('bob'),
      `${user('carol')}pwdPolicySubentry: cn=hashing,ou=policies,${BASE}\n`,
    ].join('\n');
  }, (started, bound) => {
    dir = started;
    admin = bound;
  });

  it('warns before the password expires, then allows pwdGraceAuthNLimit grace logins', async () => {
    const warned = await bindWithPolicy(dir.url, dnOf('alice'), 'Passw0rd!');
    expect(warned.error).toBeUndefined();
    expect(warned.policy?.timeBeforeExpiration).toBeGreaterThan(5 * 86400 - 120);
    expect(warned.policy?.timeBeforeExpiration).toBeLessThanOrEqual(5 * 86400);

    dir.clock.advance(6 * DAY);
    expect((await bindWithPolicy(dir.url, dnOf('alice'), 'Passw0rd!')).policy).toEqual({ graceAuthNsRemaining: 1 });
    expect((await bindWithPolicy(dir.url, dnOf('alice'), 'Passw0rd!')).policy).toEqual({ graceAuthNsRemaining: 0 });
    const refused = await bindWithPolicy(dir.url, dnOf('alice'), 'Passw0rd!');
    expect(refused.error).toBeInstanceOf(InvalidCredentialsError);
    expect(refused.policy?.error).toBe(0); // passwordExpired
  });

  it('locks after pwdMaxFailure failures until pwdLockoutDuration passes', async () => {
    for (let i = 0; i < 3; i++) await bindWithPolicy(dir.url, dnOf('bob'), 'wrong');
    const locked = await bindWithPolicy(dir.url, dnOf('bob'), 'Passw0rd!');
    expect(locked.error).toBeInstanceOf(InvalidCredentialsError);
    expect(locked.policy?.error).toBe(1); // accountLocked
    const whoami = await runLdapTool('ldapwhoami', ['-x', '-H', dir.url, '-e', 'ppolicy', '-D', dnOf('bob'), '-w', 'Passw0rd!']);
    expect(whoami.status).toBe(49);
    expect(whoami.stderr).toMatch(/Account locked/i);
    dir.clock.advance(11 * MINUTE);
    expect((await bindWithPolicy(dir.url, dnOf('bob'), 'Passw0rd!')).error).toBeUndefined();
  });

  it('refuses a password shorter than pwdMinLength with constraintViolation and passwordTooShort', async () => {
    const control = new PasswordPolicyControl();
    const value = passwordModifyValue({ user: Dn.parse(dnOf('alice')), newPassword: Buffer.from('short') });
    const err = await admin.exop(PASSWORD_MODIFY_OID, value, control).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResultCodeError);
    expect((err as ResultCodeError).code).toBe(19);
    expect(control.value?.error).toBe(6); // passwordTooShort
  });

  it('after an administrator reset, says changeAfterReset until the user changes its own password', async () => {
    await passwordModify(admin, dnOf('alice'), 'Reset-Passw0rd');
    const reset = await bindWithPolicy(dir.url, dnOf('alice'), 'Reset-Passw0rd');
    expect(reset.error).toBeUndefined();
    expect(reset.policy?.error).toBe(2); // changeAfterReset
    const whoami = await runLdapTool('ldapwhoami', ['-x', '-H', dir.url, '-e', 'ppolicy', '-D', dnOf('alice'), '-w', 'Reset-Passw0rd']);
    expect(whoami.stderr + whoami.stdout).toMatch(/Password must be changed/i);

    const user = new Client({ url: dir.url });
    await user.bind(dnOf('alice'), 'Reset-Passw0rd');
    await passwordModify(user, dnOf('alice'), 'Own-Passw0rd!', 'Reset-Passw0rd');
    await user.unbind();
    const after = await bindWithPolicy(dir.url, dnOf('alice'), 'Own-Passw0rd!');
    expect(after.error).toBeUndefined();
    expect(after.policy).toBeUndefined();
  });

  const replace = (type: string, value: string) => new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] }) });
  const codeOf = (p: Promise<unknown>) => p.then(() => 0, (e: ResultCodeError) => e.code);
  const read = async (uid: string, attribute: string) => (await admin.search(dnOf(uid), { scope: 'base', attributes: [attribute] })).searchEntries[0][attribute];

  it('restricts a login after an administrator reset to changing its own password (50 for anything else) until it does', async () => {
    await admin.modify(dnOf('bob'), [replace('userPassword', 'Reset-Passw0rd')]);
    expect(await read('bob', 'pwdReset')).toBe('TRUE');
    const user = new Client({ url: dir.url });
    onTestFinished(() => user.unbind());
    const control = new PasswordPolicyControl();
    await user.bind(dnOf('bob'), 'Reset-Passw0rd', control);
    expect(control.value?.error).toBe(2); // changeAfterReset

    expect(await codeOf(user.search(BASE, { filter: '(uid=alice)' }))).toBe(50);
    expect(await codeOf(user.compare(dnOf('alice'), 'uid', 'alice'))).toBe(50);
    expect(await codeOf(user.modify(dnOf('bob'), [replace('description', 'mine')]))).toBe(50);
    expect(await codeOf(passwordModify(user, dnOf('alice'), 'Their-Passw0rd'))).toBe(50);
    const search = await runLdapTool('ldapsearch', ['-x', '-H', dir.url, '-D', dnOf('bob'), '-w', 'Reset-Passw0rd', '-b', BASE, '(uid=alice)']);
    expect(search.status).toBe(50);
    expect(search.stdout + search.stderr).toContain('Operations are restricted to bind/unbind/abandon/StartTLS/modify password');
    expect((await user.exop('1.3.6.1.4.1.4203.1.11.3')).value).toBe(`dn:${dnOf('bob')}`); // Who Am I still answers

    const change = await runLdapTool('ldappasswd', ['-x', '-H', dir.url, '-D', dnOf('bob'), '-w', 'Reset-Passw0rd', '-a', 'Reset-Passw0rd', '-s', 'Own-Passw0rd!']);
    expect(change.status, change.stderr).toBe(0);
    expect(await read('bob', 'pwdReset')).toEqual([]); // gone
    await user.bind(dnOf('bob'), 'Own-Passw0rd!');
    expect((await user.search(BASE, { filter: '(uid=alice)' })).searchEntries).toHaveLength(1);
  });

  it('lifts the restriction on the connection that changed the password (Password Modify naming no user)', async () => {
    await passwordModify(admin, dnOf('bob'), 'Reset-Passw0rd');
    const user = new Client({ url: dir.url });
    onTestFinished(() => user.unbind());
    await user.bind(dnOf('bob'), 'Reset-Passw0rd');
    expect(await codeOf(user.search(BASE, { filter: '(uid=bob)' }))).toBe(50);
    // RFC 3062 without userIdentity: the bound user's own password.
    const own = new BerWriter();
    own.startSequence();
    own.writeString('Reset-Passw0rd', 0x81);
    own.writeString('Own-Passw0rd!', 0x82);
    own.endSequence();
    await user.exop(PASSWORD_MODIFY_OID, own.buffer);
    expect((await user.search(BASE, { filter: '(uid=bob)' })).searchEntries).toHaveLength(1);
    expect(await read('bob', 'pwdReset')).toEqual([]); // gone
    const after = await bindWithPolicy(dir.url, dnOf('bob'), 'Own-Passw0rd!');
    expect(after.error).toBeUndefined();
    expect(after.policy).toBeUndefined();
  });

  it('stores userPassword written in clear as {SSHA} where the policy has olcPPolicyHashCleartext: TRUE, and binds with the clear one', async () => {
    const add = `dn: ${dnOf('dave')}\nobjectClass: inetOrgPerson\nuid: dave\ncn: dave\nsn: dave\npwdPolicySubentry: cn=hashing,ou=policies,${BASE}\nuserPassword: Added-Passw0rd\n`;
    const added = await runLdapTool('ldapadd', ['-x', '-H', dir.url, '-D', dir.bindDn, '-w', dir.password], add);
    expect(added.status, added.stderr).toBe(0);
    expect(await read('dave', 'userPassword')).toMatch(/^\{SSHA\}/);
    expect((await bindWithPolicy(dir.url, dnOf('dave'), 'Added-Passw0rd')).error).toBeUndefined();

    await admin.modify(dnOf('carol'), [replace('userPassword', 'Modified-Passw0rd')]);
    expect(await read('carol', 'userPassword')).toMatch(/^\{SSHA\}/);
    expect((await bindWithPolicy(dir.url, dnOf('carol'), 'Modified-Passw0rd')).error).toBeUndefined();
    await passwordModify(admin, dnOf('carol'), 'Exop-Passw0rd');
    expect(await read('carol', 'userPassword')).toMatch(/^\{SSHA\}/);
    expect((await bindWithPolicy(dir.url, dnOf('carol'), 'Exop-Passw0rd')).error).toBeUndefined();

    // The default policy does not hash: a clear value stays as written, and is checked for quality.
    await admin.modify(dnOf('alice'), [replace('userPassword', 'Clear-Passw0rd')]);
    expect(await read('alice', 'userPassword')).toBe('Clear-Passw0rd');
    expect(await codeOf(admin.modify(dnOf('alice'), [replace('userPassword', 'short')]))).toBe(19);
  });
});
