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
