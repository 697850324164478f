import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { compileFilter } from '../../src/core/filter-eval.js';
import { parseAttributeType, parseObjectClass, parseSchema, renderAttributeType, renderObjectClass } from '../../src/core/schema-description.js';
import { SchemaUsage } from '../../src/core/schema-usage.js';
import { attributeKey, attributeType, attributeTypes, objectClass, objectClasses } from '../../src/core/schema.js';
import { core } from '../../src/core/schemas/core.js';
import { cosine } from '../../src/core/schemas/cosine.js';
import { inetOrgPerson } from '../../src/core/schemas/inetorgperson.js';
import { nis } from '../../src/core/schemas/nis.js';
import { ppolicy } from '../../src/core/schemas/ppolicy.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { subschemaEntry, subschemaSource } from '../../src/frontend/subschema.js';
import { ATTRIBUTE_TYPE, OBJECT_CLASS } from '../support/rfc4512-grammar.js';

const SOURCES = [core, cosine, inetOrgPerson, nis, ppolicy];
const values = (entry: Entry, name: string) => (entry.get(name)?.values ?? []).map(String);
const described = (entry: Entry, name: string) => values(entry, 'attributeTypes').find((d) => new RegExp(`NAME (?:\\( )?'${name}'`).test(d));
const describedClass = (entry: Entry, name: string) => values(entry, 'objectClasses').find((d) => d.includes(`NAME '${name}'`));

describe('the built-in schemas', () => {
  it('parse, and render back to the same descriptions', () => {
    for (const source of SOURCES) {
      const { attributeTypes: types, objectClasses: classes } = parseSchema(source);
      expect(types.length + classes.length).toBeGreaterThan(5);
      for (const t of types) expect(parseAttributeType(renderAttributeType(t), source.origin)).toEqual(t);
      for (const c of classes) expect(parseObjectClass(renderObjectClass(c), source.origin)).toEqual(c);
    }
  });

  it('name only types, classes, rules and syntaxes that exist: every published reference resolves', () => {
    const entry = subschemaEntry();
    const rules = new Set(values(entry, 'matchingRules').map((d) => /NAME '([^']+)'/.exec(d)![1].toLowerCase()));
    const syntaxes = new Set(values(entry, 'ldapSyntaxes').map((d) => /^\( ([\d.]+) /.exec(d)![1]));
    for (const d of values(entry, 'attributeTypes')) {
      for (const m of d.matchAll(/ (?:EQUALITY|ORDERING|SUBSTR) (\S+)/g)) expect(rules, d).toContain(m[1].toLowerCase());
      const syntax = / SYNTAX ([\d.]+)/.exec(d)?.[1];
      if (syntax) expect(syntaxes, d).toContain(syntax);
      const sup = / SUP (\S+)/.exec(d)?.[1];
      if (sup) expect(attributeType(sup), d).toBeDefined();
    }
    for (const c of objectClasses) {
      for (const n of [...c.must, ...c.may]) expect(attributeType(n), `${n} in ${c.name}`).toBeDefined();
      for (const s of c.definition?.sup ?? (c.sup ? [c.sup] : [])) expect(objectClass(s), `${s} above ${c.name}`).toBeDefined();
    }
    const oids = [...attributeTypes.map((t) => t.oid), ...objectClasses.map((c) => c.oid)];
    expect(new Set(oids).size).toBe(oids.length);
  });

  it('give types the AD table lacks their standard behaviour: syntax, exactness, single value, operational', () => {
    expect(attributeType('uidNumber')).toMatchObject({ oid: '1.3.6.1.1.1.1.0', syntax: 'integer', singleValue: true });
    expect(attributeType('memberUid')).toMatchObject({ syntax: 'string', exact: true });
    expect(attributeType('memberUid')?.singleValue).toBeUndefined();
    expect(attributeType('shadowExpire')).toMatchObject({ syntax: 'integer', singleValue: true });
    expect(attributeType('pwdChangedTime')).toMatchObject({ syntax: 'time', operational: true, noUserModification: true });
    expect(attributeType('pwdPolicySubentry')).toMatchObject({ syntax: 'dn', operational: true });
    expect(attributeType('pwdLockout')).toMatchObject({ syntax: 'boolean', singleValue: true });
    expect(attributeType('userSMIMECertificate')?.syntax).toBe('binary');
    expect(attributeType('audio')?.syntax).toBe('binary');
    // Aliases and OIDs of the standards resolve like the AD table's.
    expect(attributeKey('favouriteDrink')).toBe('drink');
    expect(attributeKey('0.9.2342.19200300.100.1.5')).toBe('drink');
  });

  it('leave the AD table as it matched: where both define a type, the table wins', () => {
    expect(attributeType('info')?.oid).toBe('1.2.840.113556.1.2.81'); // cosine's info has another OID
    expect(attributeType('0.9.2342.19200300.100.1.4')).toBeUndefined();
    expect(attributeType('mail')).toMatchObject({ syntax: 'string' });
    expect(attributeType('mail')?.exact).toBeUndefined();
    expect(attributeType('cn')?.definition).toBeUndefined();
    expect(objectClass('inetOrgPerson')?.sup).toBe('user');
    // …still allowing what RFC 2798's inetOrgPerson may hold.
    expect(objectClass('inetOrgPerson')?.may).toEqual(expect.arrayContaining(['uid', 'carLicense', 'departmentNumber', 'preferredLanguage']));
  });

  it('match values as the published rules say', () => {
    const e = new Entry(Dn.parse('uid=alice,dc=x'), [
      { name: 'objectClass', values: ['posixAccount'] },
      { name: 'uidNumber', values: ['1000'] },
      { name: 'memberUid', values: ['alice'] },
      { name: 'favouriteColour', values: ['Blue'] },
    ]);
    const matches = (f: string) => compileFilter(parseFilterString(f))(e);
    expect(matches('(uidNumber=01000)')).toBe(true);
    expect(matches('(uidNumber>=999)')).toBe(true);
    expect(matches('(memberUid=alice)')).toBe(true);
    expect(matches('(memberUid=ALICE)')).toBe(false);
    expect(matches('(objectClass=1.3.6.1.1.1.2.0)')).toBe(true);
    expect(matches('(favouriteColour=blue)')).toBe(true); // unknown: case-ignore text, as published
  });
});

describe('the subschema entry', () => {
  const entry = (...entries: [string, Record<string, string[]>][]) => {
    const usage = new SchemaUsage();
    for (const [dn, attributes] of entries) usage.note(new Entry(Dn.parse(dn), Object.entries(attributes).map(([name, v]) => ({ name, values: v }))));
    return usage;
  };

  it('without usage lists everything built in', () => {
    const all = subschemaEntry();
    expect(values(all, 'attributeTypes')).toHaveLength(attributeTypes.length);
    expect(values(all, 'objectClasses')).toHaveLength(objectClasses.length);
    expect(described(all, 'sAMAccountName')).toBeDefined();
    expect(described(all, 'nisMapEntry')).toBeDefined();
    for (const d of values(all, 'attributeTypes')) expect(d).toMatch(ATTRIBUTE_TYPE);
    for (const d of values(all, 'objectClasses')) expect(d).toMatch(OBJECT_CLASS);
  });

  it('with usage lists what the data uses, what that needs, and the server`s own', () => {
    const usage = entry(['uid=a,dc=x', { objectClass: ['posixAccount', 'ourThing'], uid: ['a'], cn: ['a'], uidNumber: ['1'], 'pet;lang-en': ['cat'], '1.2.3.4': ['x'] }]);
    const s = subschemaEntry([usage]);
    expect(describedClass(s, 'posixAccount')).toContain("X-ORIGIN 'RFC 2307'");
    expect(described(s, 'homeDirectory')).toBeDefined(); // posixAccount must hold it
    expect(described(s, 'gecos')).toBeDefined(); // …and may hold it
    expect(described(s, 'namingContexts')).toBeDefined(); // the root DSE's
    expect(described(s, 'pwdAccountLockedTime')).toBeDefined(); // the mock's ppolicy state
    expect(described(s, 'sAMAccountName')).toBeUndefined();
    expect(describedClass(s, 'user')).toBeUndefined();
    expect(described(s, 'pet')).toMatch(/^\( 1\.3\.6\.1\.4\.1\.99999\.3\.1\.\d+ NAME 'pet' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1\.3\.6\.1\.4\.1\.1466\.115\.121\.1\.15 X-ORIGIN /);
    expect(describedClass(s, 'ourThing')).toMatch(/^\( 1\.3\.6\.1\.4\.1\.99999\.3\.2\.\d+ NAME 'ourThing' SUP top AUXILIARY X-ORIGIN /);
    // An unknown type spelled as an OID has no name to publish.
    expect(values(s, 'attributeTypes').some((d) => d.startsWith('( 1.2.3.4 '))).toBe(false);
    // Generated OIDs depend on the name only.
    expect(described(subschemaEntry([entry(['cn=b,dc=x', { objectClass: ['top'], PET: ['dog'] }])]), 'PET')!.split(' ')[1]).toBe(described(s, 'pet')!.split(' ')[1]);
  });

  it('is worked out again only when the usage grows', () => {
    const usage = entry(['cn=a,dc=x', { objectClass: ['device'], cn: ['a'] }]);
    const source = subschemaSource(() => [usage]);
    const first = source();
    expect(source()).toBe(first);
    usage.note(new Entry(Dn.parse('cn=a,dc=x'), [{ name: 'cn', values: ['b'] }]));
    expect(source()).toBe(first);
    usage.note(new Entry(Dn.parse('cn=a,dc=x'), [{ name: 'gidNumber', values: ['7'] }]));
    const second = source();
    expect(second).not.toBe(first);
    expect(described(second, 'gidNumber')).toBeDefined();
  });
});
