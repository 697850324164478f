import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { Anonymizer, treatmentOf } from '../../src/tools/anonymize.js';
import { Pseudonyms } from '../../src/tools/anonymize-pseudonyms.js';
import { sid } from '../../src/tools/fixture-generator.js';

/** A domain SID S-1-5-21-a-b-c, with a RID when given. */
/** A SID of the NT authority: 21, the domain's sub-authorities, then the RID when given. */
function ntSid(domain: readonly number[], rid?: number): Buffer {
  return sid([21, ...domain, ...(rid === undefined ? [] : [rid])]);
}

const person = (dn: string, attributes: Record<string, (string | Buffer)[]>) =>
  new Entry(Dn.parse(dn), Object.entries(attributes).map(([name, values]) => ({ name, values })));

describe('pseudonyms', () => {
  const p = new Pseudonyms('seed-1');

  it('are a function of the value and the seed: same input, same output; another seed, another output', () => {
    expect(p.text('John Doe')).toBe(new Pseudonyms('seed-1').text('John Doe'));
    expect(p.text('John Doe')).not.toBe(new Pseudonyms('seed-2').text('John Doe'));
    expect(p.text('John Doe')).not.toBe('John Doe');
  });

  it('keep the shape: token lengths, case, punctuation; and agree whatever the case of the input', () => {
    const out = p.text('Doe, Jane-Marie');
    expect(out).toMatch(/^[A-Z][a-z]{2}, [A-Z][a-z]{3}-[A-Z][a-z]{4}$/);
    expect(p.text('JOHN').toLowerCase()).toBe(p.text('john'));
    expect(p.text('John')).toBe(p.text('john')[0].toUpperCase() + p.text('john').slice(1));
    // Tokens map alike wherever they are: mail local parts agree with the names.
    expect(p.text('john.doe')).toBe(`${p.text('john')}.${p.text('doe')}`);
  });

  it('never map two different logins to one (a keyed permutation, not a hash)', () => {
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const all = [...letters].flatMap((a) => [...letters].map((b) => a + b));
    expect(new Set(all.map((t) => p.text(t))).size).toBe(all.length);
    expect(new Set([...letters].map((t) => p.text(t))).size).toBe(26);
    const numbers = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
    expect(new Set(numbers.map((n) => p.text(n))).size).toBe(1000);
  });

  it('replace non-ASCII names: accents and other scripts give Latin letters, and accented and plain names stay apart', () => {
    const jose = p.text('José Müller');
    expect(jose).toMatch(/^[A-Z][a-z]{3} [A-Z][a-z]{5}$/);
    expect(p.text('José')).not.toBe(p.text('Jose'));
    expect(p.text('JOSÉ').toLowerCase()).toBe(p.text('josé').toLowerCase());
    const wang = p.text('王小明');
    expect(wang).toMatch(/^[A-Z][a-z]{7}$/);
    expect(p.text('王')).not.toBe(p.text('明'));
  });

  it('replace all digits of a phone number as one number, keeping its format', () => {
    const out = p.phone('+1 408 555 0103');
    expect(out).toMatch(/^\+\d \d{3} \d{3} \d{4}$/);
    expect(out).not.toBe('+1 408 555 0103');
    expect(p.phone('+14085550103')).toBe(out.replace(/ /g, ''));
    expect(p.phone('2000')).toMatch(/^\d{4}$/);
  });
});

describe('the allow-list', () => {
  it('drops every secret, photos and certificates', () => {
    for (const name of ['userPassword', 'unicodePwd', 'msDS-ManagedPassword', 'unixUserPassword', 'ntPwdHistory', 'jpegPhoto', 'thumbnailPhoto', 'userCertificate', 'userCertificate;binary']) {
      expect(treatmentOf(name), name).toBe('drop');
    }
  });

  it('keeps structure, rewrites DNs, and treats anything not known to be safe as personal text', () => {
    expect(treatmentOf('objectClass')).toBe('keep');
    expect(treatmentOf('userAccountControl')).toBe('keep');
    expect(treatmentOf('whenChanged')).toBe('keep');
    expect(treatmentOf('OU')).toBe('keep');
    expect(treatmentOf('member')).toBe('dn');
    expect(treatmentOf('manager')).toBe('dn');
    expect(treatmentOf('member;range=0-1499')).toBe('dn');
    expect(treatmentOf('surname')).toBe('text');
    expect(treatmentOf('rfc822Mailbox')).toBe('address');
    expect(treatmentOf('mobileTelephoneNumber')).toBe('phone');
    expect(treatmentOf('extensionAttribute7')).toBe('text');
    expect(treatmentOf('objectGUID')).toBe('guid');
    expect(treatmentOf('objectSid')).toBe('sid');
  });
});

describe('Anonymizer', () => {
  const domain = [0xab73b0ac, 0x2cc09a8a, 0x86cec4d2];
  const boss = person('CN=Green\\, Liz,OU=Users,DC=avvid,DC=info', {
    objectClass: ['top', 'person', 'user'],
    cn: ['Green, Liz'],
    sAMAccountName: ['lgreen'],
    objectSid: [ntSid(domain, 1103)],
  });
  const john = person('CN=John Doe,OU=Users,DC=avvid,DC=info', {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    cn: ['John Doe'],
    sn: ['Doe'],
    givenName: ['John'],
    displayName: ['John Doe'],
    sAMAccountName: ['jdoe'],
    userPrincipalName: ['jdoe@avvid.info'],
    mail: ['John.Doe@avvid.info'],
    'msRTCSIP-PrimaryUserAddress': ['sip:john.doe@avvid.info'],
    telephoneNumber: ['+1 408 555 0103'],
    manager: ['cn=green\\2c liz,ou=users,dc=avvid,dc=info'],
    memberOf: ['CN=Finance,OU=Groups,DC=avvid,DC=info'],
    userAccountControl: ['514'],
    objectGUID: [Buffer.from('00cc6034c9812345806e5c2a28f32cff', 'hex')],
    objectSid: [ntSid(domain, 1104)],
    userPassword: ['Passw0rd!'],
    unicodePwd: [Buffer.from('"secret"', 'utf16le')],
    description: ['Plays the cello'],
  });
  const a = new Anonymizer('seed-1');
  const out = a.entry(john);
  const value = (name: string) => out.get(name)?.values;

  it('renames the entry and every reference to it alike, whatever the reference\'s spelling', () => {
    expect(out.dn.key).not.toBe(john.dn.key);
    expect(out.dn.text).toMatch(/^CN=[A-Z][a-z]{3} [A-Z][a-z]{2},OU=Users,DC=avvid,DC=info$/);
    expect(value('cn')).toEqual([out.dn.rdns[0].avas[0].value]);
    const manager = Dn.parse(value('manager')![0] as string);
    expect(manager.key).toBe(a.entry(boss).dn.key);
    // The escaped comma survives as an escaped comma, and the result parses back.
    expect(a.entry(boss).dn.rdns[0].avas[0].value).toMatch(/^[A-Z][a-z]{4}, [A-Z][a-z]{2}$/);
    expect(value('memberOf')![0]).toMatch(/^CN=[A-Z][a-z]{6},OU=Groups,DC=avvid,DC=info$/);
  });

  it('keeps domains, UPN suffixes, address prefixes and flags; replaces the local parts consistently', () => {
    const sam = value('sAMAccountName')![0] as string;
    expect(sam).toMatch(/^[a-z]{4}$/);
    expect(sam).not.toBe('jdoe');
    expect(value('userPrincipalName')).toEqual([`${sam}@avvid.info`]);
    const [given, sn] = [value('givenName')![0], value('sn')![0]] as string[];
    expect(value('mail')).toEqual([`${given}.${sn}@avvid.info`]);
    expect(value('msRTCSIP-PrimaryUserAddress')).toEqual([`sip:${given.toLowerCase()}.${sn.toLowerCase()}@avvid.info`]);
    expect(value('displayName')).toEqual([`${given} ${sn}`]);
    expect(value('userAccountControl')).toEqual(['514']);
    expect(value('description')![0]).toMatch(/^[A-Z][a-z]{4} [a-z]{3} [a-z]{5}$/);
  });

  it('never exports passwords', () => {
    expect(out.has('userPassword')).toBe(false);
    expect(out.has('unicodePwd')).toBe(false);
  });

  it('replaces GUIDs by other bytes of the same length, and SIDs keeping their domain consistent and their RID', () => {
    const guid = value('objectGUID')![0] as Buffer;
    expect(guid).toHaveLength(16);
    expect(guid.equals(john.get('objectGUID')!.values[0] as Buffer)).toBe(false);
    expect(a.entry(john).get('objectGUID')!.values[0]).toEqual(guid);

    const userSid = value('objectSid')![0] as Buffer;
    const bossSid = a.entry(boss).get('objectSid')!.values[0] as Buffer;
    const domainSid = a.entry(person('DC=avvid,DC=info', { objectSid: [ntSid(domain)] })).get('objectSid')!.values[0] as Buffer;
    expect(userSid).toHaveLength(28);
    expect(userSid.subarray(12, 24).equals(ntSid(domain).subarray(12, 24))).toBe(false);
    expect(userSid.subarray(0, 24)).toEqual(bossSid.subarray(0, 24));
    expect(userSid.subarray(0, 24)).toEqual(Buffer.concat([Buffer.from([1, 5]), domainSid.subarray(2, 24)]));
    expect(userSid.readUInt32LE(24)).toBe(1104);
    // Well-known SIDs (BUILTIN\Administrators, S-1-5-32-544) name no one.
    const builtin = Buffer.from('01020000000000052000000020020000', 'hex');
    expect(a.entry(person('CN=x', { objectSid: [builtin] })).get('objectSid')!.values[0]).toEqual(builtin);
  });

  it('drops values of unknown attributes that are really bytes, rather than keeping what is not a letter or digit', () => {
    const e = person('CN=x', { extensionAttribute1: [Buffer.from([0x30, 0x82, 0xff, 0x01])], extensionAttribute2: ['ab\u0001cd'], extensionAttribute3: ['Badge 42'] });
    const mapped = a.entry(e);
    expect(mapped.has('extensionAttribute1')).toBe(false);
    expect(mapped.has('extensionAttribute2')).toBe(false);
    expect(mapped.get('extensionAttribute3')!.values[0]).toMatch(/^[A-Z][a-z]{4} \d\d$/);
  });

  it('gives the same login in two forests the same pseudonym', () => {
    const other = person('CN=John Doe,OU=Users,DC=vse,DC=lab', { sAMAccountName: ['JDoe'], userPrincipalName: ['jdoe@vse.local'] });
    const mapped = a.entry(other);
    expect((mapped.get('sAMAccountName')!.values[0] as string).toLowerCase()).toBe(value('sAMAccountName')![0]);
    expect(mapped.get('userPrincipalName')!.values).toEqual([`${value('sAMAccountName')![0]}@vse.local`]);
    expect(mapped.dn.rdns[0].text).toBe(out.dn.rdns[0].text);
  });

  it('keeps what Linux clients need of an AD user: name agrees with cn, primaryGroupID and the account type stay', () => {
    const user = person('CN=John Doe,OU=Users,DC=avvid,DC=info', {
      cn: ['John Doe'], name: ['John Doe'], primaryGroupID: ['513'], sAMAccountType: ['805306368'], pwdLastSet: ['131000000000000000'],
    });
    const mapped = a.entry(user);
    expect(mapped.get('name')!.values).toEqual(mapped.get('cn')!.values);
    expect(mapped.get('name')!.values[0]).not.toBe('John Doe');
    expect(mapped.get('primaryGroupID')!.values).toEqual(['513']);
    expect(mapped.get('sAMAccountType')!.values).toEqual(['805306368']);
    expect(mapped.get('pwdLastSet')!.values).toEqual(['131000000000000000']);
  });
});
