import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessSchema } from '../../src/config/auth-schema.js';
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import type { Slapd } from '../support/slapd.js';
import { slapdForestsLike } from './ldap-helpers.js';

// Issue 15, classes 1 and 3: what `attributes.hide` hides and what an access rule protects is
// decided by attribute TYPE and canonical DN, whatever spells them (name, alias, OID, case,
// options), on memory forests and on slapd forests alike, through OpenLDAP's own clients.

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
const defaults = loadConfigFile(DEFAULT_CONFIG, { ...process.env, CANOPY_HOST: '127.0.0.1', CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0', CANOPY_LOG_LEVEL: 'silent' });
const SYNC = 'cn=cucm-sync,ou=accounts,dc=corp,dc=example';
const SYNC_PASSWORD = 'Cucm-Sync-Passw0rd!';
const AVVID = 'ou=avvid,dc=corp,dc=example';
const USERS = `OU=Users,${AVVID}`;
const PROTECTED = `CN=Elizabeth Green,${USERS}`;
const JOHN = `CN=John Doe,${USERS}`;

const HIDE = ['userPassword', 'unicodePwd', 'homePhone', 'employeeNumber'];
/** The sync account may not touch Elizabeth Green at all; otherwise the default's rules. */
const access = accessSchema.parse([{ who: SYNC, what: { dn: PROTECTED, scope: 'base' }, allow: 'none' }, ...defaults.access!]);
const withHiding = (forests: LoadedConfig['forests']): LoadedConfig['forests'] =>
  forests.map((f) => ({ ...f, attributes: { ...f.attributes, hide: HIDE } }));

/** Spellings of Elizabeth Green's and John Doe's DNs: names, aliases, OIDs, case. */
const spellings = (cn: string): string[] => [
  `commonName=${cn},${USERS}`,
  `2.5.4.3=${cn},${USERS}`,
  `CN=${cn},organizationalUnitName=Users,${AVVID}`,
  `COMMONNAME=${cn},2.5.4.11=users,OU=AVVID,domainComponent=corp,0.9.2342.19200300.100.1.25=example`,
];

/** Filters that would read a hidden value out, by OID, alias, case and option. */
const PROBES = [
  '(2.5.4.35=Passw*)',
  '(2.5.4.35=Passw0rd!)',
  '(2.5.4.35=*)',
  '(USERPASSWORD=*)',
  '(userPassword;binary=Passw0rd!)',
  '(0.9.2342.19200300.100.1.20=*)',
  '(homeTelephoneNumber=+1 617*)',
  '(HOMEPHONE=+1 617 555 0124)',
  '(2.16.840.1.113730.3.1.3=100002)',
  '(employeeNumber>=0)',
  // An OID Canopy does not know could name any of them: never passed to a forest that hides anything.
  '(1.2.3.4.5=*)',
  '(2.5.4.035=*)',
];

/** Runs `f` over `items` four at a time: the clients are processes, and the machine may be busy. */
async function fewAtATime<T, R>(items: readonly T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 4) out.push(...(await Promise.all(items.slice(i, i + 4).map(f))));
  return out;
}

function describeTypes(title: string, config: () => LoadedConfig) {
  describe(title, () => {
    let server: RunningServer;
    let url: string;
    const raw: string[] = [];

    const ldap = (tool: string, args: string[], input?: string) =>
      runLdapTool(tool, ['-x', '-H', url, '-D', SYNC, '-w', SYNC_PASSWORD, ...args], input);
    const search = async (base: string, filter: string, attributes: string[] = ['1.1'], scope = 'sub') => {
      const r = await ldap('ldapsearch', ['-LLL', '-o', 'ldif-wrap=no', '-b', base, '-s', scope, filter, ...attributes]);
      const entries = r.stdout.split('\n\n').filter((b) => /^dn:/m.test(b));
      return { status: r.status, entries, text: r.stdout };
    };
    const modify = (dn: string, attribute: string, value: string) =>
      ldap('ldapmodify', [], `dn: ${dn}\nchangetype: modify\nreplace: ${attribute}\n${attribute}: ${value}\n-\n`);
    const compare = (dn: string, assertion: string) => ldap('ldapcompare', [dn, assertion]);

    beforeAll(async () => {
      const capture = new PassThrough();
      capture.on('data', (chunk: Buffer) => raw.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
      server = await startServer(config(), { logger: createLogger('debug', capture) });
      url = server.urls[0];
    });
    afterAll(async () => {
      await server?.close();
    });

    it('finds the user by every spelling of a visible type (the probes below are not empty by accident)', async () => {
      for (const filter of ['(cn=John Doe)', '(2.5.4.3=john doe)', '(commonName=John*)', '(mobileTelephoneNumber=+1 512*)', '(0.9.2342.19200300.100.1.41=*)']) {
        const r = await search(USERS, `(&(sAMAccountName=jdoe)${filter})`);
        expect({ filter, status: r.status, n: r.entries.length }).toEqual({ filter, status: 0, n: 1 });
      }
    }, 120_000);

    it('a hidden attribute matches no filter, whatever spells it', async () => {
      const filters = PROBES.flatMap((probe) => [probe, `(&(sAMAccountName=jdoe)${probe})`, `(|(sAMAccountName=nobody)${probe})`]);
      const results = await fewAtATime(filters, async (filter) => {
        const r = await search(AVVID, filter);
        return { filter, status: r.status, n: r.entries.length };
      });
      expect(results).toEqual(filters.map((filter) => ({ filter, status: 0, n: 0 })));
    }, 120_000);

    it('a hidden attribute never comes back, asked for by any spelling', async () => {
      const asked = ['2.5.4.35', 'USERPASSWORD', 'userPassword;binary', 'homeTelephoneNumber', '0.9.2342.19200300.100.1.20', '2.16.840.1.113730.3.1.3', '1.2.3.4.5', '2.5.4.3'];
      for (const attributes of [asked, ['*', ...asked], ['*', '+']]) {
        const r = await search(JOHN, '(objectClass=*)', attributes, 'base');
        expect({ attributes, status: r.status, n: r.entries.length }).toEqual({ attributes, status: 0, n: 1 });
        expect(r.text).toMatch(/^cn: John Doe$/m);
        expect(r.text).not.toMatch(/^(userPassword|homePhone|employeeNumber|2\.5\.4\.35|0\.9\.2342|2\.16\.840|1\.2\.3\.4)/im);
        for (const value of [USER_PASSWORD, '617 555 0124', '100002']) expect(r.text).not.toContain(value);
      }
    }, 120_000);

    it('compare on a hidden attribute is refused by every spelling, never TRUE', async () => {
      for (const assertion of [`2.5.4.35:${USER_PASSWORD}`, `userPassword;binary:${USER_PASSWORD}`, 'homeTelephoneNumber:+1 617 555 0124', '0.9.2342.19200300.100.1.20:+1 617 555 0124', 'EMPLOYEENUMBER:100002']) {
        const r = await compare(JOHN, assertion);
        expect({ assertion, status: r.status }).toEqual({ assertion, status: 53 });
      }
      // A visible type compares by any spelling (ldapcompare exits 6 for TRUE).
      expect((await compare(JOHN, '2.5.4.3:john doe')).status).toBe(6);
    }, 120_000);

    it('a write naming a hidden or forbidden type by an alias or OID is refused; allowed types by alias or OID are written', async () => {
      for (const [attribute, value] of [['homeTelephoneNumber', '+1 999'], ['2.5.4.35', 'Stolen-1'], ['USERPASSWORD', 'Stolen-2'], ['2.16.840.1.113730.3.1.3', '1'], ['2.5.4.12', 'Boss']]) {
        const r = await modify(JOHN, attribute, value);
        expect({ attribute, status: r.status }).toEqual({ attribute, status: 50 });
      }
      // The sync account may write telephoneNumber and mobile: by OID and by alias too.
      expect((await modify(JOHN, '2.5.4.20', '+1 312 555 0000')).status).toBe(0);
      expect((await modify(JOHN, 'mobileTelephoneNumber', '+1 512 555 0000')).status).toBe(0);
      const r = await search(JOHN, '(objectClass=*)', ['telephoneNumber', 'mobile'], 'base');
      expect(r.text).toMatch(/^telephoneNumber: \+1 312 555 0000$/m);
      expect(r.text).toMatch(/^mobile: \+1 512 555 0000$/m);
    }, 120_000);

    it('an access rule on one entry holds for every spelling of its DN', async () => {
      const dns = [PROTECTED, ...spellings('Elizabeth Green')];
      const outcomes = await fewAtATime(dns, async (dn) => ({
        dn,
        modify: (await modify(dn, 'telephoneNumber', '+1 000')).status,
        compare: (await compare(dn, 'cn:Elizabeth Green')).status,
        delete: (await ldap('ldapdelete', [dn])).status,
        search: (await search(dn, '(objectClass=*)', ['1.1'], 'base')).status,
      }));
      // noSuchObject: a refusal does not tell the entry exists.
      expect(outcomes).toEqual(dns.map((dn) => ({ dn, modify: 32, compare: 32, delete: 32, search: 32 })));
      // Below the mount by any spelling, the entry is not in a subtree search either.
      const users = await search(`organizationalUnitName=Users,${AVVID}`, '(2.5.4.3=Elizabeth*)');
      expect(users.entries).toHaveLength(0);
      // The same spellings of another user's DN reach it: the refusal is the rule's, not the spelling's.
      const john = await fewAtATime(spellings('John Doe'), async (dn) => ({
        dn,
        compare: (await compare(dn, 'sAMAccountName:jdoe')).status,
        modify: (await modify(dn, 'ipPhone', '2001')).status,
      }));
      expect(john).toEqual(spellings('John Doe').map((dn) => ({ dn, compare: 6, modify: 0 })));
    }, 120_000);

    it('a user binds by any spelling of its DN', async () => {
      for (const dn of spellings('John Doe')) {
        const r = await runLdapTool('ldapwhoami', ['-x', '-H', url, '-D', dn, '-w', USER_PASSWORD]);
        expect({ dn, status: r.status }).toEqual({ dn, status: 0 });
      }
    }, 120_000);

    it('the access log shows no credential value in a filter, whatever spells the attribute', async () => {
      for (const filter of ['(2.5.4.35=Tr0ub4dor*)', '(userPassword;binary=Tr0ub4dor)', '(|(cn=x)(1.2.840.113556.1.4.90=Tr0ub4dor))', '(:2.5.13.5:=Tr0ub4dor)', '(msLAPS-Password=Tr0ub4dor)']) {
        await search(AVVID, filter);
      }
      const searches = raw.filter((l) => l.includes('"op":"search"'));
      expect(searches.length).toBeGreaterThan(5);
      expect(raw.filter((l) => l.includes('Tr0ub4dor'))).toEqual([]);
      expect(raw.filter((l) => l.includes(USER_PASSWORD) || l.includes(SYNC_PASSWORD))).toEqual([]);
    }, 120_000);
  });
}

describeTypes('attribute types and DN spellings: memory forests', () => ({ ...defaults, forests: withHiding(defaults.forests), access }));

describe('attribute types and DN spellings: ldap forests over slapd', () => {
  const slapds: Slapd[] = [];
  let config: LoadedConfig;
  beforeAll(async () => {
    const forests = await slapdForestsLike(defaults, slapds, (attributes) => ({ ...attributes, hide: HIDE }));
    config = { ...defaults, forests, access };
  });
  afterAll(() => Promise.all(slapds.map((s) => s.stop())));
  describeTypes('through canopy', () => config);
});
