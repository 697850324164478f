/**
 * The pieces of a password change that a client not bound as the user, or bound with a reset
 * password, goes through: the authenticator proving the old password (over a real memory
 * directory in AD's profile), AD's unicodePwd delete-and-add read as a change, and the restriction
 * of a login whose password must change.
 */
import { describe, expect, it } from 'vitest';
import { CanopyAuthenticator } from '../../src/auth/authenticator.js';
import { ForestLogins } from '../../src/auth/forest-logins.js';
import { LocalAccounts } from '../../src/auth/local-accounts.js';
import { MemoryDirectory } from '../../src/backends/memory/memory-directory.js';
import { securitySchema } from '../../src/config/auth-schema.js';
import type { Modification } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import type { BindCredentials, Identity } from '../../src/core/identity.js';
import { unicodePwdValue } from '../../src/core/unicode-pwd.js';
import { unicodePwdChange } from '../../src/frontend/password-modify.js';
import { resetRestriction } from '../../src/frontend/password-reset-restriction.js';
import { createLogger } from '../../src/observability/logger.js';
import type { LdapRequest } from '../../src/protocol/decoder.js';

const BASE = 'DC=pw,DC=test';
const dnOf = (cn: string) => `CN=${cn},${BASE}`;
/** AD's FILETIME (100 ns since 1601) of a time `days` ago. */
const daysAgo = (days: number) => String(BigInt(Date.now() - days * 86_400_000) * 10000n + 116444736000000000n);
const LDIF = [
  // Passwords last 42 days (a negative count of 100 ns, as AD stores it).
  `dn: ${BASE}\nobjectClass: domain\ndc: pw\nmaxPwdAge: -36288000000000\n`,
  `dn: ${dnOf('ok')}\nobjectClass: user\ncn: ok\nsAMAccountName: ok\nuserPassword: Passw0rd!\n`,
  `dn: ${dnOf('mustchange')}\nobjectClass: user\ncn: mustchange\nsAMAccountName: mustchange\npwdLastSet: 0\nuserPassword: Passw0rd!\n`,
  `dn: ${dnOf('stale')}\nobjectClass: user\ncn: stale\nsAMAccountName: stale\npwdLastSet: ${daysAgo(50)}\nuserPassword: Passw0rd!\n`,
  `dn: ${dnOf('disabled')}\nobjectClass: user\ncn: disabled\nsAMAccountName: disabled\nuserAccountControl: 514\nuserPassword: Passw0rd!\n`,
].join('\n');

function authenticator(maxFailuresPerAccount = 10): CanopyAuthenticator {
  const directory = MemoryDirectory.fromLdif({ suffix: Dn.parse(BASE), sources: [{ name: 'pw.ldif', text: LDIF }], ad: { maxValRange: 1500 } });
  const logger = createLogger('silent');
  const forest = { name: 'pw', mount: Dn.parse(BASE), upnSuffixes: [], directory, diagnostics: 'generic' as const, checksAccountState: true };
  const security = securitySchema.parse({ throttle: { maxFailuresPerAccount, delayMs: 0 } });
  return new CanopyAuthenticator(security, new LocalAccounts([]), new ForestLogins([forest], logger), logger);
}

const credentials = (cn: string, password: string): BindCredentials => ({
  name: dnOf(cn),
  password: Buffer.from(password),
  peer: '127.0.0.1',
  secure: false,
  signal: new AbortController().signal,
  connectionId: 1,
});

describe('CanopyAuthenticator.provePassword', () => {
  it('proves a password that logs in, and one AD refuses only because it must change (773) or expired (532), which a bind does not accept', async () => {
    const auth = authenticator();
    expect(await auth.provePassword(credentials('ok', 'Passw0rd!'))).toMatchObject({ kind: 'login', identity: { kind: 'user', dn: Dn.parse(dnOf('ok')) } });
    expect(await auth.provePassword(credentials('mustchange', 'Passw0rd!'))).toEqual({ kind: 'mustChange' });
    expect(await auth.provePassword(credentials('stale', 'Passw0rd!'))).toEqual({ kind: 'mustChange' }); // 532: expired
    await expect(auth.authenticate(credentials('mustchange', 'Passw0rd!'))).rejects.toMatchObject({ code: 49 });
  });

  it('refuses a wrong password, a disabled account and an unknown user with invalidCredentials, and counts them as failed logins', async () => {
    const auth = authenticator(2);
    for (const [cn, password] of [['disabled', 'Passw0rd!'], ['nobody', 'Passw0rd!']]) {
      await expect(auth.provePassword(credentials(cn, password))).rejects.toMatchObject({ code: 49, message: 'invalid credentials' });
    }
    for (let i = 0; i < 2; i++) await expect(auth.provePassword(credentials('mustchange', 'wrong'))).rejects.toMatchObject({ code: 49 });
    // The account's failures reached the throttle's limit: the right password is refused unchecked, by a bind or a proof alike.
    await expect(auth.provePassword(credentials('mustchange', 'Passw0rd!'))).rejects.toMatchObject({ code: 49, message: 'invalid credentials' });
    await expect(auth.authenticate(credentials('mustchange', 'Passw0rd!'))).rejects.toMatchObject({ code: 49 });
  });
});

describe("AD's unicodePwd delete-and-add as a password change", () => {
  const dn = Dn.parse(dnOf('ok'));
  const change = (operation: Modification['operation'], ...values: Buffer[]): Modification => ({ operation, attribute: { name: 'unicodePwd', values } });
  const quoted = (password: string) => unicodePwdValue(Buffer.from(password));

  it('reads the old and new password of a delete and an add, over TLS only', () => {
    expect(unicodePwdChange(dn, [change('delete', quoted('Old-Pw1')), change('add', quoted('New-Pw1'))], true)).toEqual({
      user: dn,
      oldPassword: Buffer.from('Old-Pw1'),
      newPassword: Buffer.from('New-Pw1'),
    });
    expect(() => unicodePwdChange(dn, [change('delete', quoted('Old-Pw1')), change('add', quoted('New-Pw1'))], false)).toThrow(
      expect.objectContaining({ code: 53 }),
    );
  });

  it('leaves other modifies alone (a replace is an administrator`s), and refuses values that are not one quoted UTF-16LE password', () => {
    expect(unicodePwdChange(dn, [change('replace', quoted('New-Pw1'))], true)).toBeUndefined();
    const phone: Modification = { operation: 'replace', attribute: { name: 'telephoneNumber', values: ['1'] } };
    expect(unicodePwdChange(dn, [phone, change('add', quoted('New-Pw1'))], true)).toBeUndefined();
    for (const values of [[Buffer.from('"New-Pw1"')], [quoted('a'), quoted('b')], []]) {
      expect(() => unicodePwdChange(dn, [change('delete', quoted('Old-Pw1')), change('add', ...values)], true)).toThrow(expect.objectContaining({ code: 19 }));
    }
  });
});

describe('the restriction of a login whose password an administrator reset', () => {
  const own = Dn.parse(dnOf('ok'));
  const reset: Identity = { kind: 'user', forest: 'pw', dn: own, login: dnOf('ok'), mustChangePassword: true };
  const extended = (oid: string, passwordModify?: { userIdentity?: string }): LdapRequest => ({ op: 'extended', oid, ...(passwordModify && { passwordModify }) });
  const modify = (dn: string, name: string): LdapRequest => ({ op: 'modify', dn: Dn.parse(dn), changes: [{ operation: 'replace', attribute: { name, values: ['x'] } }] });

  it('allows binding, Who Am I and changing its own password only', () => {
    const allowed: LdapRequest[] = [
      { op: 'bind', version: 3, name: '', auth: { method: 'simple', password: Buffer.alloc(0) } },
      extended('1.3.6.1.4.1.4203.1.11.3'),
      extended('1.3.6.1.4.1.4203.1.11.1', {}),
      extended('1.3.6.1.4.1.4203.1.11.1', { userIdentity: dnOf('OK') }),
      modify(dnOf('ok'), 'userPassword'),
      modify(dnOf('ok'), 'unicodePwd'),
    ];
    for (const request of allowed) expect(resetRestriction(reset, request)).toBeUndefined();
    const refused: LdapRequest[] = [
      extended('1.3.6.1.4.1.4203.1.11.1', { userIdentity: dnOf('other') }),
      modify(dnOf('ok'), 'description'),
      modify(dnOf('other'), 'userPassword'),
      { op: 'delete', dn: own },
      { op: 'search', search: { base: own, scope: 'base', filter: { type: 'present', attribute: 'objectClass' }, attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 } },
    ];
    for (const request of refused) expect(resetRestriction(reset, request)).toMatchObject({ code: 50, message: 'Operations are restricted to bind/unbind/abandon/StartTLS/modify password' });
    // Any other login is not restricted.
    const { mustChangePassword: _, ...changed } = reset;
    expect(resetRestriction(changed, refused[3])).toBeUndefined();
  });
});
