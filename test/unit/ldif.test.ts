import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { applyLdifChanges, entriesToLdif, LdifError, parseLdif, parseLdifChanges } from '../../src/backends/memory/ldif.js';

const sample = [
  'version: 1',
  '# a comment that is',
  '  folded',
  'dn: CN=José Núñez,OU=Users,DC=avvid,DC=info',
  'objectClass: top',
  'objectClass: user',
  'cn: José Núñez',
  'description: a long value that is fol',
  ' ded over two lines',
  'objectGUID:: AID/EA==',
  'givenName:: Sm9zw6k=',
  'userCertificate;binary:: AQID',
  'sn:',
  '',
  '',
  'dn:: Q049TcO8bGxlcixEQz1hdnZpZCxEQz1pbmZv',
  'objectClass: person',
  '',
].join('\n');

describe('parseLdif', () => {
  const records = parseLdif(sample, 'fixtures/x.ldif');

  it('reads records with their line numbers', () => {
    expect(records.map((r) => [r.entry.dn.text, r.line])).toEqual([
      ['CN=José Núñez,OU=Users,DC=avvid,DC=info', 4],
      ['CN=Müller,DC=avvid,DC=info', 16],
    ]);
  });

  it('joins folded lines and drops comments', () => {
    const e = records[0].entry;
    expect(e.get('description')?.values).toEqual(['a long value that is folded over two lines']);
    expect(e.get('objectClass')?.values).toEqual(['top', 'user']);
  });

  it('decodes base64 as bytes for binary attributes and as UTF-8 text otherwise', () => {
    const e = records[0].entry;
    expect(e.get('objectGUID')?.values).toEqual([Buffer.from([0x00, 0x80, 0xff, 0x10])]);
    expect(e.get('givenName')?.values).toEqual(['José']);
    expect(e.get('userCertificate')?.values).toEqual([Buffer.from([1, 2, 3])]);
    expect(e.get('sn')?.values).toEqual(['']);
  });

  it('accepts CRLF line endings', () => {
    const crlf = parseLdif(sample.replace(/\n/g, '\r\n'), 'x.ldif');
    expect(crlf.map((r) => r.entry.dn.text)).toEqual(records.map((r) => r.entry.dn.text));
    expect(crlf[0].entry.get('description')?.values).toEqual(['a long value that is folded over two lines']);
  });

  it('reads a comment\'s continuation as part of the comment, spaces between records as a blank line, a last line without newline', () => {
    const text = ['# a comment', ' dn: cn=hidden,dc=x', 'dn: cn=a,dc=x', 'cn: a', '', '  ', 'dn: cn=b,dc=x', 'cn: b', ' c', '#', 'sn: b'].join('\n');
    const read = parseLdif(text, 'x.ldif');
    expect(read.map((r) => [r.entry.dn.text, r.line])).toEqual([
      ['cn=a,dc=x', 3],
      ['cn=b,dc=x', 7],
    ]);
    expect(read[1].entry.get('cn')?.values).toEqual(['bc']);
    expect(read[1].entry.get('sn')?.values).toEqual(['b']);
  });

  it('reads content records alike whether loaded as content or as changes', () => {
    const changes = parseLdifChanges(sample, 'fixtures/x.ldif');
    expect(changes.map((c) => c.kind)).toEqual(['add', 'add']);
    const added = changes.map((c) => (c.kind === 'add' ? c.entry : undefined)!);
    expect(added.map((e) => [...e.attributes()])).toEqual(records.map((r) => [...r.entry.attributes()]));
    expect(changes.map((c) => c.line)).toEqual([4, 16]);
  });

  it('gives each record exactly its own values when records of one file hold many, then few, then bytes', () => {
    // The parser reuses one record's arrays for the next: a short record must not keep a long one's values.
    const members = Array.from({ length: 40 }, (_, i) => `member: cn=u${i},dc=x`).join('\n');
    const text = [
      `dn: cn=big,dc=x\nobjectClass: top\nobjectClass: group\ncn: big\n${members}\n`,
      'dn: cn=small,dc=x\nobjectClass: group\ncn: small\nmember: cn=u7,dc=x\nmember: cn=u8,dc=x\n',
      'dn: cn=one,dc=x\nobjectClass: group\ncn: one\nmember: cn=u9,dc=x\nobjectGUID:: AAEC\nobjectGUID:: AwQF\n',
    ].join('\n');
    const added = parseLdifChanges(text, 'x.ldif').map((c) => (c.kind === 'add' ? c.entry : undefined)!);
    expect(added[0].get('member')?.values).toHaveLength(40);
    expect(added[0].get('member')?.values[39]).toBe('cn=u39,dc=x');
    expect(added[0].get('objectClass')?.values).toEqual(['top', 'group']);
    expect(added[1].get('member')?.values).toEqual(['cn=u7,dc=x', 'cn=u8,dc=x']);
    expect(added[1].get('objectClass')?.values).toEqual(['group']);
    expect(added[2].get('member')?.values).toEqual(['cn=u9,dc=x']);
    expect(added[2].get('objectGUID')?.values).toEqual([Buffer.from([0, 1, 2]), Buffer.from([3, 4, 5])]);
    expect([...added[2].attributes()].map((a) => a.name)).toEqual(['objectClass', 'cn', 'member', 'objectGUID']);
  });

  it('keeps base64 text that is not UTF-8 as bytes', () => {
    const [r] = parseLdif('dn: cn=x,dc=y\ndescription:: /w==\n', 'x.ldif');
    expect(r.entry.get('description')?.values).toEqual([Buffer.from([0xff])]);
  });

  const errors: Array<[string, string, RegExp]> = [
    ['changetype records', 'dn: cn=a,dc=x\nchangetype: add\ncn: a\n', /^f\.ldif:2: .*changetype/],
    ['URL values', 'dn: cn=a,dc=x\njpegPhoto:< file:///etc/passwd\n', /^f\.ldif:2: .*URL values are not supported/],
    ['bad DN', '\n\ndn: cn=a,,dc=x\n', /^f\.ldif:3: invalid DN/],
    ['missing dn', 'cn: a\n', /^f\.ldif:1: expected "dn:"/],
    ['bad base64', 'dn: cn=a,dc=x\ncn:: %%%\n', /^f\.ldif:2: invalid base64/],
    ['no colon', 'dn: cn=a,dc=x\nnonsense\n', /^f\.ldif:2: expected "attribute: value"/],
    // The line itself is not quoted: it may be a password whose colon was forgotten.
    ['no colon, not echoed', 'dn: cn=a,dc=x\nuserPassword S3cr3t-XYZ\n', /^f\.ldif:2: expected "attribute: value"(?!.*S3cr3t)/],
    ['second dn in one record', 'dn: cn=a,dc=x\ncn: a\ndn: cn=b,dc=x\n', /^f\.ldif:3: second "dn:"/],
    ['dangling continuation', ' x\n', /^f\.ldif:1: continuation/],
    ['version 2', 'version: 2\n\ndn: cn=a,dc=x\n', /^f\.ldif:1: unsupported LDIF version/],
  ];
  it.each(errors)('reports %s with file and line', (_name, text, message) => {
    let caught: unknown;
    try {
      parseLdif(text, 'f.ldif');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LdifError);
    expect((caught as Error).message).toMatch(message);
  });
});

describe('entriesToLdif', () => {
  const entry = new Entry(Dn.parse('CN=José Núñez,OU=Users,DC=avvid,DC=info'), [
    { name: 'objectClass', values: ['top', 'user'] },
    { name: 'cn', values: ['José Núñez'] },
    { name: 'description', values: ['x'.repeat(200), ' leading space', 'trailing ', ':colon', '<angle', ''] },
    { name: 'objectGUID', values: [Buffer.from([0x00, 0x80, 0xff, 0x10])] },
    { name: 'sAMAccountName', values: ['jnunez'] },
  ]);
  const text = entriesToLdif([entry, new Entry(Dn.parse('dc=x'), [{ name: 'dc', values: ['x'] }])]);

  it('folds lines at 76 columns and base64-encodes unsafe values', () => {
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(text).toContain('sAMAccountName: jnunez\n');
    expect(text).toContain(`cn:: ${Buffer.from('José Núñez').toString('base64')}\n`);
    expect(text).toContain('objectGUID:: AID/EA==\n');
  });

  it('round-trips through the parser', () => {
    const [a, b] = parseLdif(text, 'saved.ldif');
    expect(a.entry.dn.text).toBe(entry.dn.text);
    for (const attr of entry.attributes()) expect(a.entry.get(attr.name)?.values).toEqual(attr.values);
    expect(b.entry.dn.text).toBe('dc=x');
  });
});

describe('LDIF change records', () => {
  const load = (...files: string[]) =>
    applyLdifChanges(files.flatMap((text, i) => parseLdifChanges(text, `${i}.ldif`).map((c) => ({ ...c, source: `${i}.ldif` }))));
  const base = 'dn: dc=x\nobjectClass: domain\ndc: x\n\ndn: ou=a,dc=x\nobjectClass: organizationalUnit\nou: a\n\n' +
    'dn: cn=p,ou=a,dc=x\nobjectClass: person\ncn: p\nsn: One\ntelephoneNumber: 1\n';

  it('apply in order across files: add, modify (add/delete/replace), modrdn of a subtree, delete', () => {
    const changes = `version: 1

dn: cn=q,ou=a,dc=x
changetype: add
objectClass: person
cn: q
sn: Two

dn: cn=p,ou=a,dc=x
changetype: modify
replace: sn
sn: Three
-
add: description
description: added
-
delete: telephoneNumber
-

dn: ou=a,dc=x
changetype: moddn
newrdn: ou=b
deleteoldrdn: 1

dn: cn=q,ou=b,dc=x
changetype: modrdn
newrdn: cn=r
deleteoldrdn: 0
newsuperior: dc=x

dn: cn=r,dc=x
changetype: delete
`;
    const records = load(base, changes);
    const byDn = new Map(records.map((r) => [r.entry.dn.text, r]));
    expect([...byDn.keys()].sort()).toEqual(['cn=p,ou=b,dc=x', 'dc=x', 'ou=b,dc=x']);
    const p = byDn.get('cn=p,ou=b,dc=x')!;
    expect(p.entry.get('sn')?.values).toEqual(['Three']);
    expect(p.entry.get('description')?.values).toEqual(['added']);
    expect(p.entry.has('telephoneNumber')).toBe(false);
    expect(p.source).toBe('0.ldif'); // where the entry was added
    expect(byDn.get('ou=b,dc=x')!.entry.get('ou')?.values).toEqual(['b']); // deleteoldrdn: 1 dropped "a"
  });

  const failures: Array<[string, string, RegExp]> = [
    ['a modify of a missing entry', 'dn: cn=z,dc=x\nchangetype: modify\nreplace: sn\nsn: a\n', /^1\.ldif:1: modify: no entry "cn=z,dc=x"/],
    ['an add of an entry that exists', 'dn: dc=x\nchangetype: add\nobjectClass: domain\ndc: x\n', /^1\.ldif:1: duplicate entry "dc=x" \(first defined at 0\.ldif:1\)/],
    ['a delete of an entry with entries below', '\ndn: ou=a,dc=x\nchangetype: delete\n', /^1\.ldif:2: delete: "ou=a,dc=x" has entries below it/],
    ['an added value already there', 'dn: cn=p,ou=a,dc=x\nchangetype: modify\nadd: sn\nsn: one\n', /^1\.ldif:1: modify "cn=p,ou=a,dc=x": .*already has the value/],
    ['a rename onto an entry', 'dn: cn=p,ou=a,dc=x\nchangetype: modrdn\nnewrdn: ou=a\ndeleteoldrdn: 0\nnewsuperior: dc=x\n', /^1\.ldif:1: modrdn: "ou=a,dc=x" exists already/],
    ['an unknown changetype', 'dn: dc=x\nchangetype: frobnicate\n', /^1\.ldif:2: unknown changetype "frobnicate"/],
    ['a value of another attribute in a change', 'dn: dc=x\nchangetype: modify\nreplace: description\ncn: y\n', /^1\.ldif:4: .*missing "-"/],
  ];
  it.each(failures)('fail the load at %s, with file and line', (_name, text, message) => {
    expect(() => load(base, text)).toThrow(message);
  });

  it('are refused by parseLdif, which loads content only', () => {
    expect(() => parseLdif('dn: dc=x\nchangetype: modify\nreplace: dc\ndc: y\n', 'c.ldif')).toThrow(/^c\.ldif:2: .*only LDIF content/);
  });
});
