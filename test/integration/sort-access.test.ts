/**
 * Server-side sort (RFC 2891) never orders entries by a value the client may not read (issue 15,
 * class 4): a sort key a forest hides (`attributes.hide`) or the access rules withhold gives the
 * sort result insufficientAccessRights (50): an error (12) when the control is critical, unsorted
 * entries when it is not. Over a memory forest and a slapd forest alike.
 */
import { fileURLToPath } from 'node:url';
import { Attribute, Change, Client, ServerSideSortingRequestControl, type Entry as LdaptsEntry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';
import { SERVICE_PASSWORD } from '../../src/tools/fixture-generator.js';

const SUFFIX = 'dc=corp,dc=example';
const AVVID = `ou=avvid,${SUFFIX}`;
const VSE = `ou=vse,${SUFFIX}`;
const SYNC = `cn=sync,${SUFFIX}`;
const SYNC_PASSWORD = 'Sync-Passw0rd!';
/** An account that may read vse only: avvid, whatever happens to it, must not show in its answers. */
const VSE_READER = `cn=vse-reader,${SUFFIX}`;
const USER = 'jdoe@avvid.info';
const AVVID_LDIF = fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url));
const USERS = '(&(objectClass=user)(!(objectClass=computer)))';

/** An entry hidden from users by the rules. */
const HIDDEN = `CN=Elizabeth Green,OU=Users,${AVVID}`;

/** The attributes the slapd forest hides. */
const HIDE = '[userPassword, homePhone, employeeNumber]';

async function configYaml(avvidForest: string, limits = ''): Promise<string> {
  return `namespace: { suffix: "${SUFFIX}" }
${limits}
accounts:
  - { dn: "${SYNC}", passwordHash: "${await hashPassword(SYNC_PASSWORD)}" }
  - { dn: "${VSE_READER}", passwordHash: "${await hashPassword(SYNC_PASSWORD)}" }
access:
  - { who: "${SYNC}", what: { dn: "${SUFFIX}" }, allow: read }
  - { who: "${VSE_READER}", what: { dn: "${AVVID}" }, allow: none }
  - { who: "${VSE_READER}", what: { dn: "${SUFFIX}" }, allow: read }
  # Users may not see Elizabeth Green at all, nor read vse's mobile numbers, nor anything outside the list below.
  - { who: authenticated, what: { dn: "${HIDDEN}", scope: base }, allow: none }
  - { who: authenticated, what: { dn: "${VSE}", attributes: [mobile] }, allow: none }
  - { who: authenticated, what: { dn: "${SUFFIX}", attributes: [objectClass, cn, sn, givenName, mobile, telephoneNumber] }, allow: read }
forests:
${avvidForest}
  - { name: vse, backend: memory, base: "DC=vse,DC=lab", mount: "${VSE}", upnSuffixes: { vse.lab: vse.local }, ldif: [fixtures/vse.lab.ldif], attributes: { hide: [userPassword] } }
`;
}

const memoryAvvid = `  - { name: avvid, backend: memory, base: "DC=avvid,DC=info", mount: "${AVVID}", upnSuffixes: { avvid.info: avvid.info }, ldif: [fixtures/avvid.info.ldif], attributes: { hide: ${HIDE} } }`;

const ldapAvvid = (url: string): string => `  - name: avvid
    backend: ldap
    base: "DC=avvid,DC=info"
    mount: "${AVVID}"
    upnSuffixes: { avvid.info: avvid.info }
    servers: ["${url}"]
    bind: { dn: "${serviceDn('DC=avvid,DC=info')}", password: "${SERVICE_PASSWORD}" }
    attributes: { hide: ${HIDE} }`;

/** A Password Modify request value (RFC 3062) naming `user` with a new password. */
const passwordModifyValue = (user: string): Buffer => {
  const id = Buffer.from(user, 'utf8');
  const pw = Buffer.from('New-Passw0rd!', 'utf8');
  const field = (tag: number, v: Buffer) => Buffer.concat([Buffer.from([tag, v.length]), v]);
  const body = Buffer.concat([field(0x80, id), field(0x82, pw)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
};

const sortControl = (critical: boolean, ...keys: string[]): ServerSideSortingRequestControl =>
  new ServerSideSortingRequestControl({
    value: keys.map((k) => (k.startsWith('-') ? { attributeType: k.slice(1), reverseOrder: true } : { attributeType: k })),
    critical,
  });

/** An attribute's first value; ldapts gives an absent attribute that was asked for as an empty list. */
const first = (e: LdaptsEntry, name: string): string | undefined => {
  const key = Object.keys(e).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : e[key];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : String(one);
};

function describeSortSuite(title: string, avvidForest: () => string, frozen?: (work: () => Promise<void>) => Promise<void>) {
  describe(title, () => {
    let server: Awaited<ReturnType<typeof startTestServer>>;
    const clients: Client[] = [];
    const bound = async (name: string, password: string): Promise<Client> => {
      const c = new Client({ url: server.url, timeout: 10_000 });
      clients.push(c);
      await c.bind(name, password);
      return c;
    };

    /** A sorted search: the entries' DNs, the result code and the sort result. */
    async function sorted(c: Client, base: string, control: ServerSideSortingRequestControl, attributes = ['sn', 'mobile']) {
      try {
        const { searchEntries } = await c.search(base, { filter: USERS, attributes }, control);
        return { code: 0, entries: searchEntries, sortResult: control.result?.sortResult };
      } catch (err) {
        return { code: (err as { code: number }).code, entries: [] as LdaptsEntry[], sortResult: control.result?.sortResult };
      }
    }

    beforeAll(async () => {
      server = await startTestServer(await configYaml(avvidForest()));
    });

    afterAll(async () => {
      await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
      await server?.close();
    });

    it('a refusal the rules decide answers a missing entry as one they hide: compare, modify, Password Modify', async () => {
      const c = await bound(USER, USER_PASSWORD);
      const missingDn = `CN=Nobody Here,OU=Users,${AVVID}`;
      const existing = `CN=Anthony Johnson,OU=Users,${AVVID}`;
      const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code: number }) => e.code);
      const change = new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['x'] }) });
      // title is no attribute users may read; employeeNumber the forest hides.
      for (const dn of [HIDDEN, missingDn]) {
        expect(await code(c.compare(dn, 'title', 'x')), dn).toBe(32);
        expect(await code(c.compare(dn, 'employeeNumber', '1')), dn).toBe(32);
        expect(await code(c.modify(dn, change)), dn).toBe(32);
        expect(await code(c.exop('1.3.6.1.4.1.4203.1.11.1', passwordModifyValue(dn))), dn).toBe(32);
      }
      // An entry the user sees hears the refusal itself.
      expect(await code(c.compare(existing, 'title', 'x'))).toBe(50);
      expect(await code(c.modify(existing, change))).toBe(50);
    });

    it('a sort on a readable attribute is done (the control for the cases below)', async () => {
      const c = await bound(SYNC, SYNC_PASSWORD);
      const r = await sorted(c, SUFFIX, sortControl(true, 'sn'));
      expect(r).toMatchObject({ code: 0, sortResult: 0 });
      const names = r.entries.map((e) => (first(e, 'sn') ?? '\uffff').toLowerCase());
      expect(names).toEqual([...names].sort());
      expect(r.entries.length).toBeGreaterThan(100);
    });

    it('a sort of more than 32 keys is refused (53) before anything is asked; 32 are served', async () => {
      const c = await bound(SYNC, SYNC_PASSWORD);
      const keys = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? 'sn' : 'cn'));
      expect(await sorted(c, SUFFIX, sortControl(false, ...keys(20_000)))).toMatchObject({ code: 53, entries: [] });
      expect(await sorted(c, SUFFIX, sortControl(true, ...keys(33)))).toMatchObject({ code: 53 });
      expect((await sorted(c, SUFFIX, sortControl(true, ...keys(32)))).code).toBe(0);
    });

    it('a key a forest hides, however spelled: critical → 12 and no entries; non-critical → every entry, sortResult 50', async () => {
      const c = await bound(SYNC, SYNC_PASSWORD);
      const all = (await c.search(SUFFIX, { filter: USERS, attributes: ['1.1'] })).searchEntries.map((e) => e.dn).sort();
      for (const key of ['employeeNumber', 'EMPLOYEENUMBER', '-homePhone', 'userpassword']) {
        const strict = await sorted(c, SUFFIX, sortControl(true, 'sn', key));
        expect(strict, key).toMatchObject({ code: 12, sortResult: 50, entries: [] });
        const lenient = await sorted(c, SUFFIX, sortControl(false, key));
        expect(lenient, key).toMatchObject({ code: 0, sortResult: 50 });
        expect(lenient.entries.map((e) => e.dn).sort(), key).toEqual(all);
      }
      // Only the forests a search reaches count: vse does not hide homePhone.
      const vse = await sorted(c, VSE, sortControl(true, 'homePhone'), ['homePhone']);
      expect(vse).toMatchObject({ code: 0, sortResult: 0 });
      const phones = vse.entries.map((e) => first(e, 'homePhone') ?? '\uffff');
      expect(phones).toEqual([...phones].sort());
    });

    it('a forest the client may read nothing of takes no part in its searches: the keys it hides, its outage', async () => {
      const c = await bound(VSE_READER, SYNC_PASSWORD);
      const vseOnly = (await c.search(VSE, { filter: USERS, attributes: ['1.1'] })).searchEntries.map((e) => e.dn).sort();
      // avvid hides employeeNumber, vse does not: a sort from the top is the sort of vse's entries.
      const r = await sorted(c, SUFFIX, sortControl(true, 'employeeNumber', 'sn'), ['sn']);
      expect(r).toMatchObject({ code: 0, sortResult: 0 });
      expect(r.entries.map((e) => e.dn).sort()).toEqual(vseOnly);
      if (!frozen) return;
      // Stopped: a search from the top still answers at once, from vse, naming nothing of avvid.
      await frozen(async () => {
        const t0 = performance.now();
        const { searchEntries } = await c.search(SUFFIX, { filter: `(&${USERS}(sn=*${Math.random().toString(36).slice(2, 4)}*))`, attributes: ['1.1'] });
        expect(performance.now() - t0).toBeLessThan(2000);
        for (const e of searchEntries) expect(e.dn.toLowerCase()).toContain(VSE);
      });
    });

    it('ldapsearch with a critical sort on a hidden attribute exits with 12', async () => {
      const r = await runLdapTool('ldapsearch', ['-x', '-H', server.url, '-D', SYNC, '-w', SYNC_PASSWORD, '-b', SUFFIX, '-E', '!sss=employeeNumber', USERS, 'cn']);
      expect(r.status).toBe(12);
      expect(r.stdout).not.toMatch(/^dn:/m);
    });

    it('an entry the identity may not see neither refuses a sort nor shows in its result: no oracle on it', async () => {
      const c = await bound(USER, USER_PASSWORD);
      const answer = async (filter: string, critical: boolean) => {
        const control = sortControl(critical, 'telephoneNumber');
        const { searchEntries } = await c.search(AVVID, { filter, attributes: ['cn'] }, control);
        return { entries: searchEntries.length, sortResult: control.result?.sortResult };
      };
      for (const critical of [false, true]) {
        // Beside a visible entry (a sort compares two), Elizabeth Green matches and is hidden, Nobody matches
        // nothing: the same answer, whatever the guess.
        for (const guess of ['(cn=Elizabeth Green)', '(cn=Eliz*)', '(cn=Nobody)', '(cn=Zz*)']) {
          expect(await answer(`(|(cn=John Doe)${guess})`, critical), `${guess} ${critical}`).toEqual({ entries: 1, sortResult: 0 });
        }
      }
    });

    it('a key the access rules withhold: 50, and withheld values never order the entries', async () => {
      const c = await bound(USER, USER_PASSWORD);
      // Readable in every entry of avvid: sorted.
      const avvid = await sorted(c, AVVID, sortControl(true, 'mobile'));
      expect(avvid).toMatchObject({ code: 0, sortResult: 0 });
      const mobiles = avvid.entries.map((e) => first(e, 'mobile') ?? '\uffff');
      expect(mobiles).toEqual([...mobiles].sort());

      // Withheld in vse's entries: refused when critical.
      expect(await sorted(c, SUFFIX, sortControl(true, 'mobile'))).toMatchObject({ code: 12, sortResult: 50, entries: [] });
      expect(await sorted(c, VSE, sortControl(true, 'mobile'))).toMatchObject({ code: 12, sortResult: 50, entries: [] });
      // Readable nowhere (title is not in the users' list).
      expect(await sorted(c, AVVID, sortControl(true, 'title'))).toMatchObject({ code: 12, sortResult: 50, entries: [] });

      // Not critical: every entry, and vse's come in the same order as under a key withheld everywhere:
      // their mobile numbers, which the client does not get, play no part.
      const byMobile = await sorted(c, SUFFIX, sortControl(false, 'mobile'));
      const byTitle = await sorted(c, SUFFIX, sortControl(false, 'title'));
      expect(byMobile).toMatchObject({ code: 0, sortResult: 50 });
      expect(byTitle).toMatchObject({ code: 0, sortResult: 50 });
      const vseOrder = (r: { entries: LdaptsEntry[] }) => r.entries.map((e) => e.dn).filter((dn) => dn.endsWith(VSE));
      expect(vseOrder(byMobile).length).toBeGreaterThan(20);
      expect(vseOrder(byMobile)).toEqual(vseOrder(byTitle));
      expect(byMobile.entries.filter((e) => e.dn.endsWith(VSE)).every((e) => first(e, 'mobile') === undefined)).toBe(true);

      // The sync account, which may read vse's mobile numbers, gets them in another order: the check above can fail.
      const sync = await bound(SYNC, SYNC_PASSWORD);
      const syncOrder = vseOrder(await sorted(sync, SUFFIX, sortControl(true, 'mobile')));
      expect(new Set(syncOrder)).toEqual(new Set(vseOrder(byMobile)));
      expect(syncOrder).not.toEqual(vseOrder(byMobile));
    });
  });
}

describeSortSuite('sort access: memory forests', () => memoryAvvid);

describe('sort access: a slapd forest', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd({ suffix: 'DC=avvid,DC=info', ldif: [AVVID_LDIF] });
  });
  afterAll(async () => {
    await slapd?.stop();
  });
  describeSortSuite('through canopy', () => ldapAvvid(slapd.url), async (work) => {
    process.kill(slapd.pid!, 'SIGSTOP');
    try {
      await work();
    } finally {
      process.kill(slapd.pid!, 'SIGCONT');
    }
  });
});

describe('sort access: entries the client may not see take no room in a sort', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer(await configYaml(memoryAvvid, 'limits: { maxSortEntries: 2 }'));
  });
  afterAll(() => server?.close());

  it('two visible entries sort within a limit of two whether or not a hidden one matches too', async () => {
    const c = new Client({ url: server.url, timeout: 10_000 });
    await c.bind(USER, USER_PASSWORD);
    try {
      for (const third of ['(cn=Elizabeth Green)', '(cn=Elizabeth Xreen)']) {
        const control = sortControl(true, 'cn');
        const { searchEntries } = await c.search(AVVID, { filter: `(|(cn=John Doe)(cn=Kevin Scott)${third})`, attributes: ['cn'] }, control);
        expect(searchEntries.map((e) => first(e, 'cn')), third).toEqual(['John Doe', 'Kevin Scott']);
        expect(control.result?.sortResult, third).toBe(0);
      }
    } finally {
      await c.unbind();
    }
  });
});
