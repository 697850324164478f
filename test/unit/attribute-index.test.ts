import { describe, expect, it } from 'vitest';
import { AttributeIndex } from '../../src/backends/memory/attribute-index.js';
import { StoredEntry } from '../../src/backends/memory/stored-entry.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';

const person = (n: number, manager: string, name = 'cn'): Entry =>
  StoredEntry.of(new Entry(Dn.parse(`cn=p${n},dc=x`), [{ name, values: [`Person ${n}`] }, { name: 'manager', values: [manager] }]));

describe('AttributeIndex', () => {
  it('finds the entries holding a value, however many, as they are added and removed', () => {
    const index = new AttributeIndex('manager');
    const people = Array.from({ length: 20 }, (_, n) => person(n, n < 12 ? 'cn=Boss,dc=x' : 'cn=other,dc=x'));
    for (const p of people) index.add(p, p.dn.key);
    const boss = [...index.equal('cn=boss,dc=x')].sort();
    expect(boss).toEqual(people.slice(0, 12).map((p) => p.dn.key).sort());
    expect(index.equal('cn=other,dc=x').size).toBe(8);
    index.add(people[12], people[12].dn.key); // again: held once
    expect(index.equal('cn=other,dc=x').size).toBe(8);
    for (const p of people.slice(1, 12)) index.remove(p, p.dn.key);
    expect([...index.equal('cn=boss,dc=x')]).toEqual([people[0].dn.key]);
    for (const p of people.slice(13)) index.remove(p, p.dn.key);
    expect([...index.equal('cn=other,dc=x')]).toEqual([people[12].dn.key]);
    index.remove(people[12], people[12].dn.key);
    expect(index.equal('cn=other,dc=x').size).toBe(0);
    expect([...index.prefix('cn=')]).toEqual([people[0].dn.key]);
  });

  it('indexes an entry of few values after one of many with only its own values', () => {
    // The index reuses its arrays of values and keys from entry to entry.
    const index = new AttributeIndex('member');
    const group = (name: string, members: string[]): Entry => StoredEntry.of(new Entry(Dn.parse(`cn=${name},dc=x`), [{ name: 'member', values: members }]));
    const big = group('big', Array.from({ length: 30 }, (_, n) => `cn=u${n},dc=x`));
    const small = group('small', ['cn=u29,dc=x']);
    const plainSmall = new Entry(Dn.parse('cn=plain,dc=x'), [{ name: 'member', values: ['cn=u28,dc=x'] }]);
    for (const g of [big, small, plainSmall]) index.add(g, g.dn.key);
    expect([...index.equal('cn=u0,dc=x')]).toEqual([big.dn.key]);
    expect([...index.equal('cn=u29,dc=x')].sort()).toEqual([big.dn.key, small.dn.key].sort());
    expect([...index.equal('cn=u28,dc=x')].sort()).toEqual([big.dn.key, plainSmall.dn.key].sort());
    index.remove(small, small.dn.key);
    expect([...index.equal('cn=u29,dc=x')]).toEqual([big.dn.key]);
    expect([...index.equal('cn=u0,dc=x')]).toEqual([big.dn.key]);
  });

  it('indexes values held under any name of the type, once each', () => {
    const index = new AttributeIndex('cn');
    const p = person(1, 'cn=b,dc=x', 'commonName');
    index.add(p, p.dn.key);
    expect([...index.equal('person 1')]).toEqual([p.dn.key]);
    expect([...index.prefix('pers')]).toEqual([p.dn.key]);
    index.remove(p, p.dn.key);
    expect(index.equal('person 1').size).toBe(0);
  });

  it('indexes a load in bulk as adding entry by entry does, and stays right through writes after it', () => {
    const people = Array.from({ length: 30 }, (_, n) => person(n, n < 20 ? 'cn=Boss,dc=x' : 'cn=other,dc=x'));
    // An entry holding one key under two spellings (cn: Twin, cn: TWIN) is held once.
    const twin = StoredEntry.of(new Entry(Dn.parse('cn=twin,dc=x'), [{ name: 'manager', values: ['cn=Boss,dc=x', 'CN=boss,dc=x'] }]));
    const bulk = new AttributeIndex('manager');
    const oneByOne = new AttributeIndex('manager');
    for (const p of [...people, twin]) {
      bulk.addLoaded(p, p.dn.key);
      oneByOne.add(p, p.dn.key);
    }
    const sorted = (s: ReadonlySet<string>): string[] => [...s].sort();
    expect(sorted(bulk.equal('cn=boss,dc=x'))).toEqual(sorted(oneByOne.equal('cn=boss,dc=x')));
    expect(bulk.equal('cn=boss,dc=x').size).toBe(21);
    expect(sorted(bulk.equal('cn=other,dc=x'))).toEqual(sorted(oneByOne.equal('cn=other,dc=x')));
    expect(sorted(bulk.prefix('cn=b'))).toEqual(sorted(oneByOne.prefix('cn=b')));
    // Writes after the load, on a long list before and after it was first looked up.
    bulk.remove(people[25], people[25].dn.key);
    bulk.add(people[25], people[25].dn.key);
    bulk.add(people[25], people[25].dn.key);
    expect(bulk.equal('cn=other,dc=x').size).toBe(10);
    for (const p of people.slice(0, 19)) bulk.remove(p, p.dn.key);
    bulk.remove(twin, twin.dn.key);
    expect([...bulk.equal('cn=boss,dc=x')]).toEqual([people[19].dn.key]);
  });

  it('indexes a load when first read, from the entries as they are then, writes in between included', () => {
    const people = new Map(Array.from({ length: 12 }, (_, n) => person(n, n < 8 ? 'cn=Boss,dc=x' : 'cn=other,dc=x')).map((p) => [p.dn.key, p]));
    const index = new AttributeIndex('manager');
    let visits = 0;
    index.indexLater((add) => {
      visits++;
      for (const p of people.values()) add(p, p.dn.key);
    });
    // Writes before the first read: the directory's entries change, the index reads them later.
    const leaver = people.get('cn=p0,dc=x')!;
    people.delete(leaver.dn.key);
    index.remove(leaver, leaver.dn.key);
    const newcomer = person(20, 'cn=Boss,dc=x');
    people.set(newcomer.dn.key, newcomer);
    index.add(newcomer, newcomer.dn.key);
    expect(visits).toBe(0);
    const boss = [...index.equal('cn=boss,dc=x')].sort();
    expect(boss).toEqual([...people.values()].filter((p) => p.get('manager')!.values[0] === 'cn=Boss,dc=x').map((p) => p.dn.key).sort());
    expect(boss).not.toContain(leaver.dn.key);
    expect(boss).toContain(newcomer.dn.key);
    expect(index.prefix('cn=o').size).toBe(4);
    expect(visits).toBe(1);
    // Built: writes go to the index again.
    index.remove(newcomer, newcomer.dn.key);
    expect(index.equal('cn=boss,dc=x').size).toBe(7);
    expect(visits).toBe(1);
  });
});
