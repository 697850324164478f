import { describe, expect, it } from 'vitest';
import { forestSchema } from '../../src/config/schema.js';
import { Dn } from '../../src/core/dn.js';
import type { Filter } from '../../src/core/filter.js';
import { filterToString } from '../../src/core/filter-text.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { AttributeRequest } from '../../src/stages/namespace/attribute-request.js';
import { messageToVirtual } from '../../src/stages/namespace/diagnostic-rewrite.js';
import { dnValueToUpstream, dnValueToVirtual } from '../../src/stages/namespace/dn-rewrite.js';
import { upstreamFilter } from '../../src/stages/namespace/filter-rewrite.js';
import { compileForestView, type ForestView } from '../../src/stages/namespace/forest-view.js';
import { NamespaceMap } from '../../src/stages/namespace/namespace-map.js';

const forest = (config: Record<string, unknown>): ForestView =>
  compileForestView(forestSchema.parse({ backend: 'memory', ldif: ['unused.ldif'], ...config }));

const avvid = forest({
  name: 'avvid',
  base: 'DC=avvid,DC=info',
  mount: 'DC=avvid,DC=corp,DC=example',
  attributes: { map: { uid: 'sAMAccountName' }, hide: ['telephoneNumber'] },
});
const vse = forest({
  name: 'vse',
  base: 'DC=vse,DC=lab',
  mount: 'OU=vse,DC=corp,DC=example',
  upnSuffixes: { 'vse.lab': 'vse.local' },
  filter: '(objectClass=user)',
});
const map = new NamespaceMap([avvid, vse]);

describe('DN values upstream → virtual', () => {
  it.each([
    ['CN=John Doe,OU=Users,DC=avvid,DC=info', 'CN=John Doe,OU=Users,DC=avvid,DC=corp,DC=example'],
    ['DC=avvid,DC=info', 'DC=avvid,DC=corp,DC=example'],
    ['CN=Doe\\, Jane,OU=Users,DC=avvid,DC=info', 'CN=Doe\\, Jane,OU=Users,DC=avvid,DC=corp,DC=example'],
    ['CN=Doe\\2c Jane,OU=Users,DC=avvid,DC=info', 'CN=Doe\\2c Jane,OU=Users,DC=avvid,DC=corp,DC=example'],
    ['CN=José Müller,OU=Users,DC=avvid,DC=info', 'CN=José Müller,OU=Users,DC=avvid,DC=corp,DC=example'],
    ['cn=a+sn=b,OU=Users,DC=avvid,DC=info', 'cn=a+sn=b,OU=Users,DC=avvid,DC=corp,DC=example'],
    ['CN=John Doe,OU=Users,dc=AVVID,dc=Info', 'CN=John Doe,OU=Users,DC=avvid,DC=corp,DC=example'],
    ['CN=John Doe, OU=Users, DC=avvid, DC=info', 'CN=John Doe,OU=Users,DC=avvid,DC=corp,DC=example'],
    ['CN=x,DC=avvid ,DC=info', 'CN=x,DC=avvid,DC=corp,DC=example'],
    ['CN=x;DC=avvid;DC=info', 'CN=x,DC=avvid,DC=corp,DC=example'],
    ['CN=İ Kaya,DC=avvid,DC=info', 'CN=İ Kaya,DC=avvid,DC=corp,DC=example'],
    ['CN=x,DC=av\\76id,DC=info', 'CN=x,DC=avvid,DC=corp,DC=example'],
    // another forest's entry appears under that forest's mount
    ['CN=Priya Wright,OU=Users,DC=vse,DC=lab', 'CN=Priya Wright,OU=Users,OU=vse,DC=corp,DC=example'],
    // outside every base, or not a DN: unchanged
    ['CN=Someone,DC=elsewhere,DC=org', 'CN=Someone,DC=elsewhere,DC=org'],
    ['CN=foo\\,DC=avvid,DC=info', 'CN=foo\\,DC=avvid,DC=info'],
    ['CN=x,XDC=avvid,DC=info', 'CN=x,XDC=avvid,DC=info'],
    ['not a dn', 'not a dn'],
  ])('%s → %s', (value, expected) => {
    expect(dnValueToVirtual(map, avvid, value)).toBe(expected);
  });

  it.each([
    'CN=John Doe,OU=Users,DC=avvid,DC=info',
    'CN=José Müller,OU=Users,dc=AVVID,dc=info',
    'CN=Priya Wright,OU=Users,DC=vse,DC=lab',
    'CN=Someone,DC=elsewhere,DC=org',
  ])('the string fast path agrees with parsed DNs: %s', (value) => {
    expect(Dn.parse(dnValueToVirtual(map, avvid, value)).key).toBe(map.toVirtual(Dn.parse(value), avvid).key);
  });

  it('prefers the source forest when two forests share a base', () => {
    const a = forest({ name: 'a', base: 'dc=example,dc=com', mount: 'ou=a,dc=corp' });
    const b = forest({ name: 'b', base: 'dc=example,dc=com', mount: 'ou=b,dc=corp' });
    const shared = new NamespaceMap([a, b]);
    expect(dnValueToVirtual(shared, a, 'cn=x,dc=example,dc=com')).toBe('cn=x,ou=a,dc=corp');
    expect(dnValueToVirtual(shared, b, 'cn=x,dc=example,dc=com')).toBe('cn=x,ou=b,dc=corp');
  });
});

describe('DN values virtual → upstream', () => {
  it.each([
    ['CN=John Doe,OU=Users,DC=avvid,DC=corp,DC=example', 'CN=John Doe,OU=Users,DC=avvid,DC=info'],
    ['CN=Doe\\, Jane,ou=users,dc=AVVID,dc=corp,dc=example', 'CN=Doe\\, Jane,ou=users,DC=avvid,DC=info'],
    ['CN=Priya Wright,OU=Users,OU=vse,DC=corp,DC=example', undefined],
    ['CN=Someone,DC=elsewhere,DC=org', 'CN=Someone,DC=elsewhere,DC=org'],
    ['DC=corp,DC=example', 'DC=corp,DC=example'],
  ])('%s → %s', (value, expected) => {
    expect(dnValueToUpstream(map, avvid, value)).toBe(expected);
  });
});

const FALSE = 'FALSE';
const rewrite = (view: ForestView, filter: string | Filter): string => {
  const f = upstreamFilter(map, view, typeof filter === 'string' ? parseFilterString(filter) : filter);
  return f === undefined ? FALSE : filterToString(f);
};
const inVse = (text: string): string => `(&${text}(objectClass=user))`;

describe('filter rewriting', () => {
  it.each([
    // UPN suffixes: the forest that does not hold the suffix is not asked
    ['(userPrincipalName=jdoe@vse.lab)', FALSE, inVse('(userPrincipalName=jdoe@vse.local)')],
    ['(userPrincipalName=JDOE@VSE.LAB)', FALSE, inVse('(userPrincipalName=JDOE@vse.local)')],
    ['(userPrincipalName=*@vse.lab)', FALSE, inVse('(userPrincipalName=*@vse.local)')],
    ['(userPrincipalName=j*@Vse.Lab)', FALSE, inVse('(userPrincipalName=j*@vse.local)')],
    ['(userPrincipalName=jdoe@vse.local)', '(userPrincipalName=jdoe@vse.local)', FALSE],
    ['(userPrincipalName=jdoe@avvid.info)', '(userPrincipalName=jdoe@avvid.info)', inVse('(userPrincipalName=jdoe@avvid.info)')],
    ['(userPrincipalName=jdoe*)', '(userPrincipalName=jdoe*)', inVse('(userPrincipalName=jdoe*)')],
    // DN values: another forest's entry cannot match here; outside every mount passes unchanged
    ['(manager=CN=Priya Wright,OU=Users,OU=vse,DC=corp,DC=example)', FALSE, inVse('(manager=CN=Priya Wright,OU=Users,DC=vse,DC=lab)')],
    ['(manager=CN=John Doe,OU=Users,DC=avvid,DC=corp,DC=example)', '(manager=CN=John Doe,OU=Users,DC=avvid,DC=info)', FALSE],
    ['(member=CN=Someone,DC=elsewhere,DC=org)', '(member=CN=Someone,DC=elsewhere,DC=org)', inVse('(member=CN=Someone,DC=elsewhere,DC=org)')],
    [
      '(memberOf:1.2.840.113556.1.4.1941:=CN=Staff,OU=Groups,OU=vse,DC=corp,DC=example)',
      FALSE,
      inVse('(memberOf:1.2.840.113556.1.4.1941:=CN=Staff,OU=Groups,DC=vse,DC=lab)'),
    ],
    // DN substrings: a final part ending with (or a tail of) the forest's mount ends with its base instead
    ['(manager=*,OU=Users,DC=avvid,DC=corp,DC=example)', '(manager=*,OU=Users,DC=avvid,DC=info)', FALSE],
    ['(manager=CN=J*Doe*,ou=users,dc=AVVID,dc=corp,dc=example)', '(manager=CN=J*Doe*,ou=users,DC=avvid,DC=info)', FALSE],
    ['(member=*dc=example)', '(member=*DC=avvid,DC=info)', inVse('(member=*DC=vse,DC=lab)')],
    ['(member=*=vse,DC=corp,DC=example)', FALSE, inVse('(member=*DC=vse,DC=lab)')],
    // parts within the leading RDNs, or outside every mount and base, pass unchanged
    ['(manager=CN=John*)', '(manager=CN=John*)', inVse('(manager=CN=John*)')],
    ['(memberOf=*OU=Groups,*)', '(memberOf=*OU=Groups,*)', inVse('(memberOf=*OU=Groups,*)')],
    ['(seeAlso=*,DC=elsewhere,DC=org)', '(seeAlso=*,DC=elsewhere,DC=org)', inVse('(seeAlso=*,DC=elsewhere,DC=org)')],
    // parts that could match a base's own spelling would match wrongly: FALSE
    ['(manager=*OU=Users,DC=avvid,DC=info)', FALSE, FALSE],
    ['(manager=*,DC=lab)', FALSE, FALSE],
    ['(manager=CN=John Doe,DC=vse*)', FALSE, FALSE],
    ['(manager=*vse,DC=lab*)', FALSE, FALSE],
    // attribute map: a virtual name replaces the forest's name
    ['(uid=jdoe)', '(sAMAccountName=jdoe)', inVse('(uid=jdoe)')],
    ['(UID=j*)', '(sAMAccountName=j*)', inVse('(UID=j*)')],
    ['(sAMAccountName=jdoe)', FALSE, inVse('(sAMAccountName=jdoe)')],
    // hidden attributes: Undefined, so their negations match nothing either
    ['(telephoneNumber=555*)', FALSE, inVse('(telephoneNumber=555*)')],
    ['(!(telephoneNumber=1))', FALSE, inVse('(!(telephoneNumber=1))')],
    ['(!(!(telephoneNumber=1)))', FALSE, inVse('(!(!(telephoneNumber=1)))')],
    ['(|(telephoneNumber=1)(cn=a))', '(cn=a)', inVse('(|(telephoneNumber=1)(cn=a))')],
    ['(!(&(telephoneNumber=1)(cn=a)))', '(!(cn=a))', inVse('(!(&(telephoneNumber=1)(cn=a)))')],
    ['(&(objectClass=user)(telephoneNumber=*))', FALSE, inVse('(&(objectClass=user)(telephoneNumber=*))')],
    ['(&(objectClass=user)(!(telephoneNumber:1.2.840.113556.1.4.803:=2)))', FALSE, inVse('(&(objectClass=user)(!(telephoneNumber:1.2.840.113556.1.4.803:=2)))')],
    // the upstream name of a mapping is not in the virtual tree either
    ['(!(sAMAccountName=jdoe))', FALSE, inVse('(!(sAMAccountName=jdoe))')],
    // an extensible match naming no attribute would test hidden ones: Undefined where any is hidden, by OID or name
    ['(:2.5.13.17:=Passw0rd!)', FALSE, inVse('(:2.5.13.17:=Passw0rd!)')],
    ['(:caseIgnoreMatch:=+1 415 555 0122)', FALSE, inVse('(:caseIgnoreMatch:=+1 415 555 0122)')],
    ['(!(:1.2.840.113556.1.4.803:=2))', FALSE, inVse('(!(:1.2.840.113556.1.4.803:=2))')],
    ['(|(cn=a)(:dn:2.5.13.2:=x))', '(cn=a)', inVse('(|(cn=a)(:dn:2.5.13.2:=x))')],
    // AD LDS disabled flag
    ['(msDS-UserAccountDisabled=TRUE)', '(userAccountControl:1.2.840.113556.1.4.803:=2)', inVse('(userAccountControl:1.2.840.113556.1.4.803:=2)')],
    ['(msDS-UserAccountDisabled=false)', '(!(userAccountControl:1.2.840.113556.1.4.803:=2))', inVse('(!(userAccountControl:1.2.840.113556.1.4.803:=2))')],
    ['(!(msDS-UserAccountDisabled=TRUE))', '(!(userAccountControl:1.2.840.113556.1.4.803:=2))', inVse('(!(userAccountControl:1.2.840.113556.1.4.803:=2))')],
    ['(msDS-UserAccountDisabled=*)', '(userAccountControl=*)', inVse('(userAccountControl=*)')],
    ['(msDS-UserAccountDisabled=maybe)', FALSE, FALSE],
    // canopyForest is decided here; the forest filter is AND-ed on
    ['(canopyForest=avvid)', '(objectClass=*)', FALSE],
    ['(canopyForest=VSE)', FALSE, '(objectClass=user)'],
    ['(&(canopyForest=v*)(cn=a))', FALSE, inVse('(cn=a)')],
    ['(|(canopyForest=avvid)(cn=a))', '(objectClass=*)', inVse('(cn=a)')],
  ])('%s', (filter, forAvvid, forVse) => {
    expect(rewrite(avvid, filter)).toBe(forAvvid);
    expect(rewrite(vse, filter)).toBe(forVse);
  });

  it('folds empty and/or (RFC 4526)', () => {
    expect([rewrite(avvid, { type: 'and', filters: [] }), rewrite(vse, { type: 'and', filters: [] })]).toEqual(['(objectClass=*)', '(objectClass=user)']);
    expect([rewrite(avvid, { type: 'or', filters: [] }), rewrite(vse, { type: 'or', filters: [] })]).toEqual([FALSE, FALSE]);
  });

  it('passes binary assertion values byte-exact', () => {
    const guid = Buffer.from([0x00, 0xff, 0x2a, 0x28, 0x5c, 0xc3]);
    const filter: Filter = { type: 'equality', attribute: 'objectGUID', value: guid };
    const out = upstreamFilter(map, avvid, filter);
    expect(out).toEqual(filter);
    expect(out?.type === 'equality' && out.value.equals(guid)).toBe(true);
  });

  it('keeps unchanged subtrees as they are (no copies)', () => {
    const filter = parseFilterString('(&(cn=a)(|(sn=b)(mail=c)))');
    expect(upstreamFilter(map, avvid, filter)).toBe(filter);
  });
});

describe('DN substrings under a root mount or an unchanged base', () => {
  it('ends a final part with the base after a comma, and rewrites nothing where mount and base agree', () => {
    const root = forest({ name: 'root', base: 'DC=avvid,DC=info', mount: '' });
    const rootMap = new NamespaceMap([root]);
    const out = (view: ForestView, m: NamespaceMap, filter: string) => {
      const f = upstreamFilter(m, view, parseFilterString(filter));
      return f === undefined ? FALSE : filterToString(f);
    };
    expect(out(root, rootMap, '(manager=*,OU=Users)')).toBe('(manager=*,OU=Users,DC=avvid,DC=info)');
    expect(out(root, rootMap, '(manager=CN=J*)')).toBe('(manager=CN=J*)');
    expect(out(root, rootMap, '(manager=*Users,DC=avvid*)')).toBe(FALSE);
    const same = forest({ name: 'same', base: 'DC=avvid,DC=info' });
    const sameMap = new NamespaceMap([same]);
    for (const filter of ['(manager=*,OU=Users,DC=avvid,DC=info)', '(manager=CN=John Doe,DC=avvid*)', '(manager=*info)']) {
      expect(out(same, sameMap, filter)).toBe(filter);
    }
  });
});

describe('diagnostic messages', () => {
  it.each([
    ['no such entry "CN=Nobody,OU=Users,DC=avvid,DC=info"', 'no such entry "CN=Nobody,OU=Users,DC=avvid,DC=corp,DC=example"'],
    ["0000208D: NameErr: problem 2001 (NO_OBJECT), best match of:\n\t'DC=avvid,DC=info'\n", "0000208D: NameErr: problem 2001 (NO_OBJECT), best match of:\n\t'DC=avvid,DC=corp,DC=example'\n"],
    ['non-unique attributes found with (|(seeAlso=cn=a,ou=users,dc=avvid,dc=info))', 'non-unique attributes found with (|(seeAlso=cn=a,ou=users,DC=avvid,DC=corp,DC=example))'],
    ['CN=a,DC=avvid,DC=info; CN=b,dc=AVVID,dc=Info', 'CN=a,DC=avvid,DC=corp,DC=example; CN=b,DC=avvid,DC=corp,DC=example'],
    // not the base ending a DN: another forest's, a longer type or value, more RDNs, an escaped comma
    ['CN=x,DC=vse,DC=lab', 'CN=x,DC=vse,DC=lab'],
    ['CN=x,XDC=avvid,DC=info', 'CN=x,XDC=avvid,DC=info'],
    ['CN=x,DC=avvid,DC=info2', 'CN=x,DC=avvid,DC=info2'],
    ['CN=x,DC=avvid,DC=info,DC=com', 'CN=x,DC=avvid,DC=info,DC=com'],
    ['CN=x\\,DC=avvid,DC=info', 'CN=x\\,DC=avvid,DC=info'],
    ['', ''],
  ])('%s', (message, expected) => {
    expect(messageToVirtual(avvid, message)).toBe(expected);
  });

  it('drops the base under a root mount and leaves a mount spelled like the base alone', () => {
    const root = forest({ name: 'root', base: 'DC=avvid,DC=info', mount: '' });
    expect(messageToVirtual(root, 'no such entry "CN=x,DC=avvid,DC=info"')).toBe('no such entry "CN=x"');
    const same = forest({ name: 'same', base: 'DC=avvid,DC=info', mount: 'dc=AVVID,dc=info' });
    expect(messageToVirtual(same, 'no such entry "CN=x,DC=avvid,DC=info"')).toBe('no such entry "CN=x,DC=avvid,DC=info"');
  });
});

describe('requested attributes', () => {
  it.each([
    [[], []],
    [['*'], ['*']],
    [['uid', 'cn'], ['sAMAccountName', 'cn']],
    [['telephoneNumber'], ['1.1']],
    [['telephoneNumber', 'cn'], ['cn']],
    [['sAMAccountName'], ['1.1']],
    [['canopyForest'], ['1.1']],
    [['+', 'canopyForest'], ['+']],
    [['msDS-UserAccountDisabled', 'userAccountControl'], ['userAccountControl']],
    [['*', 'msDS-UserAccountDisabled'], ['*', 'userAccountControl']],
    [['1.1'], ['1.1']],
    [['userCertificate;binary'], ['userCertificate;binary']],
  ])('%j → %j', (requested, upstream) => {
    expect(AttributeRequest.compile(avvid, requested).upstream).toEqual(upstream);
  });

  it('selects virtual names the way the client asked', () => {
    const r = AttributeRequest.compile(avvid, ['uid', 'msDS-UserAccountDisabled']);
    expect([r.includes('uid'), r.includes('UID'), r.includes('userAccountControl'), r.includes('cn')]).toEqual([true, true, false, false]);
    expect([r.wantsDisabled, r.wantsForest]).toEqual([true, false]);
    const all = AttributeRequest.compile(avvid, ['*']);
    expect([all.includes('cn'), all.includes('canopyForest'), all.includes('createTimestamp'), all.wantsForest]).toEqual([true, false, false, false]);
    const ops = AttributeRequest.compile(avvid, ['+']);
    expect([ops.includes('cn'), ops.includes('canopyForest'), ops.wantsForest]).toEqual([false, true, true]);
  });
});
