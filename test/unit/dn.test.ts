import { describe, expect, it } from 'vitest';
import { Dn, SiblingDns } from '../../src/core/dn.js';
import { ResultCode } from '../../src/core/result-codes.js';

describe('Dn.parse keeps the spelling and normalises the key', () => {
  const cases: Array<[input: string, text: string, key: string]> = [
    // Plain ASCII without escapes, quotes, `+`, `#` or `;`: the split fast path.
    ['CN=User 123,OU=Users,DC=avvid,DC=info', 'CN=User 123,OU=Users,DC=avvid,DC=info', 'cn=user 123,ou=users,dc=avvid,dc=info'],
    ['cn = John  Doe , ou=Users ,  DC=x', 'cn = John  Doe,ou=Users,DC=x', 'cn=john doe,ou=users,dc=x'],
    ['  cn=a,dc=x  ', 'cn=a,dc=x', 'cn=a,dc=x'],
    ['dc=x', 'dc=x', 'dc=x'],
    ['cn=<a>,dc=x', 'cn=<a>,dc=x', 'cn=\\<a\\>,dc=x'],
    ['cn=a-b (c),1.2.3=X', 'cn=a-b (c),1.2.3=X', 'cn=a-b (c),1.2.3=x'],
    ['   ', '', ''],
    // Everything else: the full parser.
    ['CN=Doe\\, John,OU=Users,DC=avvid,DC=info', 'CN=Doe\\, John,OU=Users,DC=avvid,DC=info', 'cn=doe\\, john,ou=users,dc=avvid,dc=info'],
    ['cn=José, dc=x', 'cn=José,dc=x', 'cn=josé,dc=x'],
    ['cn=Jos\\c3\\a9,dc=x', 'cn=Jos\\c3\\a9,dc=x', 'cn=josé,dc=x'],
    ['CN=x\\2c  y ,dc=X', 'CN=x\\2c  y,dc=X', 'cn=x\\, y,dc=x'],
    ['sn=B+cn=a,dc=x', 'sn=B+cn=a,dc=x', 'cn=a+sn=b,dc=x'],
    ['cn=#4a6f,dc=x', 'cn=#4a6f,dc=x', 'cn=jo,dc=x'],
    ['cn=a\\+b\\\\c,dc=x', 'cn=a\\+b\\\\c,dc=x', 'cn=a\\+b\\\\c,dc=x'],
    // Types by their type key (distinguishedNameMatch): names, aliases and OIDs of one type agree.
    ['2.5.4.3=Foo,dc=x', '2.5.4.3=Foo,dc=x', 'cn=foo,dc=x'],
    ['commonName=Foo,organizationalUnitName=U,domainComponent=x', 'commonName=Foo,organizationalUnitName=U,domainComponent=x', 'cn=foo,ou=u,dc=x'],
    ['COMMONNAME=Foo+2.5.4.4=Bar,0.9.2342.19200300.100.1.25=x', 'COMMONNAME=Foo+2.5.4.4=Bar,0.9.2342.19200300.100.1.25=x', 'cn=foo+sn=bar,dc=x'],
    ['1.2.3.4=Foo,dc=x', '1.2.3.4=Foo,dc=x', '1.2.3.4=foo,dc=x'],
    ['', '', ''],
  ];
  it.each(cases)('%s', (input, text, key) => {
    const dn = Dn.parse(input);
    expect(dn.text).toBe(text);
    expect(dn.key).toBe(key);
  });

  // The same names, once plain (fast path) and once with an escaped letter (full parser).
  it.each([
    ['CN=User 123,OU=Users,DC=avvid,DC=info', 'CN=User 123,OU=Users,DC=avvid,DC=inf\\6f'],
    ['cn = John  Doe , ou=Users ,  DC=x', 'cn = John  Doe , ou=Users ,  DC=\\78'],
    ['cn=a,dc=x', 'cn=\\61;dc=x'],
  ])('parses %s like %s', (plain, escaped) => {
    const a = Dn.parse(plain);
    const b = Dn.parse(escaped);
    expect(a.key).toBe(b.key);
    expect(a.rdns.map((r) => r.avas)).toEqual(b.rdns.map((r) => r.avas));
  });

  it('compares differently spelled DNs as equal', () => {
    expect(Dn.parse('CN=José,DC=X').equals(Dn.parse('cn=jos\\c3\\a9, dc=x'))).toBe(true);
    expect(Dn.parse('cn=a,dc=x').equals(Dn.parse('cn=b,dc=x'))).toBe(false);
  });

  it('prepares values as RFC 4518 and slapd do: width, composition, ignorable and space characters', () => {
    const key = Dn.parse('CN=Elizabeth Green,OU=Users,DC=x').key;
    for (const spelled of [
      'CN=\uff25lizabeth Green,OU=Users,DC=x', // full-width E
      'CN=Elizabeth Green,OU=\uff35\uff53\uff45\uff52\uff53,DC=x', // full-width Users
      'CN=Eliza\u00adbeth Green,OU=Users,DC=x', // soft hyphen
      'CN=Eliza\u200bbeth Green,OU=Users,DC=x', // zero-width space
      'CN=Elizabeth\u00a0Green,OU=Users,DC=x', // no-break space
      'CN=Elizabeth\u3000Green,OU=Users,DC=x', // ideographic space
      'CN=\\ef\\bc\\a5lizabeth Green,OU=Users,DC=x', // full-width E, hex-escaped
    ]) {
      expect(Dn.parse(spelled).key, spelled).toBe(key);
    }
    // A combining accent (NFD) names the precomposed letter (NFC), escaped or not.
    const nfc = Dn.parse('CN=Jos\u00e9 M\u00fcller,DC=x');
    expect(Dn.parse('CN=Jose\u0301 Mu\u0308ller,DC=x').key).toBe(nfc.key);
    expect(Dn.parse('CN=Jose\\cc\\81 Mu\\cc\\88ller,DC=x').key).toBe(nfc.key);
    expect(Dn.parse('CN=Jose Muller,DC=x').key).not.toBe(nfc.key);
    // Lowered letter by letter, as slapd does: a dotted capital I is i (JS makes it i and a combining dot).
    expect(Dn.parse('CN=El\u0130zabeth Green,OU=Users,DC=x').key).toBe(key);
    // Case folded, not lowered: a capital sigma at a word's end is σ like any other (JS lowers it to ς).
    const sigma = Dn.parse('CN=ΟΔΥΣΣΕΑΣ,DC=x').key;
    for (const spelled of ['cn=οδυσσεασ,dc=x', 'cn=οδυσσεας,dc=x', 'CN=Οδυσσέας,DC=x'.normalize('NFD').replace('\u0301', '')]) expect(Dn.parse(spelled).key, spelled).toBe(sigma);
    // Built on a parent, the same key.
    const parent = Dn.parse('OU=Users,DC=x');
    const text = 'CN=\uff25lizabeth Green,OU=Users,DC=x';
    expect((parent.childSpelled(text, text.indexOf(',')) ?? Dn.parse(text)).key).toBe(key);
  });
});

describe('Dn.parse keys a plain DN by its lower case only where each value normalised and escaped gives the same', () => {
  it.each([
    'CN=John Smith,OU=People,DC=avvid,DC=info',
    'uid=ab-c,ou=People,o=Example',
    'CN=John  Smith,DC=x', // a run of spaces folds to one
    'cn=a<b>c,dc=x', // escaped in the key
    'commonName=Jo,DC=x', // a type whose key is another name
    '2.5.4.3=Jo,dc=x', // an OID
    'CN = Jo , DC = x', // spaces around `=` and `,`
    'cn=Jo ,dc=x',
    'CN=Smith\\, John,DC=x', // not plain: the full parser's
    'employeeNumber=0042,dc=x',
    'unknownType=AbC,dc=x',
  ])('%s', (text) => {
    const dn = Dn.parse(text);
    // The key as it is made for any DN: each RDN's type key and prepared, escaped value.
    expect(dn.key).toBe(Dn.fromRdns(dn.rdns).key);
  });
});

describe('Dn.parse rejects malformed DNs with invalidDNSyntax', () => {
  it.each([
    ...['cn', 'cn=a,', '=a', 'cn=a"b', '1cn=x', 'cn=a\\', 'cn=,dc=x', 'c n=a'],
    // Plain ASCII that the fast path must not accept either.
    ...['cn=a,,dc=x', ',cn=a', 'cn=a=b,dc=x', 'cn= ,dc=x', 'cn=a,dc', 'cn=a, ', 'cn_x=a', 'cn=a,dc=x,'],
  ])('%s', (input) => {
    expect(() => Dn.parse(input)).toThrow(expect.objectContaining({ code: ResultCode.invalidDNSyntax }));
  });

  it('names the DN and the reason', () => {
    expect(() => Dn.parse('cn=a=b,dc=x')).toThrow('invalid DN "cn=a=b,dc=x": unescaped "=" in value');
    expect(() => Dn.parse('cn=a,dc')).toThrow('invalid DN "cn=a,dc": missing "=" after "dc"');
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
  it('sharingParent reuses a parent spelled the same way (else keeps the DN); parentKey is the parent\'s key', () => {
    const parent = Dn.parse('OU=Users,DC=avvid,DC=info');
    const dn = Dn.parse('CN=Ann,OU=Users,DC=avvid,DC=info');
    const shared = dn.sharingParent(parent);
    expect([shared.text, shared.key]).toEqual([dn.text, dn.key]);
    expect(shared.rdns[1]).toBe(parent.rdns[0]);
    expect(shared.parent()!.equals(parent)).toBe(true);
    expect([Dn.parse('CN=a\\,b ,OU=x+CN=y,DC=Info').parentKey, Dn.parse('DC=info').parentKey, Dn.root.parentKey]).toEqual([
      Dn.parse('cn=y+ou=x,dc=info').key,
      '',
      undefined,
    ]);
    const other = Dn.parse('CN=Ann,ou=users,DC=avvid,DC=info');
    expect(other.sharingParent(parent)).toBe(other);
    expect(dn.sharingParent(base)).toBe(dn); // not its parent
    expect(Dn.parse('DC=info').sharingParent(Dn.root).text).toBe('DC=info');
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

  it('rebase and child reuse the kept text and key, and agree with parsing the result', () => {
    const same = (dn: Dn, text: string) => {
      const parsed = Dn.parse(text);
      expect([dn.text, dn.key, dn.depth]).toEqual([parsed.text, parsed.key, parsed.depth]);
    };
    const dn = Dn.parse('CN=Doe\\, John + uid=jd ,OU=Users,DC=avvid,DC=info');
    same(dn.rebase(Dn.parse('DC=AVVID, dc=info'), Dn.parse('ou=avvid,dc=corp,dc=example')), 'CN=Doe\\, John + uid=jd,OU=Users,ou=avvid,dc=corp,dc=example');
    same(dn.rebase(Dn.parse('dc=avvid,dc=info'), Dn.root), 'CN=Doe\\, John + uid=jd,OU=Users');
    same(dn.rebase(Dn.root, Dn.parse('dc=top')), 'CN=Doe\\, John + uid=jd,OU=Users,DC=avvid,DC=info,dc=top');
    same(Dn.parse('dc=avvid,dc=info').rebase(Dn.parse('dc=avvid,dc=info'), Dn.parse('o=x')), 'o=x');
    same(Dn.parse('OU=Users,DC=x').child('commonName=Ann  Lee'), 'commonName=Ann  Lee,OU=Users,DC=x');
    same(Dn.root.child('dc=x'), 'dc=x');
  });

  it('childSpelled builds a plain child on its parent exactly as Dn.parse does, keeping the text given, or leaves it to Dn.parse', () => {
    const parent = Dn.parse('OU=Users,DC=avvid,DC=info');
    const spaced = Dn.parse('ou=Users , DC=avvid');
    const cases: Array<[parent: Dn, text: string, built: boolean]> = [
      [parent, 'CN=Thomas Hernandez,OU=Users,DC=avvid,DC=info', true],
      [parent, 'cn=already lower,OU=Users,DC=avvid,DC=info', true],
      [parent, 'commonName=Ann Lee,OU=Users,DC=avvid,DC=info', true], // type key "cn": key not the lower case
      [parent, '2.5.4.3=Ann,OU=Users,DC=avvid,DC=info', true],
      [parent, 'CN=Ann  Lee,OU=Users,DC=avvid,DC=info', true], // spaces folded in the key
      [parent, 'CN = Ann,OU=Users,DC=avvid,DC=info', true],
      [parent, 'CN=a<b>c,OU=Users,DC=avvid,DC=info', true], // escaped in the key
      [parent, 'CN=Ann ,OU=Users,DC=avvid,DC=info', false], // nor the space before the comma
      [spaced, 'CN=Bo,ou=Users,DC=avvid', true], // the parent's key is not its text in lower case
      [parent, ' CN=Ann,OU=Users,DC=avvid,DC=info', false], // Dn.parse's text leaves the space out
      [parent, 'CN=Doe\\, John,OU=Users,DC=avvid,DC=info', false],
      [parent, 'CN=a+uid=b,OU=Users,DC=avvid,DC=info', false],
      [parent, 'CN=José,OU=Users,DC=avvid,DC=info', false],
      [parent, 'CN=x,OU=Other,DC=avvid,DC=info', false],
      [parent, 'CN=,OU=Users,DC=avvid,DC=info', false],
    ];
    for (const [p, text, built] of cases) {
      // Lazily too (a load's DNs): its RDN objects made when first asked for, the DN the same.
      for (const lazy of [false, true]) {
        const child = p.childSpelled(text, text.indexOf(',', text.indexOf('=')), { lazy });
        expect(child !== undefined, text).toBe(built);
        if (!child) continue;
        const parsed = Dn.parse(text);
        // Read before its RDNs are made: depth, parent, first RDN, scope checks.
        expect([child.depth, child.parentKey, child.parent()?.key, child.firstRdn?.avas, child.isWithin(p), child.isRoot], text).toEqual([
          parsed.depth,
          parsed.parentKey,
          parsed.parent()?.key,
          parsed.rdns[0].avas,
          true,
          false,
        ]);
        expect(child.builtOn).toBe(lazy ? p : undefined);
        expect([child.text, child.key, child.depth, child.rdns.map((r) => r.avas)], text).toEqual([parsed.text, parsed.key, parsed.depth, parsed.rdns.map((r) => r.avas)]);
        expect(child.text).toBe(text);
        expect(child.rdns.slice(1)).toEqual(p.rdns);
        expect(child.rdns[1]).toBe(p.rdns[0]);
        // Made once: the same list each time.
        expect(child.rdns).toBe(child.rdns);
        expect(child.rebase(p, Dn.parse('ou=moved,dc=x')).text).toBe(parsed.rebase(p, Dn.parse('ou=moved,dc=x')).text);
        // Built on its parent's RDN objects already: sharing that parent keeps it; another spelled alike is shared anew.
        expect(child.sharingParent(p)).toBe(child);
        const alike = Dn.fromRdns(p.rdns.map((r) => ({ ...r })));
        expect(child.sharingParent(alike)).not.toBe(child);
        expect(child.sharingParent(alike).rdns[1]).toBe(alike.rdns[0]);
      }
    }
  });

  it('parses sibling DNs with their parent parsed once, exactly as Dn.parse does', () => {
    const dns = new SiblingDns(2);
    const texts = [
      'CN=User 1,OU=Users,DC=avvid,DC=info',
      'CN=User 2,OU=Users,DC=avvid,DC=info',
      'cn = spaced , OU=Users,  DC=avvid,DC=info',
      'CN=Doe\\, John,OU=Users,DC=avvid,DC=info',
      'CN=a+uid=b,OU=Users,DC=avvid,DC=info',
      'CN=x,OU=Other,DC=avvid,DC=info',
      'CN=y,OU=Third,DC=avvid,DC=info',
      'DC=info',
      'CN=José,OU=Users,DC=avvid,DC=info',
      // Kept as spelled, the key its own lower case only where that is the key.
      'CN=Two  Spaces,OU=Users,DC=avvid,DC=info',
      'commonName=Alias,OU=Users,DC=avvid,DC=info',
      '2.5.4.3=Oid,OU=Users,DC=avvid,DC=info',
      'CN=a<b>c,OU=Users,DC=avvid,DC=info',
      'CN=UPPER Case,OU=Users,DC=avvid,DC=info',
    ];
    for (const text of [...texts, ...texts]) {
      const parsed = Dn.parse(text);
      const sibling = dns.parse(text);
      expect([sibling.text, sibling.key, sibling.depth], text).toEqual([parsed.text, parsed.key, parsed.depth]);
    }
    expect(() => dns.parse('CN=x,OU=Users,=bad')).toThrow(/invalid DN/);
  });
});
