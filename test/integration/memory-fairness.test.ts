/**
 * A memory forest serves every client in turn: a search whose filter costs much per entry (an OR
 * of a thousand substrings on long values, within limits.maxFilterTerms) lets other clients' requests
 * in while it runs, rather than holding the process until it ends.
 */
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockDirectory, type MockDirectory } from '../../src/index.js';

const BASE = 'dc=fair,dc=test';
const USERS = 300;

function ldif(): string {
  const filler = 'abcdefghijklmnoprstuvwxy'.repeat(420); // 10,080 characters, no "q"
  const people = Array.from({ length: USERS }, (_, i) => `dn: cn=user${i},${BASE}\nobjectClass: person\ncn: user${i}\nsn: ${i}\ndescription: ${filler}\n`);
  return [`dn: ${BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: fair\no: fair\n`, ...people].join('\n');
}

describe('memory forest: a costly filter', () => {
  let dir: MockDirectory;
  const clients: Client[] = [];
  const bound = async () => {
    const c = new Client({ url: dir.url, timeout: 60_000 });
    clients.push(c);
    await c.bind(dir.bindDn, dir.password);
    return c;
  };
  beforeAll(async () => {
    dir = await startMockDirectory({ ldif: ldif() });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
    await dir?.close();
  });

  it("lets another client's lookup in while it runs (every entry scanned, none matching)", async () => {
    const [costly, other] = [await bound(), await bound()];
    const filter = `(|${Array.from({ length: 999 }, (_, i) => `(description=*q${i}z*)`).join('')})`;
    const order: string[] = [];
    const scan = costly.search(BASE, { filter, attributes: ['1.1'] }).then((r) => order.push(`scan (${r.searchEntries.length})`));
    // The lookup is sent once the scan has begun, and answered before it ends.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lookup = other.search(BASE, { filter: '(cn=user7)', attributes: ['cn'] }).then((r) => order.push(`lookup (${r.searchEntries.length})`));
    await Promise.all([scan, lookup]);
    expect(order).toEqual(['lookup (1)', 'scan (0)']);
  });
});

describe('memory forest: assertions on a many-valued attribute', () => {
  const GROUP_BASE = 'dc=groups,dc=test';
  const MEMBERS = 10_000;
  let dir: MockDirectory;
  const clients: Client[] = [];

  function groups(): string {
    const member = (i: number) => `member: cn=user${i},${GROUP_BASE}\n`;
    const big = `dn: cn=all staff,${GROUP_BASE}\nobjectClass: groupOfNames\ncn: all staff\n${Array.from({ length: MEMBERS }, (_, i) => member(i)).join('')}`;
    const small = `dn: cn=team,${GROUP_BASE}\nobjectClass: groupOfNames\ncn: team\n${[1, 2, 3].map(member).join('')}`;
    // One value of 900,000 characters: a test of it folds all of it.
    const long = `dn: cn=long,${GROUP_BASE}\nobjectClass: person\ncn: long\nsn: long\ndescription: ${'x'.repeat(900_000)}\n`;
    return [`dn: ${GROUP_BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: groups\no: groups\n`, big, small, long].join('\n');
  }

  beforeAll(async () => {
    dir = await startMockDirectory({ ldif: groups() });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
    await dir?.close();
  });
  const bound = async () => {
    const c = new Client({ url: dir.url, timeout: 60_000 });
    clients.push(c);
    await c.bind(dir.bindDn, dir.password);
    return c;
  };
  const anyOf = (term: (i: number) => string) => `(|${Array.from({ length: 998 }, (_, i) => term(i)).join('')})`;

  it('ends a filter that would test too many values of one entry with adminLimitExceeded, whatever kind of assertion', async () => {
    const c = await bound();
    for (const filter of [
      anyOf((i) => `(member:2.5.13.1:=cn=nobody${i},${GROUP_BASE})`),
      anyOf((i) => `(member:1.2.840.113556.1.4.1941:=cn=nobody${i},${GROUP_BASE})`),
      anyOf((i) => `(member=*zq${i}*)`),
      // Few values, but long ones: a KiB counts as a test.
      anyOf((i) => `(description=y${i})`),
      anyOf((i) => `(description>=y${i})`),
    ]) {
      await expect(c.search(GROUP_BASE, { filter, attributes: ['1.1'] })).rejects.toMatchObject({ code: 11, message: expect.stringContaining('values of one entry') });
    }
  });

  it('answers the same kinds of filters where one entry costs less (a big group by one assertion, a small group by many), and equality through the index', async () => {
    const c = await bound();
    const indexed = await c.search(GROUP_BASE, { filter: anyOf((i) => `(member=cn=user${i * 10},${GROUP_BASE})`), attributes: ['cn'] });
    expect(indexed.searchEntries.map((e) => e.cn)).toEqual(['all staff']);
    const one = await c.search(GROUP_BASE, { filter: `(member=cn=user9999,${GROUP_BASE})`, attributes: ['cn'] });
    expect(one.searchEntries.map((e) => e.cn)).toEqual(['all staff']);
    const some = (term: (i: number) => string) => `(|${Array.from({ length: 990 }, (_, i) => term(i)).join('')})`;
    const many = await c.search(GROUP_BASE, { scope: 'one', filter: `(&(cn=team)${some((i) => `(member:2.5.13.1:=cn=user${i},${GROUP_BASE})`)})`, attributes: ['cn'] });
    expect(many.searchEntries.map((e) => e.cn)).toEqual(['team']);
    const long = await c.search(GROUP_BASE, { filter: `(description=${'x'.repeat(100)}*)`, attributes: ['cn'] });
    expect(long.searchEntries.map((e) => e.cn)).toEqual(['long']);
  });
});
