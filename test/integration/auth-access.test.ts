import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Attribute, Change, Client, InvalidCredentialsError, type Entry as LdaptsEntry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js';
import { accessSchema, securitySchema } from '../../src/config/auth-schema.js';
import { Dn } from '../../src/core/dn.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import type { Slapd } from '../support/slapd.js';
import { slapdForestsLike } from './ldap-helpers.js';

// Logins and access rules through the whole stack, over the default configuration's two forests,
// served by the memory backend and by slapd alike.

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
const defaults = loadConfigFile(DEFAULT_CONFIG, { ...process.env, CANOPY_HOST: '127.0.0.1', CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0', CANOPY_LOG_LEVEL: 'silent' });
const SYNC = 'cn=cucm-sync,ou=accounts,dc=corp,dc=example';
const SYNC_PASSWORD = 'Cucm-Sync-Passw0rd!';
const WRONG = 'Not-The-Passw0rd!';
const SUFFIX = 'dc=corp,dc=example';
const GROUPS = 'OU=Groups,ou=avvid,dc=corp,dc=example';

/** The default's rules, with a refusal before the `authenticated` one: logged-in users do not see avvid's groups. */
const access = accessSchema.parse([...defaults.access!.slice(0, 2), { who: 'authenticated', what: { dn: GROUPS }, allow: 'none' }, ...defaults.access!.slice(2)]);
/** Tight enough for a test: slowed after 2 failures, refused after 4 per name. */
const security = securitySchema.parse({ throttle: { windowSeconds: 60, slowAfter: 2, delayMs: 300, maxFailuresPerAccount: 4, maxFailuresPerAddress: 40 } });

const forestOf = (name: string) => {
  const f = defaults.forests.find((x) => x.name === name)!;
  if (f.backend !== 'memory') throw new Error('the default forests are memory forests');
  return { config: f, entries: parseLdif(readFileSync(f.ldif[0], 'utf8'), f.ldif[0]).map((r) => r.entry) };
};
const virtualDn = (name: string, dn: Dn): string => {
  const f = forestOf(name).config;
  return dn.rebase(Dn.parse(f.base), Dn.parse(f.mount!)).text;
};
const disabledUser = (() => {
  const e = forestOf('avvid').entries.find((x) => x.get('userAccountControl')?.values[0] === '514' && x.has('userPassword'))!;
  return virtualDn('avvid', e.dn);
})();

const attr = (e: LdaptsEntry, name: string): unknown[] => {
  const key = Object.keys(e).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined) return [];
  const v = e[key];
  return Array.isArray(v) ? v : [v];
};

function describeAuthSuite(title: string, config: () => LoadedConfig) {
  describe(title, () => {
    let server: RunningServer;
    let url: string;
    const raw: string[] = [];
    const clients: Client[] = [];
    const client = (): Client => {
      const c = new Client({ url, timeout: 10_000 });
      clients.push(c);
      return c;
    };
    const bound = async (name: string, password: string): Promise<Client> => {
      const c = client();
      await c.bind(name, password);
      return c;
    };
    const whoami = async (c: Client): Promise<string> => (await c.exop('1.3.6.1.4.1.4203.1.11.3')).value ?? '';
    const failure = (p: Promise<unknown>): Promise<{ code: number; message: string }> =>
      p.then(
        () => ({ code: 0, message: 'succeeded' }),
        (e: { code: number; message: string }) => e,
      );

    beforeAll(async () => {
      const capture = new PassThrough();
      capture.on('data', (chunk: Buffer) => raw.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
      server = await startServer(config(), { logger: createLogger('debug', capture) });
      url = server.urls[0];
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
      await server?.close();
    });

    it('the search-then-bind login of an authenticating application', async () => {
      const sync = await bound(SYNC, SYNC_PASSWORD);
      expect(await whoami(sync)).toBe(`dn:${SYNC}`);
      const bySam = await sync.search('ou=avvid,dc=corp,dc=example', { filter: '(sAMAccountName=jdoe)', attributes: ['1.1'] });
      const byUpn = await sync.search(SUFFIX, { filter: '(userPrincipalName=jdoe@vse.lab)', attributes: ['1.1'] });
      expect(bySam.searchEntries).toHaveLength(1);
      expect(byUpn.searchEntries).toHaveLength(1);
      for (const { dn } of [...bySam.searchEntries, ...byUpn.searchEntries]) {
        const user = await bound(dn, USER_PASSWORD);
        expect(Dn.parse((await whoami(user)).slice(3)).key).toBe(Dn.parse(dn).key);
      }
      const avvidJdoe = bySam.searchEntries[0].dn;
      const wrong = await failure(client().bind(avvidJdoe, WRONG));
      const unknown = await failure(client().bind(`CN=Nobody,OU=Users,ou=avvid,${SUFFIX}`, USER_PASSWORD));
      const disabled = await failure(client().bind(disabledUser, USER_PASSWORD));
      const disabledWrong = await failure(client().bind(disabledUser, WRONG));
      expect(wrong).toBeInstanceOf(InvalidCredentialsError);
      for (const e of [unknown, disabledWrong]) expect(e).toMatchObject({ code: 49, message: wrong.message });
      // A forest with a NetBIOS name is AD (bindDiagnostics' default): a disabled account says so, for the right password only.
      const ad = config().forests.some((f) => f.backend === 'ldap' && f.netbiosName !== undefined);
      expect(disabled).toMatchObject({ code: 49, message: ad ? expect.stringContaining('AcceptSecurityContext error, data 533, v4563') : wrong.message });
    });

    it('logs in by UPN, by down-level name in each forest, and refuses an ambiguous bare name', async () => {
      const jdoe = (forest: string) => virtualDn(forest, forestOf(forest).entries.find((e) => e.get('sAMAccountName')?.values[0] === 'jdoe')!.dn);
      // slapd returns DNs in its own spelling: compared by normalised form.
      const loginDn = async (name: string) => Dn.parse((await whoami(await bound(name, USER_PASSWORD))).replace(/^dn:/, '')).key;
      expect(await loginDn('jdoe@vse.lab')).toBe(Dn.parse(jdoe('vse')).key);
      expect(await loginDn('jdoe@avvid.info')).toBe(Dn.parse(jdoe('avvid')).key);
      expect(await loginDn('AVVID\\jdoe')).toBe(Dn.parse(jdoe('avvid')).key);
      expect(await loginDn('vse\\jdoe')).toBe(Dn.parse(jdoe('vse')).key);
      // vse's users are stored as @vse.local: that spelling is not a login of the virtual tree.
      expect(await failure(client().bind('jdoe@vse.local', USER_PASSWORD))).toMatchObject({ code: 49 });
      const ambiguous = await failure(client().bind('jdoe', USER_PASSWORD));
      expect(ambiguous).toMatchObject({ code: 49, message: expect.stringMatching(/^invalid credentials/) });
      const warning = raw.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'bind refused: the login names more than one entry');
      expect(warning).toMatchObject({ level: 40, login: 'jdoe' });
      expect((warning!.candidates as string[]).map((d) => Dn.parse(d).key).sort()).toEqual([Dn.parse(jdoe('avvid')).key, Dn.parse(jdoe('vse')).key].sort());
    });

    it('refuses unauthenticated binds; anonymous clients see the root DSE and the schema only', async () => {
      // A name with an empty password, in every form a login takes: unwillingToPerform, as slapd answers.
      for (const name of [SYNC, `CN=Nobody,OU=Users,ou=avvid,${SUFFIX}`, 'jdoe@vse.lab', 'AVVID\\jdoe', 'jdoe', 'nobody@nowhere.example']) {
        expect(await failure(client().bind(name, ''))).toMatchObject({ code: 53 });
      }
      const anonymous = client();
      const dse = await anonymous.search('', { scope: 'base', attributes: ['namingContexts'] });
      expect(attr(dse.searchEntries[0], 'namingContexts')).toEqual([SUFFIX]);
      expect((await anonymous.search('cn=Subschema', { scope: 'base', filter: '(objectClass=subschema)', attributes: ['attributeTypes'] })).searchEntries).toHaveLength(1);
      expect(await failure(anonymous.search(SUFFIX, { filter: '(sAMAccountName=jdoe)' }))).toMatchObject({ code: 50 });
      expect(await failure(anonymous.search('CN=Nobody,ou=avvid,dc=corp,dc=example', { scope: 'base' }))).toMatchObject({ code: 50 });
      expect(await whoami(anonymous)).toBe('');
    });

    it('each access rule narrows what a search returns', async () => {
      const sync = await bound(SYNC, SYNC_PASSWORD);
      const user = await bound('AVVID\\jdoe', USER_PASSWORD);
      // The sync account's rule: every attribute, every entry.
      const full = await sync.search(SUFFIX, { filter: '(sAMAccountName=jdoe)', attributes: ['manager', 'mail'] });
      expect(full.searchEntries).toHaveLength(2);
      expect(full.searchEntries.every((e) => attr(e, 'manager').length === 1 && attr(e, 'mail').length === 1)).toBe(true);
      // `authenticated`: the phone-book attributes only; others are stripped, and assertions on them
      // are Undefined (RFC 4511 §4.5.1.7): neither they nor their negations match.
      const limited = await user.search(SUFFIX, { filter: '(sAMAccountName=jdoe)', attributes: ['manager', 'mail'] });
      expect(limited.searchEntries).toHaveLength(2);
      expect(limited.searchEntries.every((e) => attr(e, 'manager').length === 0 && attr(e, 'mail').length === 1)).toBe(true);
      expect((await sync.search(SUFFIX, { filter: '(&(sAMAccountName=jdoe)(manager=*))' })).searchEntries).toHaveLength(2);
      expect((await user.search(SUFFIX, { filter: '(&(sAMAccountName=jdoe)(manager=*))' })).searchEntries).toHaveLength(0);
      expect((await user.search(SUFFIX, { filter: '(&(sAMAccountName=jdoe)(!(manager=*)))' })).searchEntries).toHaveLength(0);
      // The refusal in front: avvid's groups are invisible to users, not to the sync account.
      const groups = '(objectClass=group)';
      const syncGroups = (await sync.search(SUFFIX, { filter: groups, attributes: ['1.1'] })).searchEntries;
      const userGroups = (await user.search(SUFFIX, { filter: groups, attributes: ['1.1'] })).searchEntries;
      expect(syncGroups.some((e) => Dn.parse(e.dn).isWithin(Dn.parse(GROUPS)))).toBe(true);
      expect(userGroups.some((e) => Dn.parse(e.dn).isWithin(Dn.parse(GROUPS)))).toBe(false);
      expect(userGroups.length).toBeGreaterThan(0);
      expect(await failure(user.search(GROUPS, { filter: groups }))).toMatchObject({ code: 32 });
      // Writes: the sync account may write phone numbers only; users may not write other forests' entries.
      const target = full.searchEntries[0].dn;
      const change = (type: string, value: string) => new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] }) });
      await sync.modify(target, change('ipPhone', '4711'));
      expect(attr((await sync.search(target, { scope: 'base', attributes: ['ipPhone'] })).searchEntries[0], 'ipPhone')).toEqual(['4711']);
      expect(await failure(sync.modify(target, change('title', 'Boss')))).toMatchObject({ code: 50 });
      // A user writes as itself only in its own forest (there, its forest's permissions decide).
      const elsewhere = full.searchEntries.find((e) => Dn.parse(e.dn).isWithin(Dn.parse('ou=vse,dc=corp,dc=example')))!.dn;
      expect(await failure(user.modify(elsewhere, change('ipPhone', '4712')))).toMatchObject({ code: 50 });
    });

    it('throttles failed binds per name: slowed, then refused, while another account still logs in', async () => {
      const times: number[] = [];
      for (let i = 0; i < 4; i++) {
        const started = performance.now();
        expect(await failure(client().bind('AVVID\\jdoe', WRONG))).toMatchObject({ code: 49, message: expect.stringMatching(/^invalid credentials/) });
        times.push(performance.now() - started);
      }
      expect(Math.max(times[0], times[1])).toBeLessThan(250);
      expect(Math.min(times[2], times[3])).toBeGreaterThanOrEqual(290);
      // At the account's limit: the right password is refused unchecked, answered (and slowed) as a wrong one; the log says why.
      const before = raw.filter((l) => l.includes('"bind refused unchecked: too many failed binds"')).length;
      const refusedAt = performance.now();
      const refused = await failure(client().bind('AVVID\\jdoe', USER_PASSWORD));
      expect(performance.now() - refusedAt).toBeGreaterThanOrEqual(290);
      expect(refused).toMatchObject({ code: 49, message: expect.stringMatching(/^invalid credentials/) });
      expect(raw.filter((l) => l.includes('"bind refused unchecked: too many failed binds"')).length).toBe(before + 1);
      const started = performance.now();
      expect(await whoami(await bound('VSE\\jdoe', USER_PASSWORD))).toMatch(/^dn:/);
      expect(performance.now() - started).toBeLessThan(250);
    });

    it('never writes a password to the log', () => {
      expect(raw.length).toBeGreaterThan(10);
      for (const secret of [USER_PASSWORD, SYNC_PASSWORD, WRONG]) expect(raw.filter((l) => l.includes(secret))).toEqual([]);
    });
  });
}

describeAuthSuite('authentication and access: memory forests', () => ({ ...defaults, access, security }));

describe('authentication and access: ldap forests over slapd', () => {
  const slapds: Slapd[] = [];
  let config: LoadedConfig;
  beforeAll(async () => {
    const forests = await slapdForestsLike(defaults, slapds);
    config = { ...defaults, forests, access, security };
  });
  afterAll(() => Promise.all(slapds.map((s) => s.stop())));
  describeAuthSuite('through canopy', () => config);
});

describe('security.requireTlsForBind', () => {
  it('refuses simple binds over cleartext with confidentialityRequired; anonymous still works', async () => {
    const server = await startServer({ ...defaults, security: securitySchema.parse({ requireTlsForBind: true }) }, { logger: createLogger('silent') });
    const c = new Client({ url: server.urls[0] });
    try {
      await expect(c.bind(SYNC, SYNC_PASSWORD)).rejects.toMatchObject({ code: 13 });
      await c.bind('', '');
    } finally {
      await c.unbind();
      await server.close();
    }
  });
});
