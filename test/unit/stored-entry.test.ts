import { describe, expect, it } from 'vitest';
import { parseLdifChanges } from '../../src/backends/memory/ldif.js';
import { StoredEntry } from '../../src/backends/memory/stored-entry.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';

const guid = Buffer.from('816a8e6a11545e4f99fd130192d42b9e', 'hex');
const plain = (): Entry =>
  new Entry(Dn.parse('CN=Thomas Hernandez,OU=Users,DC=bench,DC=test'), [
    { name: 'objectClass', values: ['top', 'person', 'user'] },
    { name: 'cn', values: ['Thomas Hernandez'] },
    { name: 'sAMAccountName', values: ['thernandez'] },
    { name: 'objectGUID', values: [guid] },
    { name: 'jpegPhoto', values: [Buffer.from([0xff, 0xd8, 0x00]), Buffer.from([0x80])] },
    { name: 'member;range=0-1', values: ['CN=a,DC=x'] },
    { name: 'description', values: [] },
  ]);

describe('StoredEntry', () => {
  it('counts the most values one attribute holds without making the attributes', () => {
    expect(StoredEntry.of(plain()).mostValues()).toBe(3);
    const many = plain();
    many.set('member', Array.from({ length: 1501 }, (_, i) => `CN=m${i},DC=x`));
    expect(StoredEntry.of(many).mostValues()).toBe(1501);
  });

  it('overrides every method of Entry, as it holds no attribute map of its own', () => {
    const methods = Object.getOwnPropertyNames(Entry.prototype).filter((m) => m !== 'constructor');
    expect(methods.length).toBeGreaterThan(5);
    for (const m of methods) expect(Object.hasOwn(StoredEntry.prototype, m), m).toBe(true);
  });

  it('reads as the entry it was made from: names as spelled, values and bytes, lookups by any name of the type', () => {
    const stored = StoredEntry.of(plain());
    expect(stored).toBeInstanceOf(Entry);
    expect(stored.dn.text).toBe('CN=Thomas Hernandez,OU=Users,DC=bench,DC=test');
    expect([...stored.attributes()].map((a) => a.name)).toEqual(['objectClass', 'cn', 'sAMAccountName', 'objectGUID', 'jpegPhoto', 'member;range=0-1']);
    expect(stored.get('OBJECTCLASS')?.values).toEqual(['top', 'person', 'user']);
    expect(stored.get('commonName')).toEqual({ name: 'cn', values: ['Thomas Hernandez'] });
    expect(stored.get('2.5.4.3')?.values).toEqual(['Thomas Hernandez']);
    expect(stored.get('objectGUID')?.values).toEqual([guid]);
    expect(Buffer.isBuffer(stored.get('objectGUID')?.values[0])).toBe(true);
    expect(stored.get('jpegPhoto')?.values).toEqual([Buffer.from([0xff, 0xd8, 0x00]), Buffer.from([0x80])]);
    expect(stored.has('member')).toBe(false);
    expect(stored.get('member;range=0-1')?.values).toEqual(['CN=a,DC=x']);
    expect(stored.has('description')).toBe(false); // no values, no attribute
    expect(stored.get('mail')).toBeUndefined();
  });

  it('cannot be changed in place; its clone is a plain entry that can', () => {
    const stored = StoredEntry.of(plain());
    expect(() => stored.set('cn', ['x'])).toThrow(TypeError);
    expect(() => stored.addValues('cn', ['x'])).toThrow(TypeError);
    expect(() => stored.delete('cn')).toThrow(TypeError);
    expect(() => stored.get('cn')!.values.push('x')).toThrow(TypeError);
    expect(() => stored.get('objectClass')!.values.push('x')).toThrow(TypeError);
    const copy = stored.clone();
    copy.set('cn', ['Tom']);
    expect(copy.get('cn')?.values).toEqual(['Tom']);
    expect(stored.get('cn')?.values).toEqual(['Thomas Hernandez']);
    expect(StoredEntry.of(stored)).toBe(stored);
  });

  it('withAttributes gives a stored entry with attributes set as Entry.set sets them, the original unchanged', () => {
    const stored = StoredEntry.of(plain());
    const dn = Dn.parse('CN=Tom,OU=Users,DC=bench,DC=test');
    const next = stored.withAttributes(dn, [
      { name: 'CN', values: ['Tom'] }, // replaced under the entry's spelling
      { name: 'mail', values: ['tom@bench.test'] }, // added at the end
      { name: 'memberOf', values: ['CN=g1,DC=x', 'CN=g2,DC=x'] },
      { name: 'description', values: [] }, // absent and empty: nothing
    ]);
    expect(next).toBeInstanceOf(StoredEntry);
    expect(next.dn).toBe(dn);
    expect([...next.attributes()].map((a) => a.name)).toEqual(['objectClass', 'cn', 'sAMAccountName', 'objectGUID', 'jpegPhoto', 'member;range=0-1', 'mail', 'memberOf']);
    expect(next.get('cn')?.values).toEqual(['Tom']);
    expect(next.get('memberOf')?.values).toEqual(['CN=g1,DC=x', 'CN=g2,DC=x']);
    expect(next.get('objectGUID')?.values).toEqual([guid]);
    expect(stored.get('cn')?.values).toEqual(['Thomas Hernandez']);
    expect(stored.has('mail')).toBe(false);
  });

  it('a parsed entry has room for what a load adds, reads without it, and is completed in place once; later changes copy it', () => {
    const [change] = parseLdifChanges('dn: cn=a,dc=x\nobjectClass: person\ncn: a\nmemberOf: cn=old,dc=x\n', 'test.ldif');
    if (change.kind !== 'add') throw new Error('expected an added entry');
    const parsed = change.entry as StoredEntry;
    // Room for the timestamps and objectCategory (memberOf is there): not read as attributes.
    expect([...parsed.attributes()].map((a) => a.name)).toEqual(['objectClass', 'cn', 'memberOf']);
    expect(parsed.mostValues()).toBe(1);
    expect(parsed.clone().get('createTimestamp')).toBeUndefined();

    const dn = Dn.parse('cn=a,dc=x');
    const completed = parsed.withAttributes(dn, [
      { name: 'createTimestamp', values: ['20240101000000Z'] },
      { name: 'memberOf', values: ['cn=g1,dc=x', 'cn=g2,dc=x'] },
    ]);
    expect(completed).toBe(parsed);
    expect(completed.dn).toBe(dn);
    expect([...completed.attributes()].map((a) => a.name)).toEqual(['objectClass', 'cn', 'memberOf', 'createTimestamp']);
    expect(completed.get('memberOf')?.values).toEqual(['cn=g1,dc=x', 'cn=g2,dc=x']);
    expect(completed.mostValues()).toBe(2);

    // The room left (one slot) was given back: a stored entry is never changed in place again.
    const again = completed.withAttributes(dn, [{ name: 'modifyTimestamp', values: ['20240101000000Z'] }]);
    expect(again).not.toBe(completed);
    expect(again.get('modifyTimestamp')?.values).toEqual(['20240101000000Z']);
    expect(completed.has('modifyTimestamp')).toBe(false);
    const replaced = completed.withAttributes(dn, [{ name: 'cn', values: ['b'] }]);
    expect(replaced).not.toBe(completed);
    expect(completed.get('cn')?.values).toEqual(['a']);
  });

  it('withAttributes removes an attribute given no values and writes bytes, as a plain entry would', () => {
    const stored = StoredEntry.of(plain());
    const next = stored.withAttributes(stored.dn, [
      { name: 'sAMAccountName', values: [] },
      { name: 'objectGUID', values: [Buffer.from([1, 2])] },
      { name: 'cn', values: ['Tom'] },
    ]);
    const expected = plain();
    expected.delete('sAMAccountName');
    expected.set('objectGUID', [Buffer.from([1, 2])]);
    expected.set('cn', ['Tom']);
    expect([...next.attributes()]).toEqual([...StoredEntry.of(expected).attributes()]);
    expect(next).toBeInstanceOf(StoredEntry);
  });

  it('lists its attributes frozen, the same list for an entry read again, each entry its own', () => {
    const a = StoredEntry.of(plain());
    const b = StoredEntry.of(new Entry(Dn.parse('cn=b,dc=x'), [{ name: 'cn', values: ['b'] }]));
    const first = [...a.attributes()];
    expect([...b.attributes()]).toEqual([{ name: 'cn', values: ['b'] }]);
    const again = [...a.attributes()];
    expect(again).toEqual(first);
    expect(again[1]).toBe(first[1]);
    expect(() => {
      (first[1] as { name: string }).name = 'sn';
    }).toThrow(TypeError);
    expect(first.map((x) => x.name)).toEqual(['objectClass', 'cn', 'sAMAccountName', 'objectGUID', 'jpegPhoto', 'member;range=0-1']);
  });

  it('writeValues gives an attribute\'s values, bytes as Buffers, looked up by any name of the type, and where they end', () => {
    const stored = StoredEntry.of(plain());
    // A reused array holding more than is written: what lies past the end returned is not the entry's.
    const out: (string | Buffer)[] = ['old', 'old', 'old', 'old', 'old', 'old', 'old', 'old'];
    let at = stored.writeValues('objectclass', out, 0);
    at = stored.writeValues('2.5.4.3', out, at);
    at = stored.writeValues('jpegPhoto', out, at);
    expect(stored.writeValues('mail', out, at)).toBe(at);
    expect(out.slice(0, at)).toEqual(['top', 'person', 'user', 'Thomas Hernandez', Buffer.from([0xff, 0xd8, 0x00]), Buffer.from([0x80])]);
    expect(stored.attributeNames).toEqual(['objectClass', 'cn', 'sAMAccountName', 'objectGUID', 'jpegPhoto', 'member;range=0-1']);
  });

  it('shares lists of values that entries repeat, and keeps apart lists that only join alike', () => {
    const a = StoredEntry.of(plain());
    const b = StoredEntry.of(plain());
    expect(a.get('objectClass')!.values).toBe(b.get('objectClass')!.values);
    const dn = Dn.parse('cn=z,dc=x');
    const joined = StoredEntry.of(new Entry(dn, [{ name: 'description', values: ['a\0b', 'c'] }]));
    const other = StoredEntry.of(new Entry(dn, [{ name: 'description', values: ['a', 'b\0c'] }]));
    expect(joined.get('description')?.values).toEqual(['a\0b', 'c']);
    expect(other.get('description')?.values).toEqual(['a', 'b\0c']);
  });
});

describe('LDIF DNs built on their parent', () => {
  const dns = (text: string) => parseLdifChanges(text, 'x.ldif').map((c) => (c.kind === 'add' ? c.entry.dn : c.dn));

  it('share the parent DN\'s RDNs and read as a parse of the whole DN would', () => {
    const [parent, child] = dns('dn: OU=Users,DC=x\nobjectClass: organizationalUnit\n\ndn: CN=Doe,OU=Users,DC=x\nobjectClass: person\n');
    expect(child.rdns[1]).toBe(parent.rdns[0]);
    expect(child.key).toBe(Dn.parse('CN=Doe,OU=Users,DC=x').key);
    expect(child.text).toBe('CN=Doe,OU=Users,DC=x');
  });

  it('a comma escaped in the RDN is not taken for the end of it', () => {
    const [parent, child] = dns('dn: OU=Users,DC=x\nobjectClass: organizationalUnit\n\ndn: CN=Doe\\, John,OU=Users,DC=x\nobjectClass: person\n');
    expect(child.rdns[0].avas[0].value).toBe('Doe, John');
    expect(child.rdns[1]).toBe(parent.rdns[0]);
    expect(child.key).toBe(Dn.parse('CN=Doe\\, John,OU=Users,DC=x').key);
    // What follows an escaped comma may read as a known DN; the whole DN is judged, as without one.
    expect(() => dns('dn: DC=x\nobjectClass: domain\n\ndn: CN=a\\,DC=x\nobjectClass: person\n')).toThrow(/x\.ldif:4: invalid DN "CN=a\\,DC=x": unescaped "="/);
  });

  it('a parent of more entries than the parser keeps DNs of is still shared by the last of them', () => {
    const children = Array.from({ length: 70_000 }, (_, i) => `dn: CN=u${i},OU=Users,DC=x\nobjectClass: person\n`);
    const all = dns(['dn: DC=x\nobjectClass: domain\n', 'dn: OU=Users,DC=x\nobjectClass: organizationalUnit\n', ...children].join('\n'));
    expect(all.at(-1)!.text).toBe('CN=u69999,OU=Users,DC=x');
    expect(all.at(-1)!.rdns[1]).toBe(all[1].rdns[0]);
    expect(all.at(-1)!.rdns[2]).toBe(all[0].rdns[0]);
  });

  it('an empty RDN before a known parent is still refused', () => {
    expect(() => dns('dn: DC=x\nobjectClass: domain\n\ndn:  ,DC=x\nobjectClass: person\n')).toThrow(/x\.ldif:4: invalid DN/);
  });
});
