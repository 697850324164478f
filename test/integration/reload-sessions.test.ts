/**
 * What a configuration reload does to sessions and paged searches already open, through a real
 * Canopy server and real clients (ldapts, and a raw client to read the Notice of Disconnection):
 * a connection bound as a local account the reload removes, or whose password hash it changes,
 * is told and closed; other sessions stay. A paged search begun before a reload that changes the
 * access rules or hidden attributes is refused its next page; across any other reload it completes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, SearchResult } from 'ldapts';
import { InvalidCredentialsError } from 'ldapts';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { BIND_REVOKED, PAGED_SEARCH_ENDED_BY_RELOAD } from '../../src/server.js';
import { logged, logRecords, spawnCanopy, type CanopyProcess } from '../support/canopy-process.js';
import { trackedClients } from '../support/ldap-clients.js';
import { captureLog } from '../support/log-capture.js';
import { pagedControl, pagedCookie, RawLdapClient } from '../support/raw-ldap.js';
import { repoRoot, startTestServer, testConfig } from '../support/server.js';

const AVVID = 'DC=avvid,DC=info';
const EGREEN = `CN=Elizabeth Green,OU=Users,${AVVID}`;
const EGREEN_PASSWORD = 'Passw0rd!';
const SYNC = 'cn=sync,ou=accounts,dc=corp,dc=example';
const OTHER = 'cn=other,ou=accounts,dc=corp,dc=example';
const SYNC_PASSWORD = 'Sync-Passw0rd!';
const ROTATED_PASSWORD = 'Rotated-Passw0rd!';
const OTHER_PASSWORD = 'Other-Passw0rd!';
const WHO_AM_I = '1.3.6.1.4.1.4203.1.11.3';
const NOTICE_OF_DISCONNECTION = '1.3.6.1.4.1.1466.20036';
const ACCOUNTS_LINE = 'local accounts removed or changed: connections bound as them closed (notice of disconnection sent)';
const PAGED_LINE = 'access rules or hidden attributes changed: paged searches begun before the reload ended';

/** Every bound identity reads the whole tree; anonymous clients read nothing. */
const ACCESS = `access:
  - { who: authenticated, what: { dn: "" }, allow: read }
`;
/** The same, but nobody reads Elizabeth Green's entry any more. */
const TIGHTER_ACCESS = `access:
  - { who: "*", what: { dn: "${EGREEN}", scope: base }, allow: none }
  - { who: authenticated, what: { dn: "" }, allow: read }
`;

let syncHash: string;
let rotatedHash: string;
let otherHash: string;
beforeAll(async () => {
  [syncHash, rotatedHash, otherHash] = await Promise.all([hashPassword(SYNC_PASSWORD), hashPassword(ROTATED_PASSWORD), hashPassword(OTHER_PASSWORD)]);
});

/** A configuration's text: the avvid forest, the given local accounts (DN → hash), the access rules and anything else. */
function yaml(accounts: Record<string, string>, { access = ACCESS, hide = '', extra = '' } = {}): string {
  const list = Object.entries(accounts).map(([dn, hash]) => `  - { dn: "${dn}", passwordHash: "${hash}" }`);
  return `${extra}accounts:
${list.join('\n')}
forests:
  - { name: avvid, backend: memory, base: "${AVVID}", ldif: ["${join(repoRoot, 'fixtures/avvid.info.ldif')}"]${hide && `, attributes: { hide: [${hide}] }`} }
${access}`;
}

const client = trackedClients();
// Each server logs to a capture: a reload sets its logger's level, which would end a silent one's silence.

async function whoAmI(c: Client): Promise<string | undefined> {
  return (await c.exop(WHO_AM_I)).value;
}

async function bound(url: string, dn: string, password: string): Promise<Client> {
  const c = client(url);
  await c.bind(dn, password);
  expect(await whoAmI(c)).toBe(`dn:${dn}`);
  return c;
}

async function rawBound(url: string, dn: string, password: string): Promise<RawLdapClient> {
  const raw = await RawLdapClient.connect(url);
  expect((await raw.bind(dn, password)).code).toBe(0);
  return raw;
}

/** What a revoked connection's client receives last: the notice, then the end of the connection. */
async function expectRevoked(raw: RawLdapClient): Promise<void> {
  await raw.closed;
  expect(raw.notices).toEqual([expect.objectContaining({ code: BIND_REVOKED.code, message: BIND_REVOKED.reason, responseName: NOTICE_OF_DISCONNECTION })]);
  expect(raw.received.at(-1)).toEqual({ id: 0, tag: 0x78 });
}

async function entryCount(c: Client, filter = '(objectClass=*)'): Promise<number> {
  const { searchEntries }: SearchResult = await c.search(AVVID, { filter, attributes: ['1.1'] });
  return searchEntries.length;
}

describe('a reload that removes or changes a local account', () => {
  const log = captureLog();

  it('ends the connections bound as a removed account with a Notice of Disconnection; other sessions keep theirs', async () => {
    const server = await startTestServer(testConfig(yaml({ [SYNC]: syncHash, [OTHER]: otherHash })), { logger: log.logger });
    const raws: RawLdapClient[] = [];
    try {
      const raw = await rawBound(server.url, SYNC, SYNC_PASSWORD);
      raws.push(raw);
      const sync = await bound(server.url, SYNC, SYNC_PASSWORD);
      const other = await bound(server.url, OTHER, OTHER_PASSWORD);
      const user = await bound(server.url, EGREEN, EGREEN_PASSWORD);
      const anonymous = client(server.url);
      expect(await whoAmI(anonymous)).toBe('');
      const all = await entryCount(sync);
      expect(all).toBeGreaterThan(50);

      const mark = log.lines.length;
      await server.reload(testConfig(yaml({ [OTHER]: otherHash })));

      await expectRevoked(raw);
      // ldapts sees its connection closed; asked again, it connects anew, anonymously.
      await expect.poll(() => sync.isConnected).toBe(false);
      expect(await whoAmI(sync)).toBe('');
      await expect(entryCount(sync)).rejects.toMatchObject({ code: 50 }); // anonymous clients read nothing
      await expect(sync.bind(SYNC, SYNC_PASSWORD)).rejects.toBeInstanceOf(InvalidCredentialsError);

      // The other account, the forest user and the anonymous client keep their connections and identities.
      for (const c of [other, user, anonymous]) expect(c.isConnected).toBe(true);
      expect(await whoAmI(other)).toBe(`dn:${OTHER}`);
      expect(await entryCount(other)).toBe(all);
      expect(await whoAmI(user)).toBe(`dn:${EGREEN}`);
      expect(await entryCount(user)).toBe(all);
      expect(await whoAmI(anonymous)).toBe('');

      const lines = log.lines.slice(mark).filter((l) => l.msg === ACCOUNTS_LINE);
      expect(lines).toEqual([expect.objectContaining({ level: 30, connections: 2 })]);
      expect(log.raw.join('\n')).not.toContain(SYNC_PASSWORD);
      expect(log.raw.join('\n')).not.toContain(syncHash);
    } finally {
      for (const r of raws) r.close();
      await server.close();
    }
  });

  it('ends the connections bound as an account whose password changed; the new password binds, the old one no longer', async () => {
    const server = await startTestServer(testConfig(yaml({ [SYNC]: syncHash, [OTHER]: otherHash })), { logger: log.logger });
    const raw = await rawBound(server.url, SYNC, SYNC_PASSWORD);
    try {
      const sync = await bound(server.url, SYNC, SYNC_PASSWORD);
      const other = await bound(server.url, OTHER, OTHER_PASSWORD);
      const mark = log.lines.length;
      await server.reload(testConfig(yaml({ [SYNC]: rotatedHash, [OTHER]: otherHash })));

      await expectRevoked(raw);
      await expect.poll(() => sync.isConnected).toBe(false);
      expect(await whoAmI(sync)).toBe('');
      await expect(sync.bind(SYNC, SYNC_PASSWORD)).rejects.toBeInstanceOf(InvalidCredentialsError);
      await sync.bind(SYNC, ROTATED_PASSWORD);
      expect(await whoAmI(sync)).toBe(`dn:${SYNC}`);

      expect(other.isConnected).toBe(true);
      expect(await whoAmI(other)).toBe(`dn:${OTHER}`);
      expect(log.lines.slice(mark).filter((l) => l.msg === ACCOUNTS_LINE)).toEqual([expect.objectContaining({ connections: 2 })]);

      // A reload that leaves the accounts as they are closes nothing, and says nothing of accounts.
      const again = log.lines.length;
      await server.reload(testConfig(yaml({ [SYNC]: rotatedHash, [OTHER]: otherHash }, { extra: 'logging: { level: debug }\n' })));
      expect(await whoAmI(sync)).toBe(`dn:${SYNC}`);
      expect(await whoAmI(other)).toBe(`dn:${OTHER}`);
      expect(log.lines.slice(again).some((l) => l.msg === ACCOUNTS_LINE)).toBe(false);
    } finally {
      raw.close();
      await server.close();
    }
  });
});

describe('a paged search begun before a reload', () => {
  it('is refused its next page (unwillingToPerform) when the reload changed the access rules; a new search sees the new rules', async () => {
    const log = captureLog();
    const server = await startTestServer(testConfig(yaml({ [SYNC]: syncHash })), { logger: log.logger });
    try {
      const sync = await bound(server.url, SYNC, SYNC_PASSWORD);
      const pages = sync.searchPaginated(AVVID, { filter: '(objectClass=*)', attributes: ['cn'], paged: { pageSize: 5 } });
      const first = await pages.next();
      expect(first.done).toBe(false);
      expect(first.value?.searchEntries).toHaveLength(5);

      const mark = log.lines.length;
      await server.reload(testConfig(yaml({ [SYNC]: syncHash }, { access: TIGHTER_ACCESS })));
      expect(log.lines.slice(mark).filter((l) => l.msg === PAGED_LINE)).toEqual([expect.objectContaining({ pagedSearches: 1 })]);

      await expect(pages.next()).rejects.toMatchObject({ code: 53, message: expect.stringContaining(PAGED_SEARCH_ENDED_BY_RELOAD) });
      // The same connection, still bound, starts again under the new rules.
      expect(sync.isConnected).toBe(true);
      expect(await entryCount(sync, '(cn=Elizabeth Green)')).toBe(0);
      let seen = 0;
      for await (const page of sync.searchPaginated(AVVID, { filter: '(objectClass=*)', attributes: ['cn'], paged: { pageSize: 20 } })) seen += page.searchEntries.length;
      expect(seen).toBe(await entryCount(sync));
    } finally {
      await server.close();
    }
  });

  it('is refused its next page when the reload changed a forest\'s attributes.hide', async () => {
    const server = await startTestServer(testConfig(yaml({ [SYNC]: syncHash }, { hide: 'homePhone' })), { logger: captureLog().logger });
    const raw = await rawBound(server.url, SYNC, SYNC_PASSWORD);
    try {
      const first = await raw.search(AVVID, [pagedControl(5)]);
      expect(first.code).toBe(0);
      await server.reload(testConfig(yaml({ [SYNC]: syncHash }, { hide: 'homePhone, mobile' })));
      const next = await raw.search(AVVID, [pagedControl(5, pagedCookie(first))]);
      expect(next).toMatchObject({ code: 53, message: PAGED_SEARCH_ENDED_BY_RELOAD });
      // Asked once: the cookie is gone afterwards.
      expect(await raw.search(AVVID, [pagedControl(5, pagedCookie(first))])).toMatchObject({ code: 53, message: 'unknown or expired paged results cookie' });
    } finally {
      raw.close();
      await server.close();
    }
  });

  it('completes on its configuration across a reload that changed neither (a logging level, the accounts)', async () => {
    const server = await startTestServer(testConfig(yaml({ [SYNC]: syncHash })), { logger: captureLog().logger });
    try {
      const sync = await bound(server.url, SYNC, SYNC_PASSWORD);
      const all = await entryCount(sync);
      const pages = sync.searchPaginated(AVVID, { filter: '(objectClass=*)', attributes: ['cn'], paged: { pageSize: 5 } });
      let seen = 0;
      let n = 0;
      for await (const page of pages) {
        seen += page.searchEntries.length;
        n++;
        if (n === 1) await server.reload(testConfig(yaml({ [SYNC]: syncHash }, { extra: 'logging: { level: debug }\n' })));
        if (n === 2) await server.reload(testConfig(yaml({ [OTHER]: otherHash, [SYNC]: syncHash })));
      }
      expect(n).toBeGreaterThan(3);
      expect(seen).toBe(all);
    } finally {
      await server.close();
    }
  });
});

describe('canopy serve with serve.workers: 2, reloaded by SIGHUP', () => {
  let canopy: CanopyProcess | undefined;
  afterEach(async () => {
    await canopy?.stop();
    canopy = undefined;
  });

  it('each worker ends its connections bound as the removed account, and keeps the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-reload-sessions-'));
    const file = join(dir, 'canopy.yaml');
    const write = (accounts: Record<string, string>) =>
      writeFileSync(file, `listen: { ldap: "ldap://127.0.0.1:0" }\nhttp: { port: 0 }\nserve: { workers: 2 }\n${yaml(accounts)}`);
    write({ [SYNC]: syncHash, [OTHER]: otherHash });
    canopy = await spawnCanopy(process.execPath, [join(repoRoot, 'dist/cli.js'), 'serve', '--config', file]);
    const p = canopy;
    // Connections go to the workers in turn: two of each account reach both workers.
    const syncs = [await rawBound(p.url, SYNC, SYNC_PASSWORD), await rawBound(p.url, SYNC, SYNC_PASSWORD)];
    const others = [await rawBound(p.url, OTHER, OTHER_PASSWORD), await rawBound(p.url, OTHER, OTHER_PASSWORD)];
    try {
      write({ [OTHER]: otherHash });
      const mark = p.logLines.length;
      p.child.kill('SIGHUP');
      await logged(p, 'every worker reloaded its configuration', mark);
      for (const raw of syncs) await expectRevoked(raw);
      const lines = await logged(p, ACCOUNTS_LINE, mark, 2);
      expect(new Set(lines.map((l) => l.pid)).size).toBe(2);
      expect(lines.reduce((sum, l) => sum + Number(l.connections), 0)).toBe(2);
      for (const raw of others) {
        expect(raw.notices).toEqual([]);
        expect((await raw.search(EGREEN)).dns).toEqual([EGREEN]);
      }
      expect(logRecords(p, mark).some((l) => JSON.stringify(l).includes(SYNC_PASSWORD))).toBe(false);
    } finally {
      for (const raw of [...syncs, ...others]) raw.close();
    }
  });
});
