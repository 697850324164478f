import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { accessSchema } from '../../src/config/auth-schema.js';
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js';
import type { ForestConfig } from '../../src/config/schema.js';
import { Dn } from '../../src/core/dn.js';
import type { Entry } from '../../src/core/entry.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { ldapForestConfig } from './ldap-helpers.js';

// RFC 4511 §4.5.1.7 through the whole stack, with real clients: an assertion the identity may not
// make (an attribute it may not read, one its forest hides, an extensible match naming no
// attribute where some are hidden) is Undefined, and NOT of Undefined is Undefined, so neither
// it nor its negation returns an entry. Over the default configuration's two forests, where avvid
// hides userPassword and homePhone and vse hides nothing (there the access rules alone decide),
// served by the memory backend and by slapd alike.

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
const env = { ...process.env, CANOPY_HOST: '127.0.0.1', CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0', CANOPY_LOG_LEVEL: 'silent' };
const defaults = loadConfigFile(DEFAULT_CONFIG, env);
const SUFFIX = 'dc=corp,dc=example';
const AVVID = `ou=avvid,${SUFFIX}`;
const VSE = `ou=vse,${SUFFIX}`;
const SYNC = 'cn=cucm-sync,ou=accounts,dc=corp,dc=example';
const SYNC_PASSWORD = 'Cucm-Sync-Passw0rd!';
/** An application's service account that may read the phone directory's attributes only. */
const PHONEBOOK = 'cn=phonebook,ou=accounts,dc=corp,dc=example';
const PHONEBOOK_PASSWORD = 'Phone-Book-Passw0rd!';
/** A help desk account: every attribute but a few, everywhere but one user's entry. */
const HELPDESK = 'cn=helpdesk,ou=accounts,dc=corp,dc=example';
const HELPDESK_PASSWORD = 'Help-Desk-Passw0rd!';
const WITHHELD = ['homePhone', 'employeeNumber', 'userAccountControl', 'title'];
const PHONE_DIRECTORY = ['objectClass', 'cn', 'displayName', 'sn', 'mail', 'telephoneNumber', 'ipPhone', 'mobile', 'title', 'department', 'sAMAccountName'];
const HIDE: Record<string, string[]> = { avvid: ['userPassword', 'homePhone', 'unicodePwd'], vse: [] };
/** Cisco Unified CM's directory sync filter. */
const CISCO = '(&(objectclass=user)(!(objectclass=Computer))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))';

function fixture(name: string): { forest: ForestConfig; entries: Entry[]; virtual: (e: Entry) => string } {
  const forest = defaults.forests.find((f) => f.name === name)!;
  if (forest.backend !== 'memory') throw new Error('the default forests are memory forests');
  const entries = parseLdif(readFileSync(forest.ldif[0], 'utf8'), forest.ldif[0]).map((r) => r.entry);
  const virtual = (e: Entry) => e.dn.rebase(Dn.parse(forest.base), Dn.parse(forest.mount!)).key;
  return { forest: { ...forest, attributes: { ...forest.attributes, hide: HIDE[name] } }, entries, virtual };
}
const avvid = fixture('avvid');
const vse = fixture('vse');
const value = (e: Entry, name: string): string => String(e.get(name)!.values[0]);
const disabled = new Set([avvid, vse].flatMap((f) => f.entries.filter((e) => e.get('userAccountControl')?.values[0] === '514').map(f.virtual)));
/** A person's home phone in each forest: hidden by avvid; readable in vse, but not by the phone book. */
const avvidHomePhone = value(avvid.entries.find((e) => e.has('homePhone'))!, 'homePhone');
const vseHomeOwner = vse.entries.find((e) => e.has('homePhone'))!;
const vseHomePhone = value(vseHomeOwner, 'homePhone');
/** Password guesses by octetStringMatch, naming no attribute; the right one among them. */
const guesses = (rule: string) =>
  `(|${Array.from({ length: 200 }, (_, i) => `(:${rule}:=${i === 137 ? USER_PASSWORD : `Guess-${i}!`})`).join('')})`;

async function configWith(forests: ForestConfig[]): Promise<LoadedConfig> {
  return {
    ...defaults,
    forests,
    accounts: [
      ...defaults.accounts,
      { dn: PHONEBOOK, passwordHash: await hashPassword(PHONEBOOK_PASSWORD) },
      { dn: HELPDESK, passwordHash: await hashPassword(HELPDESK_PASSWORD) },
    ],
    access: accessSchema.parse([
      { who: PHONEBOOK, what: { dn: SUFFIX, attributes: PHONE_DIRECTORY }, allow: 'read' },
      { who: HELPDESK, what: { dn: SUFFIX, attributes: WITHHELD }, allow: 'none' },
      { who: HELPDESK, what: { dn: `CN=John Doe,OU=Users,${VSE}`, scope: 'base' }, allow: 'none' },
      { who: HELPDESK, what: { dn: SUFFIX }, allow: 'read' },
      ...defaults.access!,
    ]),
  };
}

function describeSuite(title: string, config: () => LoadedConfig) {
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
    let sync: Client;
    let phonebook: Client;
    /** DN keys an ldapts search returns. */
    const found = async (c: Client, base: string, filter: string): Promise<string[]> =>
      (await c.search(base, { filter, attributes: ['1.1'] })).searchEntries.map((e) => Dn.parse(e.dn).key).sort();
    /** DN keys ldapsearch returns (its exit status is the result code). */
    const ldapsearch = async (who: string, password: string, base: string, filter: string): Promise<string[]> => {
      const r = await runLdapTool('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', url, '-D', who, '-w', password, '-b', base, filter, '1.1']);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split('\n').filter((l) => l.startsWith('dn: ')).map((l) => Dn.parse(l.slice(4)).key).sort();
    };

    beforeAll(async () => {
      server = await startServer(config(), { logger: createLogger('silent') });
      url = server.urls[0];
      sync = await bound(SYNC, SYNC_PASSWORD);
      phonebook = await bound(PHONEBOOK, PHONEBOOK_PASSWORD);
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
      await server?.close();
    });

    it("Cisco's sync filter returns no disabled user to an account that may not read userAccountControl", async () => {
      // The sync account reads userAccountControl: enabled users only (the filter works).
      const all = await found(sync, SUFFIX, CISCO);
      expect(all.length).toBeGreaterThan(100);
      expect(all.filter((dn) => disabled.has(dn))).toEqual([]);
      expect(disabled.size).toBeGreaterThan(4);
      // The phone book may not: the assertion is Undefined and so is its negation.
      expect(await found(phonebook, SUFFIX, CISCO)).toEqual([]);
      expect(await ldapsearch(PHONEBOOK, PHONEBOOK_PASSWORD, SUFFIX, CISCO)).toEqual([]);
      expect(await found(phonebook, SUFFIX, '(&(objectClass=user)(!(objectClass=computer)))')).toEqual(all.concat([...disabled]).sort());
    });

    it('NOT, AND and OR around attributes the identity may not read', async () => {
      const jdoes = await found(sync, SUFFIX, '(sAMAccountName=jdoe)');
      expect(jdoes).toHaveLength(2);
      // employeeNumber: the sync account reads it, the phone book does not.
      expect(await found(sync, SUFFIX, '(&(sAMAccountName=jdoe)(!(employeeNumber=1)))')).toEqual(jdoes);
      expect(await found(phonebook, SUFFIX, '(&(sAMAccountName=jdoe)(!(employeeNumber=1)))')).toEqual([]);
      expect(await found(phonebook, SUFFIX, '(&(sAMAccountName=jdoe)(!(!(employeeNumber=*))))')).toEqual([]);
      expect(await found(phonebook, SUFFIX, '(&(sAMAccountName=jdoe)(employeeNumber=*))')).toEqual([]);
      expect(await found(phonebook, SUFFIX, '(!(|(employeeNumber=*)(sAMAccountName=jdoe)))')).toEqual([]);
      expect(await found(phonebook, SUFFIX, '(|(sAMAccountName=jdoe)(employeeNumber=*))')).toEqual(jdoes);
      // FALSE AND Undefined is FALSE: its negation holds.
      expect(await found(phonebook, SUFFIX, '(&(sAMAccountName=jdoe)(!(&(employeeNumber=*)(sAMAccountName=nobody))))')).toEqual(jdoes);
      expect(await ldapsearch(PHONEBOOK, PHONEBOOK_PASSWORD, SUFFIX, '(&(sAMAccountName=jdoe)(!(manager=cn=nobody)))')).toEqual([]);
    });

    it('attributes a forest hides are Undefined for every identity', async () => {
      const jdoes = await found(sync, SUFFIX, '(sAMAccountName=jdoe)');
      const vseJdoe = jdoes.filter((dn) => Dn.parse(dn).isWithin(Dn.parse(VSE)));
      expect(vseJdoe).toHaveLength(1);
      // avvid hides homePhone and userPassword, vse does not.
      expect(await found(sync, SUFFIX, '(&(sAMAccountName=jdoe)(!(homePhone=x)))')).toEqual(vseJdoe);
      expect(await found(sync, SUFFIX, '(&(sAMAccountName=jdoe)(!(userPassword=wrong)))')).toEqual(vseJdoe);
      expect(await found(sync, SUFFIX, `(&(sAMAccountName=jdoe)(!(homePhone=${avvidHomePhone})))`)).toEqual(vseJdoe);
      expect(await found(sync, SUFFIX, `(|(sAMAccountName=jdoe)(homePhone=${avvidHomePhone}))`)).toEqual(jdoes);
      expect(await found(sync, AVVID, `(homePhone=${avvidHomePhone})`)).toEqual([]);
      expect(await found(sync, AVVID, '(!(homePhone=*))')).toEqual([]);
      expect(await ldapsearch(SYNC, SYNC_PASSWORD, AVVID, '(!(userPassword=*))')).toEqual([]);
    });

    it('an OR of password guesses by extensible matches naming no attribute finds no one where passwords may not be read', async () => {
      // ldapsearch once per identity (each binds anew: a local account's scrypt hash takes a while).
      expect(await ldapsearch(PHONEBOOK, PHONEBOOK_PASSWORD, SUFFIX, guesses('2.5.13.17'))).toEqual([]);
      expect(await ldapsearch(SYNC, SYNC_PASSWORD, AVVID, guesses('2.5.13.17'))).toEqual([]);
      for (const rule of ['2.5.13.17', 'octetStringMatch']) {
        // Where the sync account may read userPassword (vse hides nothing), the match works.
        expect((await found(sync, VSE, guesses(rule))).length).toBeGreaterThan(50);
        expect(await found(sync, AVVID, guesses(rule))).toEqual([]);
        expect(await found(phonebook, SUFFIX, guesses(rule))).toEqual([]);
        expect(await found(phonebook, SUFFIX, `(:${rule}:=${USER_PASSWORD})`)).toEqual([]);
      }
      // The guesses bound nothing either way: forest users still log in.
      await bound('VSE\\jdoe', USER_PASSWORD);
    });

    it('what a forest matched on never reads a withheld value out: OR-NOT, supertypes, computed attributes, unknown OIDs', async () => {
      const helpdesk = await bound(HELPDESK, HELPDESK_PASSWORD);
      // The forest decides the whole filter with every value; a leaf it may not search is Undefined
      // beforehand, so a right and a wrong guess of vse's home phone get the same answer.
      const answers = async (guess: string) => [
        await found(helpdesk, SUFFIX, `(|(homePhone=${guess}*)(!(canopyForest=vse)))`),
        await found(helpdesk, SUFFIX, `(&(objectClass=user)(|(homePhone=${guess}*)(!(objectCategory=person))))`),
        await found(helpdesk, SUFFIX, `(&(objectClass=user)(|(employeeNumber=1*)(!(createTimestamp=*))))`),
      ];
      expect(await answers(vseHomePhone.slice(0, 6))).toEqual(await answers('+1 999'));
      expect((await answers('+1 999'))[0].length).toBeGreaterThan(10);
      // title is withheld: (name=…) would test it (OpenLDAP matches subtypes), so it is Undefined; compare too.
      expect(await found(helpdesk, SUFFIX, '(&(sAMAccountName=jdoe)(name=Dir*))')).toEqual([]);
      expect(await found(helpdesk, SUFFIX, '(&(sAMAccountName=jdoe)(!(name=x)))')).toEqual([]);
      const titled = vse.virtual(vseHomeOwner);
      await expect(helpdesk.compare(titled, 'name', value(vseHomeOwner, 'title'))).rejects.toMatchObject({ code: 50 });
      // msDS-UserAccountDisabled shows userAccountControl's bit: withheld with it.
      expect((await found(sync, SUFFIX, '(msDS-UserAccountDisabled=TRUE)')).length).toBe(disabled.size);
      expect(await found(helpdesk, SUFFIX, '(msDS-UserAccountDisabled=TRUE)')).toEqual([]);
      expect(await found(helpdesk, SUFFIX, '(&(objectClass=user)(!(msDS-UserAccountDisabled=FALSE)))')).toEqual([]);
      const [entry] = (await helpdesk.search(titled, { scope: 'base', attributes: ['*', 'msDS-UserAccountDisabled'] })).searchEntries;
      const valuesOf = (name: string) => [entry[name] ?? []].flat();
      expect([valuesOf('msDS-UserAccountDisabled'), valuesOf('userAccountControl')]).toEqual([[], []]);
      // An OID Canopy does not know may be a withheld type's: Undefined, NOT or not (ldapsearch sends it as typed).
      for (const filter of ['(&(sAMAccountName=jdoe)(!(1.3.6.1.4.1.99999.9.9=x)))', '(&(sAMAccountName=jdoe)(1.3.6.1.4.1.99999.9.9=*))']) {
        expect(await ldapsearch(HELPDESK, HELPDESK_PASSWORD, SUFFIX, filter)).toEqual([]);
      }
    });

    it('an entry hidden from an identity and one that does not exist get the same answer, whatever the spelling', async () => {
      const helpdesk = await bound(HELPDESK, HELPDESK_PASSWORD);
      const answer = async (dn: string) => {
        const r = await runLdapTool('ldapsearch', ['-x', '-LLL', '-H', url, '-D', HELPDESK, '-w', HELPDESK_PASSWORD, '-b', dn, '-s', 'base', '1.1']);
        return [r.status, /Matched DN: (.*)/.exec(r.stderr + r.stdout)?.[1]?.trim()];
      };
      // matchedDN: the deepest entry above that the identity may see, spelled as the client spelled it.
      const hidden = await answer(`CN=John Doe,OU=Users,${VSE}`);
      expect(hidden).toEqual([32, `OU=Users,${VSE}`]);
      expect(await answer(`CN=Nobody Here,OU=Users,${VSE}`)).toEqual(hidden);
      expect(await answer(`CN=Nobody,OU=Nowhere,${VSE}`)).toEqual([32, VSE]);
      // Full width, a soft hyphen, another case: the same hidden entry.
      for (const spelled of [`CN=\uff2aohn Doe,OU=Users,${VSE}`, `CN=Jo\u00adhn Doe,OU=Users,${VSE}`, `cn=JOHN DOE,OU=Users,${VSE}`]) {
        expect(await answer(spelled), spelled).toEqual(hidden);
        await expect(helpdesk.compare(spelled, 'cn', 'John Doe'), spelled).rejects.toMatchObject({ code: 32 });
      }
    });

    it('no extensible match naming no attribute tests a hidden phone number, by any rule, OID or name', async () => {
      expect(await found(sync, VSE, `(:caseIgnoreMatch:=${vseHomePhone})`)).toContain(vse.virtual(vseHomeOwner));
      for (const rule of ['caseIgnoreMatch', '2.5.13.2', 'CASEIGNOREMATCH']) {
        expect(await found(phonebook, SUFFIX, `(:${rule}:=${vseHomePhone})`)).toEqual([]);
        expect(await found(phonebook, SUFFIX, `(:dn:${rule}:=${vseHomePhone})`)).toEqual([]);
        expect(await found(sync, AVVID, `(:${rule}:=${avvidHomePhone})`)).toEqual([]);
        expect(await found(sync, AVVID, `(!(:${rule}:=${avvidHomePhone}))`)).toEqual([]);
      }
      // Even on attributes the phone book may read: it may not read them all, so the match is Undefined.
      expect(await found(phonebook, SUFFIX, '(:caseIgnoreMatch:=John Doe)')).toEqual([]);
      // AD's bit rule naming no attribute: neither it nor its negation.
      for (const filter of ['(:1.2.840.113556.1.4.803:=2)', '(!(:1.2.840.113556.1.4.803:=2))', '(:integerBitAndMatch:=2)']) {
        expect(await found(phonebook, SUFFIX, filter)).toEqual([]);
        expect(await found(sync, AVVID, filter)).toEqual([]);
      }
      expect((await found(sync, VSE, '(:1.2.840.113556.1.4.803:=2)')).length).toBeGreaterThan(0);
    });
  });
}

describe('Undefined filter items: memory forests', () => {
  let config: LoadedConfig;
  beforeAll(async () => {
    config = await configWith([avvid.forest, vse.forest]);
  });
  describeSuite('through canopy', () => config);
});

describe('Undefined filter items: ldap forests over slapd', () => {
  const slapds: Slapd[] = [];
  let config: LoadedConfig;
  beforeAll(async () => {
    const forests = await Promise.all(
      [avvid.forest, vse.forest].map(async (f) => {
        if (f.backend !== 'memory') throw new Error('the default forests are memory forests');
        const slapd = await startSlapd({ suffix: f.base, ldif: f.ldif });
        slapds.push(slapd);
        const { name, mount, upnSuffixes, netbiosName, attributes, priority } = f;
        return ldapForestConfig(f.base, [slapd.url], { name, mount, upnSuffixes, netbiosName, attributes, priority });
      }),
    );
    config = await configWith(forests);
  });
  afterAll(() => Promise.all(slapds.map((s) => s.stop())));
  describeSuite('through canopy', () => config);
});
