import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import { ResultCode } from '../../src/core/result-codes.js';

describe('Dn.parse keeps the spelling and normalises the key', () => {
  const cases: Array<[input: string, text: string, key: string]> = [
    ['CN=Doe\\, John,OU=Users,DC=avvid,DC=info', 'CN=Doe\\, John,OU=Users,DC=avvid,DC=info', 'cn=doe\\, john,ou=users,dc=avvid,dc=info'],
    ['cn=José, dc=x', 'cn=José,dc=x', 'cn=josé,dc=x'],
    ['cn=Jos\\c3\\a9,dc=x', 'cn=Jos\\c3\\a9,dc=x', 'cn=josé,dc=x'],
    ['CN=x\\2c  y ,dc=X', 'CN=x\\2c  y,dc=X', 'cn=x\\, y,dc=x'],
    ['sn=B+cn=a,dc=x', 'sn=B+cn=a,dc=x', 'cn=a+sn=b,dc=x'],
    ['cn=#4a6f,dc=x', 'cn=#4a6f,dc=x', 'cn=jo,dc=x'],
    ['cn=a\\+b\\\\c,dc=x', 'cn=a\\+b\\\\c,dc=x', 'cn=a\\+b\\\\c,dc=x'],
    ['2.5.4.3=Foo,dc=x', '2.5.4.3=Foo,dc=x', '2.5.4.3=foo,dc=x'],
    ['', '', ''],
  ];
  it.each(cases)('%s', (input, text, key) => {
    const dn = Dn.parse(input);
    expect(dn.text).toBe(text);
    expect(dn.key).toBe(key);
  });

  it('compares differently spelled DNs as equal', () => {
    expect(Dn.parse('CN=José,DC=X').equals(Dn.parse('cn=jos\\c3\\a9, dc=x'))).toBe(true);
    expect(Dn.parse('cn=a,dc=x').equals(Dn.parse('cn=b,dc=x'))).toBe(false);
  });
});

describe('Dn.parse rejects malformed DNs with invalidDNSyntax', () => {
  it.each(['cn', 'cn=a,', '=a', 'cn=a"b', '1cn=x', 'cn=a\\', 'cn=,dc=x', 'c n=a'])('%s', (input) => {
    expect(() => Dn.parse(input)).toThrow(expect.objectContaining({ code: ResultCode.invalidDNSyntax }));
  });
});

describe('Dn relations', () => {
  const base = Dn.parse('dc=avvid,dc=info');
  it('isWithin respects RDN boundaries', () => {
    expect(Dn.parse('cn=a,DC=Avvid,dc=info').isWithin(base)).toBe(true);
    expect(base.isWithin(base)).toBe(true);
    expect(Dn.parse('dc=xavvid,dc=info').isWithin(base)).toBe(false);
    expect(Dn.parse('dc=info').isWithin(base)).toBe(false);
    expect(base.isWithin(Dn.root)).toBe(true);
  });
  it('parent, child and rebase keep spelling', () => {
    const dn = Dn.parse('CN=José,OU=Users,DC=avvid,DC=info');
    expect(dn.parent()?.text).toBe('OU=Users,DC=avvid,DC=info');
    expect(dn.parent()?.child('CN=Ann').text).toBe('CN=Ann,OU=Users,DC=avvid,DC=info');
    expect(dn.rebase(Dn.parse('dc=avvid,dc=info'), Dn.parse('ou=avvid,dc=corp,dc=example')).text).toBe(
      'CN=José,OU=Users,ou=avvid,dc=corp,dc=example',
    );
    expect(Dn.root.parent()).toBeUndefined();
  });
});
