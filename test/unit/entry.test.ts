import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import { EncodedAttribute } from '../../src/core/encoded-attribute.js';
import { Entry } from '../../src/core/entry.js';

const dn = Dn.parse('cn=x,dc=example');
const names = (e: Entry) => [...e.attributes()].map((a) => a.name);

describe('Entry', () => {
  it('finds attributes by any name of the type, any case, options kept apart', () => {
    const e = new Entry(dn, [
      { name: 'cn', values: ['x'] },
      { name: 'member;range=0-1', values: ['cn=a', 'cn=b'] },
    ]);
    expect(e.get('commonName')?.values).toEqual(['x']);
    expect(e.get('2.5.4.3')?.name).toBe('cn');
    expect(e.has('CN')).toBe(true);
    expect(e.has('member')).toBe(false);
    expect(e.get('MEMBER;RANGE=0-1')?.values).toEqual(['cn=a', 'cn=b']);
  });

  it('keeps the order attributes were added in, through replacements, additions and deletions', () => {
    const e = new Entry(dn, [
      { name: 'objectClass', values: ['top'] },
      { name: 'cn', values: ['x'] },
      { name: 'sn', values: ['y'] },
    ]);
    e.set('CN', ['z']); // replaced in place, under the spelling the entry has
    e.addValues('objectclass', ['person']);
    e.addValues('mail', ['x@example']);
    expect(e.delete('surname')).toBe(true);
    expect(e.delete('sn')).toBe(false);
    e.set('mail', []);
    expect(names(e)).toEqual(['objectClass', 'cn']);
    expect(e.get('cn')?.values).toEqual(['z']);
    expect(e.get('objectClass')?.values).toEqual(['top', 'person']);
  });

  // Small entries scan their keys; past 32 attributes they move to a Map: the behaviour is one.
  it('behaves the same with thousands of attributes as with a few', () => {
    const many = new Entry(dn);
    for (let i = 0; i < 5000; i++) many.addValues(`x-attr${i}`, [String(i)]);
    expect(many.get('X-ATTR4999')?.values).toEqual(['4999']);
    expect(many.get('x-attr31')?.values).toEqual(['31']);
    many.addValues('x-attr0', ['again']);
    many.set('x-attr1', ['one']);
    expect(many.delete('x-attr2')).toBe(true);
    many.set('x-attr3', []);
    many.addValues('x-attr2', ['back']);
    const list = names(many);
    expect(list).toHaveLength(4999);
    expect(list.slice(0, 3)).toEqual(['x-attr0', 'x-attr1', 'x-attr4']);
    expect(list.at(-1)).toBe('x-attr2');
    expect(many.get('x-attr0')?.values).toEqual(['0', 'again']);
    expect(many.get('x-attr1')?.values).toEqual(['one']);
    expect(many.has('x-attr3')).toBe(false);
    const copy = many.clone();
    copy.addValues('x-attr1', ['two']);
    expect(many.get('x-attr1')?.values).toEqual(['one']);
    expect(names(copy)).toEqual(list);
  });

  it('holds an attribute that arrived encoded as that very object until values are added to it', () => {
    const encoded = new EncodedAttribute('cn', Buffer.from([0x04, 0x01, 0x78]), () => ['x']);
    const e = new Entry(dn);
    e.put(encoded);
    expect(e.get('cn')).toBe(encoded);
    e.addValues('cn', ['y']);
    expect(e.get('cn')).not.toBe(encoded);
    expect(e.get('cn')?.values).toEqual(['x', 'y']);
    expect(e.get('cn')?.encodedValues).toBeUndefined();
    expect(encoded.values).toEqual(['x']);
  });
});
