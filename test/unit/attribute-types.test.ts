import { describe, expect, it } from 'vitest';
import { forestSchema } from '../../src/config/schema.js';
import { AttributeSelection } from '../../src/core/attribute-selection.js';
import { Entry } from '../../src/core/entry.js';
import { Dn } from '../../src/core/dn.js';
import { compileFilter } from '../../src/core/filter-eval.js';
import { filterToKeyString, filterToLogString } from '../../src/core/filter-text.js';
import { attributeKey, attributeType, descriptionKey, isCredentialAttribute, keyKind, syntaxOf } from '../../src/core/schema.js';
import { searchShape } from '../../src/core/search-shape.js';
import type { Filter } from '../../src/core/filter.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { AccessPolicy } from '../../src/stages/access/access-policy.js';
import { compileForestView } from '../../src/stages/namespace/forest-view.js';
import { treatmentOf } from '../../src/tools/anonymize.js';

// One attribute type, whatever names it (RFC 4512 §2.5): a name, an alias or the OID, any case,
// with or without options, is one type to every decision Canopy makes.

// The RFC 4515 text parser takes names only; clients send OIDs and options in BER, as built here.
const eq = (attribute: string, value: string): Filter => ({ type: 'equality', attribute, value: Buffer.from(value) });
const initial = (attribute: string, value: string): Filter => ({ type: 'substrings', attribute, initial: Buffer.from(value), any: [] });
const and = (...filters: Filter[]): Filter => ({ type: 'and', filters });

const SPELLINGS: Record<string, readonly string[]> = {
  userpassword: ['userPassword', 'USERPASSWORD', 'userpassword;binary', '2.5.4.35', 'OID.2.5.4.35', '2.5.4.35;x-opt'],
  homephone: ['homePhone', 'homeTelephoneNumber', 'HOMETELEPHONENUMBER;lang-en', '0.9.2342.19200300.100.1.20'],
  employeenumber: ['employeeNumber', 'EmployeeNumber', '2.16.840.1.113730.3.1.3'],
  cn: ['cn', 'commonName', 'CN;lang-de', '2.5.4.3'],
  ou: ['ou', 'organizationalUnitName', '2.5.4.11'],
  member: ['member', 'member;range=0-1499', '2.5.4.31;range=1500-*'],
};

describe('the attribute-type registry', () => {
  it.each(Object.entries(SPELLINGS))('resolves every spelling of %s to one key', (key, spellings) => {
    for (const s of spellings) {
      expect(attributeKey(s)).toBe(key);
      expect(attributeType(s)?.name.toLowerCase()).toBe(key);
      expect(keyKind(attributeKey(s))).toBe('known');
    }
  });

  it('keeps unknown names and unknown OIDs apart, and says which is which', () => {
    expect(attributeKey('extensionAttribute1')).toBe('extensionattribute1');
    expect(keyKind(attributeKey('extensionAttribute1;binary'))).toBe('name');
    expect(attributeKey('1.2.3.4')).toBe('1.2.3.4');
    expect(keyKind(attributeKey('1.2.3.4'))).toBe('unresolved');
    // Leading zeros are no numeric OID (RFC 4512): never taken for 2.5.4.35, never passed for a name either.
    expect(keyKind(attributeKey('2.5.4.035'))).toBe('unresolved');
    expect(keyKind(attributeKey('cn=x'))).toBe('unresolved');
  });

  it('keys options apart from the type for entries, and syntax follows the type', () => {
    expect(descriptionKey('2.5.4.31;RANGE=0-1499')).toBe('member;range=0-1499');
    expect(descriptionKey('commonName')).toBe('cn');
    expect(syntaxOf('1.2.840.113556.1.4.2')).toBe('binary'); // objectGUID by OID
    expect(syntaxOf('objectGUID;x-opt')).toBe('binary');
    expect(syntaxOf('cn;binary')).toBe('binary');
  });

  it('entries hold and find an attribute by type', () => {
    const e = new Entry(Dn.parse('cn=x'), [{ name: 'cn', values: ['x'] }]);
    e.addValues('commonName', ['y']);
    expect(e.get('2.5.4.3')?.values).toEqual(['x', 'y']);
    expect(e.get('cn')?.name).toBe('cn');
    expect([...e.attributes()]).toHaveLength(1);
    e.set('member;range=0-1', ['a']);
    expect(e.get('member')).toBeUndefined();
    expect(e.get('2.5.4.31;range=0-1')?.values).toEqual(['a']);
  });

  it('filters evaluate any spelling against the entry', () => {
    const e = new Entry(Dn.parse('cn=Liz,dc=x'), [
      { name: 'cn', values: ['Liz'] },
      { name: 'homePhone', values: ['+1 415 555 0122'] },
    ]);
    const filters: Filter[] = [
      eq('2.5.4.3', 'liz'),
      initial('commonName', 'L'),
      initial('homeTelephoneNumber', '+1 415'),
      { type: 'present', attribute: '0.9.2342.19200300.100.1.20' },
      eq('CN;lang-en', 'liz'),
    ];
    for (const f of filters) expect(compileFilter(f)(e)).toBe(true);
  });

  it('requested attributes select by type', () => {
    const selection = AttributeSelection.compile(['2.5.4.3', 'HOMETELEPHONENUMBER']);
    expect(selection.includes('cn')).toBe(true);
    expect(selection.includes('homePhone')).toBe(true);
    expect(selection.includes('sn')).toBe(false);
  });
});

describe('credential types', () => {
  const credentials = [
    'userPassword', '2.5.4.35', 'unicodePwd;binary', '1.2.840.113556.1.4.90', 'ms-Mcs-AdmPwd', 'MS-MCS-ADMPWD',
    'msLAPS-Password', '1.2.840.113556.1.6.44.1.2', 'msLAPS-EncryptedPassword', 'msLAPS-EncryptedPasswordHistory',
    'msLAPS-EncryptedDSRMPassword', 'userPKCS12', '2.16.840.1.113730.3.1.216', 'krbPrincipalKey', 'ntPwdHistory',
    'lmPwdHistory', 'supplementalCredentials', 'pwdHistory', 'dBCSPwd', 'sambaNTPassword', 'radiusTunnelPassword',
    // An OID Canopy does not know may be a credential's (legacy LAPS's is generated per schema extension).
    '1.2.840.113556.1.8000.2554.1',
  ];
  it.each(credentials)('%s is a credential: redacted in logs and never exported', (name) => {
    expect(isCredentialAttribute(name)).toBe(true);
    expect(treatmentOf(name)).toBe('drop');
    expect(filterToLogString(and(initial(name, 'Tr0ub'), eq(name, 'Tr0ub4dor')))).not.toContain('Tr0ub');
  });
  it.each(['cn', 'commonName', 'mail', 'pwdLastSet', 'telephoneNumber'])('%s is not', (name) => {
    expect(isCredentialAttribute(name)).toBe(false);
  });
  it('an extensible leaf naming no attribute is tested against credentials too: its value is redacted', () => {
    expect(filterToLogString(parseFilterString('(:2.5.13.5:=Tr0ub4dor)'))).toBe('(:2.5.13.5:=***)');
  });
});

describe('forest views decide hide and map by type', () => {
  const view = (attributes: Record<string, unknown>) =>
    compileForestView(forestSchema.parse({ name: 'f', backend: 'memory', base: 'dc=x', ldif: ['x.ldif'], attributes }));

  it('hides every spelling of a hidden type, both ways', () => {
    const v = view({ hide: ['userPassword', 'HOMEPHONE', '2.16.840.1.113730.3.1.3'] });
    for (const spellings of [SPELLINGS.userpassword, SPELLINGS.homephone, SPELLINGS.employeenumber]) {
      for (const s of spellings) {
        expect(v.upstreamName(s)).toBeUndefined();
        expect(v.virtualName(s)).toBeUndefined();
      }
    }
    expect(v.upstreamName('commonName')).toBe('commonName');
    expect(v.upstreamName('extensionAttribute1')).toBe('extensionAttribute1');
  });

  it('hides unknown OIDs where anything is hidden; `unknown: hide` hides unknown names too', () => {
    expect(view({}).upstreamName('1.2.3.4')).toBe('1.2.3.4');
    expect(view({ hide: ['userPassword'] }).upstreamName('1.2.3.4')).toBeUndefined();
    expect(view({ hide: ['userPassword'] }).virtualName('1.2.3.4;binary')).toBeUndefined();
    expect(view({ map: { phone: 'telephoneNumber' } }).upstreamName('2.5.4.035')).toBeUndefined();
    const strict = view({ unknown: 'hide' });
    expect(strict.upstreamName('extensionAttribute1')).toBeUndefined();
    expect(strict.virtualName('1.2.3.4')).toBeUndefined();
    expect(strict.upstreamName('2.5.4.3')).toBe('2.5.4.3');
  });

  it('maps every spelling of a mapped type, keeping options', () => {
    const v = view({ map: { mail: 'userPrincipalName' } });
    expect(v.upstreamName('rfc822Mailbox')).toBe('userPrincipalName');
    expect(v.upstreamName('0.9.2342.19200300.100.1.3;lang-en')).toBe('userPrincipalName;lang-en');
    expect(v.virtualName('1.2.840.113556.1.4.656')).toBe('mail');
    // The upstream name of a mapping is not visible under its own spelling, by any spelling.
    expect(v.upstreamName('1.2.840.113556.1.4.656')).toBeUndefined();
  });
});

describe('access rules and cache keys by type', () => {
  it('an attribute-limited rule covers every spelling of its types', () => {
    const policy = new AccessPolicy([{ who: '*', what: { dn: 'dc=x', scope: 'subtree', attributes: ['commonName', 'homePhone'] }, allow: 'read' }]);
    const access = policy.view({ kind: 'anonymous' }).covering(Dn.parse('2.5.4.3=a,DOMAINCOMPONENT=x'));
    for (const s of [...SPELLINGS.cn, ...SPELLINGS.homephone]) expect(access.attribute(s)).toBe('read');
    for (const s of SPELLINGS.userpassword) expect(access.attribute(s)).toBe('none');
  });

  it('a search has one cache key whatever spells its attributes and base', () => {
    const shape = (base: string, filter: Filter, attributes: string[]) =>
      searchShape({ base: Dn.parse(base), scope: 'sub', filter, attributes, typesOnly: false, sizeLimit: 0, timeLimit: 0, sort: { keys: [{ attribute: attributes[0], reverse: false }], required: false } });
    const a = shape('ou=Users,dc=x', and(initial('cn', 'a'), eq('homePhone', '1')), ['cn', 'mail']);
    expect(shape('organizationalUnitName=users,0.9.2342.19200300.100.1.25=X', and(initial('2.5.4.3', 'a'), eq('homeTelephoneNumber', '1')), ['commonName', 'RFC822MAILBOX'])).toBe(a);
    expect(shape('ou=Users,dc=x', and(initial('cn', 'a'), eq('homePhone', '2')), ['cn', 'mail'])).not.toBe(a);
    expect(filterToKeyString(eq('2.5.4.31;RANGE=0-1', 'x'))).toBe('(member;range=0-1=x)');
  });
});
