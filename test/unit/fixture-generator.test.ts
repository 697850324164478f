import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { Dn } from '../../src/core/dn.js';
import type { Entry } from '../../src/core/entry.js';
import { escapeDnValue, generateForest, type ForestOptions } from '../../src/tools/fixture-generator.js';

/** The exact options of the committed fixtures (fixtures/README.md shows the same commands). */
const COMMITTED: readonly { file: string; options: ForestOptions }[] = [
  {
    file: 'avvid.info.ldif',
    options: { suffix: 'DC=avvid,DC=info', upnSuffix: 'avvid.info', netbios: 'AVVID', users: 60, seed: 42, specials: true },
  },
  {
    file: 'vse.lab.ldif',
    options: { suffix: 'DC=vse,DC=lab', upnSuffix: 'vse.local', netbios: 'VSE', users: 60, seed: 43, specials: true },
  },
];

const values = (e: Entry, name: string): (string | Buffer)[] => e.get(name)?.values ?? [];
const text = (e: Entry, name: string): string | undefined => {
  const v = values(e, name)[0];
  return v === undefined ? undefined : String(v);
};
const hasClass = (e: Entry, oc: string): boolean => values(e, 'objectClass').some((v) => String(v).toLowerCase() === oc.toLowerCase());

describe.each(COMMITTED)('committed fixture $file', ({ file, options }) => {
  const committed = readFileSync(new URL(`../../fixtures/${file}`, import.meta.url), 'utf8');
  const ldif = generateForest(options);
  const entries = parseLdif(ldif, file).map((r) => r.entry);
  const people = entries.filter((e) => hasClass(e, 'user') && !hasClass(e, 'computer') && e.dn.text.includes(',OU=Users,'));
  const byDnKey = new Map(entries.map((e) => [e.dn.key, e]));
  const bySam = new Map(people.map((e) => [text(e, 'sAMAccountName'), e]));

  it('is exactly what the generator produces (regenerate with the command in fixtures/README.md)', () => {
    expect(ldif === committed).toBe(true);
  });

  it('has AD-shaped containers and at least 50 people', () => {
    expect(entries[0].dn.text).toBe(options.suffix);
    expect(values(entries[0], 'objectClass')).toEqual(['top', 'domain', 'domainDNS']);
    for (const ou of ['Users', 'Groups', 'ServiceAccounts', 'Computers']) expect(byDnKey.has(Dn.parse(`OU=${ou},${options.suffix}`).key)).toBe(true);
    expect(people.length).toBe(options.users);
    expect(people.length).toBeGreaterThanOrEqual(50);
    expect(new Set(people.map((e) => text(e, 'sAMAccountName')!.toLowerCase())).size).toBe(people.length);
    const computers = entries.filter((e) => hasClass(e, 'computer'));
    expect(computers.length).toBeGreaterThan(0);
    for (const c of computers) {
      expect(text(c, 'userAccountControl')).toBe('4096');
      expect(text(c, 'sAMAccountName')).toMatch(/\$$/);
    }
    const svc = byDnKey.get(Dn.parse(`CN=svc-canopy,OU=ServiceAccounts,${options.suffix}`).key);
    expect(svc && text(svc, 'sAMAccountName')).toBe('svc-canopy');
  });

  it('has jdoe with a GUID holding 0x00, 0x80 and 0xff', () => {
    const jdoe = bySam.get('jdoe')!;
    expect(jdoe.dn.text).toBe(`CN=John Doe,OU=Users,${options.suffix}`);
    expect(text(jdoe, 'userPrincipalName')).toBe(`jdoe@${options.upnSuffix}`);
    const guid = values(jdoe, 'objectGUID')[0];
    expect(Buffer.isBuffer(guid) && guid.length).toBe(16);
    for (const byte of [0x00, 0x80, 0xff]) expect((guid as Buffer).includes(byte)).toBe(true);
    const guids = people.map((e) => values(e, 'objectGUID')[0] as Buffer);
    expect(new Set(guids.map((g) => g.toString('hex'))).size).toBe(people.length);
    for (const byte of [0x00, 0x80, 0xff]) expect(guids.filter((g) => g.includes(byte)).length).toBeGreaterThan(1);
  });

  it('has 5–10% disabled users, a user without sn, and AD-like attributes', () => {
    const disabled = people.filter((e) => text(e, 'userAccountControl') === '514');
    expect(disabled.length / people.length).toBeGreaterThanOrEqual(0.05);
    expect(disabled.length / people.length).toBeLessThanOrEqual(0.1);
    expect(people.every((e) => ['512', '514'].includes(text(e, 'userAccountControl')!))).toBe(true);
    expect(people.filter((e) => !e.has('sn')).map((e) => text(e, 'sAMAccountName'))).toEqual(['prince']);
    for (const e of people) {
      const sam = text(e, 'sAMAccountName')!;
      // xwang's UPN is under an extra suffix that no upnSuffixes entry maps (canopy doctor finds it).
      expect(text(e, 'userPrincipalName')).toBe(`${sam}@${sam === 'xwang' ? 'legacy.' : ''}${options.upnSuffix}`);
      expect(text(e, 'msRTCSIP-PrimaryUserAddress')).toBe(`sip:${text(e, 'mail')}`);
      expect(text(e, 'telephoneNumber')).toMatch(/^\+1 \d{3} 555 01\d{2}$/);
      expect(text(e, 'ipPhone')).toMatch(/^\d{4}$/);
      expect(text(e, 'whenCreated')).toMatch(/^\d{14}\.0Z$/);
      const sid = values(e, 'objectSid')[0] as Buffer;
      expect([sid[0], sid[1], sid.readUInt32LE(8)]).toEqual([1, 5, 21]);
    }
    expect(people.some((e) => e.has('middleName') || e.has('initials'))).toBe(true);
    expect(people.some((e) => e.has('pager'))).toBe(true);
  });

  it('has a management tree without cycles', () => {
    const roots = people.filter((e) => !e.has('manager'));
    expect(roots).toHaveLength(1);
    for (const e of people) {
      const seen = new Set<string>();
      for (let m: Entry | undefined = e; m; ) {
        expect(seen.has(m.dn.key)).toBe(false);
        seen.add(m.dn.key);
        const manager = text(m, 'manager');
        m = manager === undefined ? undefined : byDnKey.get(Dn.parse(manager).key);
        if (manager !== undefined) expect(m).toBeDefined();
      }
    }
  });

  it('has memberOf back-links matching every group member', () => {
    const groups = entries.filter((e) => hasClass(e, 'group'));
    expect(groups.length).toBeGreaterThan(0);
    const fromGroups = new Set<string>();
    for (const g of groups) {
      expect(text(g, 'groupType')).toBe('-2147483646');
      for (const m of values(g, 'member')) {
        const member = byDnKey.get(Dn.parse(String(m)).key);
        expect(member, String(m)).toBeDefined();
        fromGroups.add(`${member!.dn.key}|${g.dn.key}`);
      }
    }
    const fromMembers = new Set<string>();
    for (const e of entries) for (const g of values(e, 'memberOf')) fromMembers.add(`${e.dn.key}|${Dn.parse(String(g)).key}`);
    expect([...fromMembers].sort()).toEqual([...fromGroups].sort());
  });

  it('has non-ASCII names and DN special characters, escaped and base64-encoded', () => {
    for (const cn of ['José Müller', 'Zoë Ångström', '王小明', 'Doe, Jane', 'A+B Smith', 'Back\\slash User']) {
      const e = people.find((p) => text(p, 'cn') === cn);
      expect(e, cn).toBeDefined();
      expect(e!.dn.text).toBe(`CN=${escapeDnValue(cn)},OU=Users,${options.suffix}`);
    }
    expect(ldif).toContain(`dn: CN=Doe\\, Jane,OU=Users,${options.suffix}\n`);
    expect(ldif).toContain(`dn: CN=A\\+B Smith,OU=Users,${options.suffix}\n`);
    expect(ldif).toContain(`dn: CN=Back\\\\slash User,OU=Users,${options.suffix}\n`);
    expect(ldif).toContain(`dn:: ${Buffer.from(`CN=José Müller,OU=Users,${options.suffix}`).toString('base64')}\n`);
    expect(/^[\p{ASCII}]*$/u.test(ldif)).toBe(true);
    expect(ldif.split('\n').every((l) => l.length <= 76)).toBe(true);
  });
});

describe('generateForest', () => {
  const options: ForestOptions = { suffix: 'dc=example,dc=com', users: 20, seed: 7 };

  it('depends only on its options', () => {
    expect(generateForest(options)).toBe(generateForest({ ...options }));
    expect(generateForest({ ...options, seed: 8 })).not.toBe(generateForest(options));
  });

  it('derives the UPN suffix from the domain and leaves specials out by default', () => {
    const entries = parseLdif(generateForest(options), 'x').map((r) => r.entry);
    const people = entries.filter((e) => e.dn.text.includes(',OU=Users,'));
    expect(people).toHaveLength(20);
    expect(people.every((e) => text(e, 'userPrincipalName')!.endsWith('@example.com'))).toBe(true);
    expect(people.some((e) => text(e, 'sAMAccountName') === 'jdoe')).toBe(false);
  });

  it('refuses a suffix that is not made of dc= RDNs, and too few users for the specials', () => {
    expect(() => generateForest({ ...options, suffix: 'o=example' })).toThrow(/dc= RDNs/);
    expect(() => generateForest({ ...options, users: 3, specials: true })).toThrow(/users/);
  });
});

describe('escapeDnValue', () => {
  it.each([
    ['Doe, Jane', 'Doe\\, Jane'],
    ['A+B', 'A\\+B'],
    ['Back\\slash', 'Back\\\\slash'],
    ['#hash', '\\#hash'],
    [' lead', '\\ lead'],
    ['trail ', 'trail\\ '],
    ['a"b<c>d;e', 'a\\"b\\<c\\>d\\;e'],
    ['José', 'José'],
  ])('%s → %s', (raw, escaped) => {
    expect(escapeDnValue(raw)).toBe(escaped);
  });
});
