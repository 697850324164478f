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

  it('indexes values held under any name of the type, once each', () => {
    const index = new AttributeIndex('cn');
    const p = person(1, 'cn=b,dc=x', 'commonName');
    index.add(p, p.dn.key);
    expect([...index.equal('person 1')]).toEqual([p.dn.key]);
    expect([...index.prefix('pers')]).toEqual([p.dn.key]);
    index.remove(p, p.dn.key);
    expect(index.equal('person 1').size).toBe(0);
  });
});
