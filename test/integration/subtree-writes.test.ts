import { fileURLToPath } from 'node:url';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessSchema } from '../../src/config/auth-schema.js';
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js';
import type { ForestConfig } from '../../src/config/schema.js';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { createLogger } from '../../src/observability/logger.js';
import { metrics, metricValue } from '../../src/observability/metrics.js';
import { berInt, berOctets, berTlv } from '../../src/protocol/ber-writer.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { passwordModifyValue, RawLdapClient } from '../support/raw-ldap.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { ldapForestConfig, serviceDn } from './ldap-helpers.js';

// Writes whose effect reaches past the entry they name, through the whole stack with real clients,
// on a memory forest and on slapd alike. Access rules name DNs, so renaming or moving an entry
// moves what lies below it out of (or into) the rules that cover it, and a delete the forest refuses
// for a child tells that the child exists: both are decided by the rules, whatever lies below.
// A forest that hides userPassword never has it written: a reset is refused, the user's own change is not.

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
const env = { ...process.env, CANOPY_HOST: '127.0.0.1', CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0', CANOPY_LOG_LEVEL: 'silent' };
const defaults = loadConfigFile(DEFAULT_CONFIG, env);
const SUFFIX = 'dc=corp,dc=example';
const AVVID = `ou=avvid,${SUFFIX}`;
const USERS = `OU=Users,${AVVID}`;
const PROVISIONING = `cn=provisioning,ou=accounts,${SUFFIX}`;
const PROVISIONING_PASSWORD = 'Pr0visioning-Passw0rd!';
/** Hidden from the provisioning account and from Elizabeth Green by a rule on it alone. */
const PROTECTED = `CN=John Doe,${USERS}`;
const EGREEN = `CN=Elizabeth Green,${USERS}`;
/** A place a rule protects where nothing exists: refusals decided by the rules read the same there. */
const EMPTY = `OU=Empty,${AVVID}`;
const GROUPS = `OU=Groups,${AVVID}`;
/** An entry named by a type the forest matches its own way (slapd's telephoneNumberMatch ignores spaces and hyphens), hidden from the provisioning account. */
const PHONE_NAMED = `telephoneNumber=\\+1 408 555 0100,${USERS}`;
const ADMIN = `cn=admin,ou=accounts,${SUFFIX}`;
const PASSWORD_MODIFY = '1.3.6.1.4.1.4203.1.11.1';
/** What Canopy's refusals of such writes say (the forest's own refusals say otherwise). */
const BY_THE_RULES = /the access rules (withhold|decide otherwise on) entries that may lie below/;

const avvidForest = (): ForestConfig => {
  const forest = defaults.forests.find((f) => f.name === 'avvid')!;
  // The default configuration hides userPassword and unicodePwd in this forest.
  expect(forest.attributes.hide).toContain('userPassword');
  return forest;
};

async function configWith(forest: ForestConfig): Promise<LoadedConfig> {
  return {
    ...defaults,
    forests: [forest],
    accounts: [
      ...defaults.accounts,
      { dn: PROVISIONING, passwordHash: await hashPassword(PROVISIONING_PASSWORD) },
      { dn: ADMIN, passwordHash: await hashPassword(PROVISIONING_PASSWORD) },
    ],
    access: accessSchema.parse([
      { who: ADMIN, what: { dn: SUFFIX }, allow: 'write' },
      { who: PROVISIONING, what: { dn: PROTECTED, scope: 'base' }, allow: 'none' },
      { who: PROVISIONING, what: { dn: PHONE_NAMED, scope: 'base' }, allow: 'none' },
      { who: PROVISIONING, what: { dn: `CN=Iris Absent,${USERS}`, scope: 'base' }, allow: 'none' },
      { who: PROVISIONING, what: { dn: `seeAlso=cn\\=boss\\,dc\\=x,${USERS}`, scope: 'base' }, allow: 'none' },
      { who: PROVISIONING, what: { dn: `CN=Ghost,${EMPTY}`, scope: 'base' }, allow: 'none' },
      // Groups' descriptions are the directory team's: the provisioning account reads them only.
      { who: PROVISIONING, what: { dn: GROUPS, attributes: ['description'] }, allow: 'read' },
      { who: PROVISIONING, what: { dn: SUFFIX }, allow: 'write' },
      { who: EGREEN, what: { dn: PROTECTED, scope: 'base' }, allow: 'none' },
      { who: 'authenticated', what: { dn: SUFFIX }, allow: 'read' },
    ]),
  };
}

type Frozen = (work: () => Promise<void>) => Promise<void>;

/** `stopped` runs its work with the forest's server stopped (SIGSTOP), where there is one. */
function describeSuite(title: string, config: () => LoadedConfig, stopped?: Frozen) {
  const frozen: Frozen = stopped ?? ((work) => work());
  describe(title, () => {
    let server: RunningServer;
    let url: string;
    const clients: Client[] = [];
    const bound = async (name: string, password: string): Promise<Client> => {
      const c = new Client({ url, timeout: 10_000 });
      clients.push(c);
      await c.bind(name, password);
      return c;
    };
    const failure = (p: Promise<unknown>) => p.then(() => ({ code: 0, message: 'success' }), (e: { code?: number; message: string }) => ({ code: e.code, message: e.message }));
    const exists = async (c: Client, dn: string) => (await failure(c.search(dn, { scope: 'base', attributes: ['1.1'] }))).code === 0;

    beforeAll(async () => {
      server = await startServer(config(), { logger: createLogger('silent') });
      url = server.urls[0];
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
      await server?.close();
    });

    it('renaming, moving or deleting the parent of an entry hidden from the writer is refused by the rules, whatever lies below', async () => {
      const provisioning = await bound(PROVISIONING, PROVISIONING_PASSWORD);
      const admin = await bound('cn=cucm-sync,ou=accounts,dc=corp,dc=example', 'Cucm-Sync-Passw0rd!');
      expect(await failure(provisioning.search(PROTECTED, { scope: 'base' }))).toMatchObject({ code: 32 });
      // Any spelling of the parent; ldapmodrdn as well as ldapts.
      for (const parent of [USERS, USERS.toUpperCase(), `organizationalUnitName=Users,${AVVID}`]) {
        expect(await failure(provisioning.modifyDN(parent, `OU=People,${AVVID}`))).toMatchObject({ code: 50 });
        expect(await failure(provisioning.modifyDN(parent, `OU=Users,OU=Groups,${AVVID}`))).toMatchObject({ code: 50 });
        // Not notAllowedOnNonLeaf (66): that would say the hidden child exists.
        expect(await failure(provisioning.del(parent))).toMatchObject({ code: 50 });
      }
      const tool = await runLdapTool('ldapmodrdn', ['-x', '-H', url, '-D', PROVISIONING, '-w', PROVISIONING_PASSWORD, '-r', USERS, 'OU=People']);
      expect(tool.status, tool.stderr).toBe(50);
      expect(await exists(admin, PROTECTED)).toBe(true);
      expect(await failure(provisioning.search(PROTECTED, { scope: 'base' }))).toMatchObject({ code: 32 });

      // Where the rule protects nothing that exists, the answer is the same: it tells nothing. An
      // entry that does not exist is answered as missing (as one the rules hide would be).
      const users = await failure(provisioning.del(USERS));
      expect(await failure(provisioning.del(EMPTY))).toMatchObject({ code: 32 });
      await provisioning.add(EMPTY, { objectClass: ['top', 'organizationalUnit'], ou: 'Empty' });
      const empty = await failure(provisioning.del(EMPTY));
      expect(empty.code).toBe(50);
      expect(empty.message.replace(EMPTY, '<dn>')).toBe(users.message.replace(USERS, '<dn>'));
      // An entry may not leave a rule that withholds part of it from the writer; within the rule it renames.
      expect(await failure(provisioning.modifyDN(`CN=Sales,${GROUPS}`, `CN=Sales,OU=ServiceAccounts,${AVVID}`))).toMatchObject({ code: 50 });
      expect(await failure(provisioning.modifyDN(GROUPS, `OU=Teams,${AVVID}`))).toMatchObject({ code: 50 });
      await provisioning.modifyDN(`CN=Sales,${GROUPS}`, `CN=Sales Team,${GROUPS}`);
      expect(await exists(provisioning, `CN=Sales Team,${GROUPS}`)).toBe(true);
      // A parent with nothing withheld below renames, moves and deletes as before, its children along.
      await provisioning.add(`OU=Projects,${AVVID}`, { objectClass: ['top', 'organizationalUnit'], ou: 'Projects' });
      await provisioning.add(`OU=Sub,OU=Projects,${AVVID}`, { objectClass: ['top', 'organizationalUnit'], ou: 'Sub' });
      await provisioning.modifyDN(`OU=Projects,${AVVID}`, `OU=Works,${AVVID}`);
      await provisioning.modifyDN(`OU=Works,${AVVID}`, `OU=Works,OU=Groups,${AVVID}`);
      expect(await exists(provisioning, `OU=Sub,OU=Works,OU=Groups,${AVVID}`)).toBe(true);
      await provisioning.del(`OU=Sub,OU=Works,OU=Groups,${AVVID}`);
      await provisioning.del(`OU=Works,OU=Groups,${AVVID}`);
      expect(await exists(provisioning, `OU=Works,OU=Groups,${AVVID}`)).toBe(false);
    });

    it('an add or a rename onto another spelling of a hidden entry is never told "already exists"', async () => {
      const admin = await bound(ADMIN, PROVISIONING_PASSWORD);
      const provisioning = await bound(PROVISIONING, PROVISIONING_PASSWORD);
      const person = (cn: string, phone: string) => ({ objectClass: ['top', 'person', 'organizationalPerson'], cn, sn: 'Entry', telephoneNumber: phone });
      await admin.add(PHONE_NAMED, person('Phone Entry', '+1 408 555 0100'));
      const added: string[] = [];
      for (const spelled of ['+1-408-555-0100', '+14085550100']) {
        const dn = `telephoneNumber=\\${spelled},${USERS}`;
        const rename = await failure(provisioning.modifyDN(`CN=Elizabeth Green,${USERS}`, dn));
        if (rename.code === 0) await provisioning.modifyDN(dn, `CN=Elizabeth Green,${USERS}`);
        const add = await failure(provisioning.add(dn, person(`Other ${spelled}`, spelled)));
        // slapd names the hidden entry by it (32, as for any hidden DN); a memory forest, which compares
        // numbers as text, makes a new entry. Never 68, which would say the hidden entry exists.
        for (const answer of [add, rename]) expect([0, 32], `${dn}: ${answer.message}`).toContain(answer.code);
        if (add.code === 0) added.push(dn);
      }
      for (const dn of [...added, PHONE_NAMED]) await admin.del(dn);
      // A protected name nothing holds: created under another spelling (slapd takes İ for I), it would
      // be the protected entry; refused as the missing entry it is, as the plain spelling is.
      for (const name of ['CN=Iris Absent', 'CN=\u0130ris Absent', 'CN=Iris Abs\u00e9nt']) {
        expect(await failure(provisioning.add(`${name},${USERS}`, person(name.slice(3), '+1 408 555 0199'))), name).toMatchObject({ code: 32 });
      }
      // A name whose value the forest compares as a DN: slapd takes 2.5.4.3=BOSS for cn=boss.
      for (const value of ['cn\\=boss\\,dc\\=x', '2.5.4.3\\=BOSS\\,domainComponent\\=x']) {
        const entry = { ...person('Boss', '+1 408 555 0198'), seeAlso: 'cn=boss,dc=x' };
        expect(await failure(provisioning.add(`seeAlso=${value},${USERS}`, entry)), value).toMatchObject({ code: 32 });
      }
    });

    it('an entry below one the rules hide is hidden with it (its DN names it): searched, read, compared and written as a missing one', async () => {
      const admin = await bound(ADMIN, PROVISIONING_PASSWORD);
      const provisioning = await bound(PROVISIONING, PROVISIONING_PASSWORD);
      const child = `CN=ExchangeActiveSyncDevices,${PROTECTED}`;
      const absent = `CN=ExchangeActiveSyncDevices,CN=Nobody,${USERS}`;
      await admin.add(child, { objectClass: ['top', 'person'], cn: 'ExchangeActiveSyncDevices', sn: 'Devices' });
      try {
        expect(await exists(admin, child)).toBe(true);
        const { searchEntries } = await provisioning.search(USERS, { filter: '(cn=ExchangeActiveSyncDevices)', attributes: ['1.1'] });
        expect(searchEntries).toEqual([]);
        for (const spelled of [child, child.toLowerCase(), `commonName=ExchangeActiveSyncDevices,commonName=John Doe,${USERS}`]) {
          // Answered as the same name under a parent that does not exist (the message names the DN asked for).
          const read = await failure(provisioning.search(spelled, { scope: 'base', attributes: ['1.1'] }));
          const missing = await failure(provisioning.search(absent, { scope: 'base', attributes: ['1.1'] }));
          expect(read.code, `${spelled}: ${read.message}`).toBe(32);
          expect(read.message.replace(spelled, '…')).toBe(missing.message.replace(absent, '…'));
          expect(await failure(provisioning.compare(spelled, 'cn', 'ExchangeActiveSyncDevices')), spelled).toMatchObject({ code: 32 });
          const change = new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: ['x'] }) });
          expect(await failure(provisioning.modify(spelled, change)), spelled).toMatchObject({ code: 32 });
        }
        // A parent spelled so that only the forest knows what it names (a BER hex value): the hidden
        // entry's child answers as a missing entry's child does, naming no DN the client spelled.
        const hex = (value: string) => `#04${Buffer.byteLength(value).toString(16).padStart(2, '0')}${Buffer.from(value).toString('hex')}`;
        const below = async (parent: string) => {
          const base = `CN=E,CN=${hex(parent)},${USERS}`;
          const r = await runLdapTool('ldapsearch', ['-x', '-o', 'ldif-wrap=no', '-H', url, '-D', PROVISIONING, '-w', PROVISIONING_PASSWORD, '-b', base, '-s', 'base', '(objectClass=*)', '1.1']);
          return { status: r.status, out: (r.stdout + r.stderr).replaceAll(base, 'BASE') };
        };
        const hidden = await below('John Doe');
        expect(hidden.status).not.toBe(0);
        expect(hidden).toEqual(await below('Zqx Nobody'));
        expect(hidden.out).not.toMatch(/#04/);
      } finally {
        await admin.del(child);
      }
    });

    it('a forest user writing as itself may not move or delete what the rules hide from it, nor learn that a hidden DN exists', async () => {
      const user = await bound('egreen@avvid.info', USER_PASSWORD);
      for (const parent of [USERS, `ou=users,${AVVID}`]) {
        expect(await failure(user.modifyDN(parent, `OU=People,${AVVID}`))).toMatchObject({ code: 50, message: expect.stringMatching(BY_THE_RULES) as unknown });
        expect(await failure(user.del(parent))).toMatchObject({ code: 50, message: expect.stringMatching(BY_THE_RULES) as unknown });
      }
      // Renaming onto the hidden entry's DN is answered as a missing entry, like one that does not exist under a hiding rule.
      const onto = await failure(user.modifyDN(EGREEN, PROTECTED));
      expect(onto.code).toBe(32);
      // Elsewhere the forest decides (it refuses another user's entry): not Canopy's rules.
      const elsewhere = await failure(user.modifyDN(`OU=Groups,${AVVID}`, `OU=Teams,${AVVID}`));
      expect(elsewhere.message).not.toMatch(BY_THE_RULES);
    });

    it('a write the forest refuses evicts no kept result, even abandoned at once or cut off by a disconnect', async () => {
      const sync = await bound('cn=cucm-sync,ou=accounts,dc=corp,dc=example', 'Cucm-Sync-Passw0rd!');
      const lookup = () => sync.search(AVVID, { filter: '(sAMAccountName=jdoe)', attributes: ['cn'] });
      await lookup();
      const evictions = await metricValue(metrics.cacheEvictions, { reason: 'write' });
      const hits = await metricValue(metrics.cacheHits);
      // Elizabeth writes as herself: her forest lets her change her own entry only.
      const modify = (dn: string) => berTlv(0x66, berOctets(dn), berTlv(0x30, berTlv(0x30, berInt(2, 0x0a), berTlv(0x30, berOctets('description'), berTlv(0x31, berOctets('x'))))));
      const raw = await RawLdapClient.connect(url);
      expect((await raw.bind(EGREEN, USER_PASSWORD)).code).toBe(0);
      // Abandoned while its forest cannot answer yet (on slapd: stopped), then cut off by the disconnect.
      await frozen(async () => {
        raw.abandon(raw.send(modify(`OU=ServiceAccounts,${AVVID}`)));
        await new Promise((resolve) => setTimeout(resolve, 200));
      });
      expect((await raw.request(modify(`OU=Computers,${AVVID}`))).code).toBe(50);
      raw.send(modify(`OU=ServiceAccounts,${AVVID}`));
      raw.close();
      await new Promise((resolve) => setTimeout(resolve, 300)); // the writes run to their refusals
      expect(await metricValue(metrics.cacheEvictions, { reason: 'write' })).toBe(evictions);
      await lookup();
      expect(await metricValue(metrics.cacheHits)).toBe(hits + 1);
    });

    if (stopped) {
      it('logins that ended with a write under way against a stopped forest are a few at most: further writes of that login are refused busy', async () => {
        const modify = (dn: string) => berTlv(0x66, berOctets(dn), berTlv(0x30, berTlv(0x30, berInt(2, 0x0a), berTlv(0x30, berOctets('description'), berTlv(0x31, berOctets('y'))))));
        const sessions = await Promise.all(
          Array.from({ length: 6 }, async () => {
            const raw = await RawLdapClient.connect(url);
            expect((await raw.bind(EGREEN, USER_PASSWORD)).code).toBe(0);
            return raw;
          }),
        );
        let last: { code: number; message: string } | undefined;
        await frozen(async () => {
          // Four logins each leave a write under way (their upstream connection cannot even bind now).
          for (const raw of sessions.slice(0, 4)) {
            raw.send(modify(EGREEN));
            await new Promise((resolve) => setTimeout(resolve, 50));
            raw.close();
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
          last = await sessions[4].request(modify(EGREEN));
        });
        expect(last).toMatchObject({ code: 51, message: expect.stringContaining('earlier writes of this login are still under way') as unknown });
        // Once the forest answers, they end, and the login's writes reach it again (it refuses this one itself: 50).
        await expect.poll(async () => (await sessions[5].request(modify(EGREEN))).code, { timeout: 10_000 }).toBe(50);
        for (const raw of sessions.slice(4)) raw.close();
      });
    }

    it('a forest hiding userPassword has no password reset, while users still change their own', async () => {
      const provisioning = await bound(PROVISIONING, PROVISIONING_PASSWORD);
      const reset = await failure(provisioning.exop(PASSWORD_MODIFY, passwordModifyValue({ user: EGREEN, new: 'Reset-Passw0rd!1' })));
      expect(reset).toMatchObject({ code: 50, message: expect.stringContaining('hides userPassword') as unknown });
      expect(await failure(bound(EGREEN, 'Reset-Passw0rd!1'))).toMatchObject({ code: 49 });
      const tool = await runLdapTool('ldappasswd', ['-x', '-H', url, '-D', EGREEN, '-w', USER_PASSWORD, '-a', USER_PASSWORD, '-s', 'Own-Passw0rd!2']);
      expect(tool.status, tool.stderr).toBe(0);
      await bound('egreen@avvid.info', 'Own-Passw0rd!2');
    });
  });
}

describe('writes beyond one entry: a memory forest', () => {
  let config: LoadedConfig;
  beforeAll(async () => {
    config = await configWith(avvidForest());
  });
  describeSuite('through canopy', () => config);
});

describe('writes beyond one entry: an ldap forest over slapd', () => {
  let slapd: Slapd;
  let config: LoadedConfig;
  beforeAll(async () => {
    const forest = avvidForest();
    if (forest.backend !== 'memory') throw new Error('the default forests are memory forests');
    const service = serviceDn(forest.base);
    // As a directory lets users change their own password, and the service account write.
    const acl = [
      `access to attrs=userPassword by self write by dn.exact="${service}" write by anonymous auth by * none`,
      `access to * by dn.exact="${service}" write by * read`,
    ].join('\n');
    slapd = await startSlapd({ suffix: forest.base, ldif: forest.ldif, extraConfig: acl });
    const { name, mount, upnSuffixes, netbiosName, attributes } = forest;
    config = await configWith(ldapForestConfig(forest.base, [slapd.url], { name, mount, upnSuffixes, netbiosName, attributes }));
  });
  afterAll(() => slapd?.stop());
  const frozen = async (work: () => Promise<void>) => {
    process.kill(slapd.pid!, 'SIGSTOP');
    try {
      await work();
    } finally {
      process.kill(slapd.pid!, 'SIGCONT');
    }
  };
  describeSuite('through canopy', () => config, frozen);
});
