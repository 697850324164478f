import { describe, expect, it } from 'vitest';
import { passwordMethod, passwordModifyValue, unicodePwdChanges } from '../../src/backends/ldap/password-change.js';
import { isUnicodePwd, passwordOfUnicodePwd, unicodePwdValue } from '../../src/core/unicode-pwd.js';
import type { UpstreamConnection } from '../../src/backends/ldap/upstream-connection.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { decodeMessage } from '../../src/protocol/decoder.js';
import { berOctets, berTlv } from '../../src/protocol/ber-writer.js';

/** A connection whose server's root DSE says what `rootDse` holds. */
const serving = (rootDse: Record<string, string[]>): UpstreamConnection =>
  ({
    readEntry: () => Promise.resolve(new Entry(Dn.parse(''), Object.entries(rootDse).map(([name, values]) => ({ name, values })))),
  }) as unknown as UpstreamConnection;

describe('upstream password changes', () => {
  it('encodes the RFC 3062 value Canopy itself decodes', () => {
    const value = passwordModifyValue({ user: Dn.parse('CN=Jo,DC=x'), oldPassword: Buffer.from('old'), newPassword: Buffer.from('new') });
    const request = berTlv(0x30, Buffer.from([0x02, 0x01, 0x01]), berTlv(0x77, berOctets('1.3.6.1.4.1.4203.1.11.1', 0x80), berOctets(value, 0x81)));
    expect(decodeMessage(request)).toMatchObject({
      request: { passwordModify: { userIdentity: 'CN=Jo,DC=x', oldPassword: Buffer.from('old'), newPassword: Buffer.from('new') } },
    });
  });

  it('writes Active Directory`s unicodePwd: quoted UTF-16LE, delete+add for a user, replace for a reset', () => {
    expect(unicodePwdValue(Buffer.from('Pässw0rd'))).toEqual(Buffer.from('"Pässw0rd"', 'utf16le'));
    const own = unicodePwdChanges(Buffer.from('old'), Buffer.from('new'));
    expect(own.map((c) => [c.operation, c.modification.type, c.modification.values])).toEqual([
      ['delete', 'unicodePwd', [Buffer.from('"old"', 'utf16le')]],
      ['add', 'unicodePwd', [Buffer.from('"new"', 'utf16le')]],
    ]);
    expect(unicodePwdChanges(undefined, Buffer.from('new')).map((c) => c.operation)).toEqual(['replace']);
    expect(['unicodePwd', 'UNICODEPWD;binary'].every(isUnicodePwd)).toBe(true);
    expect(isUnicodePwd('userPassword')).toBe(false);
  });

  it('reads the password a client wrote to unicodePwd, and refuses values that are not quoted UTF-16LE', () => {
    expect(passwordOfUnicodePwd(unicodePwdValue(Buffer.from('Pässw0rd')))).toEqual(Buffer.from('Pässw0rd'));
    expect(passwordOfUnicodePwd(Buffer.from('"Passw0rd"'))).toBeUndefined(); // UTF-8, not UTF-16LE
    expect(passwordOfUnicodePwd(Buffer.from('Passw0rd', 'utf16le'))).toBeUndefined(); // no quotes
    expect(passwordOfUnicodePwd(Buffer.from('"', 'utf16le'))).toBeUndefined();
  });

  it('picks the method from the root DSE', async () => {
    expect(await passwordMethod(serving({ supportedExtension: ['1.3.6.1.4.1.4203.1.11.1', '1.3.6.1.4.1.1466.20037'] }))).toBe('exop');
    expect(await passwordMethod(serving({ supportedCapabilities: ['1.2.840.113556.1.4.800'] }))).toBe('unicodePwd');
    expect(await passwordMethod(serving({ supportedCapabilities: ['1.2.840.113556.1.4.1851'] }))).toBe('unicodePwd');
    expect(await passwordMethod(serving({}))).toBe('none');
  });
});
