/**
 * Writes through the virtual tree, end to end: one behaviour suite run over memory forests and
 * over slapd forests (each forest behind its own slapd), with real clients (ldapts, ldapmodify,
 * ldappasswd). avvid is writable, vse is `readOnly`; a provisioning account may write the whole
 * tree, a reader account may only read, and forest users write as themselves.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { Attribute, Change, Client, type Entry as LdaptsEntry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { hashPassword } from '../../src/core/scrypt-hash.js';
import { parseConfig } from '../../src/config/load.js';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import type { Directory, SearchContext } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import type { Entry } from '../../src/core/entry.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { passwordModifyValue } from '../support/raw-ldap.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { repoRoot, startTestServer } from '../support/server.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { serviceDn } from './ldap-helpers.js';
import { searchCtx } from '../support/search-context.js';

const SUFFIX = 'dc=corp,dc=example';
const PROVISIONING = `cn=provisioning,ou=accounts,${SUFFIX}`;
const READER = `cn=reader,ou=accounts,${SUFFIX}`;
const ACCOUNT_PASSWORD = 'Acc0unt-Passw0rd!';
const PASSWORD_MODIFY = '1.3.6.1.4.1.4203.1.11.1';
/** Passwords the suite sets: none may reach a log line. */
const newPassword = 'Fresh-Passw0rd!42';
const resetPassword = 'Reset-Passw0rd!7';

interface Forest {
  readonly name: 'avvid' | 'vse';
  readonly base: string;
  readonly mount: string;
  readonly ldif: string;
  readonly upn: Record<string, string>;
  readonly netbios: string;
  readonly entries: readonly Entry[];
}

const forest = (name: 'avvid' | 'vse', base: string, upn: Record<string, string>, netbios: string): Forest => {
  const ldif = `fixtures/${name === 'avvid' ? 'avvid.info' : 'vse.lab'}.ldif`;
  return { name, base, mount: `ou=${name},${SUFFIX}`, ldif, upn, netbios, entries: parseLdif(readFileSync(ldif, 'utf8'), ldif).map((r) => r.entry) };
};
const avvid = forest('avvid', 'DC=avvid,DC=info', { 'avvid.info': 'avvid.info' }, 'AVVID');
const vse = forest('vse', 'DC=vse,DC=lab', { 'vse.lab': 'vse.local' }, 'VSE');

const text = (e: Entry, name: string): string[] => (e.get(name)?.values ?? []).map(String);
/** An enabled fixture user with a password, by sAMAccountName. */
function user(f: Forest, sam: string): { upstream: Dn; virtual: Dn; upn: string } {
  const e = f.entries.find((x) => text(x, 'sAMAccountName').includes(sam));
  if (!e || text(e, 'userAccountControl')[0] !== '512' || !e.has('userPassword')) throw new Error(`fixture ${f.name} has no enabled ${sam}`);
  return { upstream: e.dn, virtual: e.dn.rebase(Dn.parse(f.base), Dn.parse(f.mount)), upn: `${sam}@${Object.keys(f.upn)[0]}` };
}
const jdoe = user(avvid, 'jdoe');
const selfWriter = user(avvid, 'hsanchez');
const passwordChanger = user(avvid, 'ajohnson');
const resetTarget = user(avvid, 'agonzalez');
const vseJdoe = user(vse, 'jdoe');
const usersOu = (f: Forest): string => `OU=Users,${f.mount}`;

/** How a suite reaches a forest behind Canopy: the stored entry in the forest's own terms. */
interface Backing {
  /** The entry's attributes as the forest stores them, or undefined when it does not exist. */
  read(f: Forest, dn: Dn, attributes: readonly string[]): Promise<Record<string, string[]> | undefined>;
  /** slapd records who wrote last (modifiersName); the memory backend does not. */
  readonly recordsWriter: boolean;
}

interface Stack {
  readonly url: string;
  readonly backing: Backing;
  /** Canopy's log lines, at debug level. */
  readonly log: readonly string[];
  close(): Promise<void>;
}

/** A debug logger whose lines are kept. */
function capturedLog(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  return { logger: createLogger('debug', stream), lines };
}

async function canopyConfig(forests: readonly Record<string, unknown>[]): Promise<string> {
  return stringify({
    namespace: { suffix: SUFFIX },
    forests,
    accounts: [
      { dn: PROVISIONING, passwordHash: await hashPassword(ACCOUNT_PASSWORD) },
      { dn: READER, passwordHash: await hashPassword(ACCOUNT_PASSWORD) },
    ],
    access: [
      { who: PROVISIONING, what: { dn: SUFFIX }, allow: 'write' },
      { who: 'authenticated', what: { dn: SUFFIX }, allow: 'read' },
    ],
  });
}

/** What every forest has, memory or ldap: vse is read-only; employeeNumber is hidden (a hidden userPassword: subtree-writes.test.ts). */
const common = (f: Forest) => ({
  name: f.name,
  base: f.base,
  mount: f.mount,
  upnSuffixes: f.upn,
  netbiosName: f.netbios,
  attributes: { hide: ['employeeNumber'] },
  readOnly: f === vse,
});

const ctx = (): SearchContext => searchCtx({ connectionId: 0 });

async function startMemoryStack(): Promise<Stack> {
  const backends = new Map<string, Directory>();
  const { logger, lines } = capturedLog();
  const server = await startTestServer(await canopyConfig([avvid, vse].map((f) => ({ ...common(f), backend: 'memory', ldif: [f.ldif] }))), {
    logger,
    wrapBackend: (name, directory) => {
      backends.set(name, directory);
      return directory;
    },
  });
  return {
    url: server.url,
    log: lines,
    close: () => server.close(),
    backing: {
      recordsWriter: false,
      async read(f, dn, attributes) {
        const request = { base: dn, scope: 'base' as const, filter: parseFilterString('(objectClass=*)'), attributes, typesOnly: false, sizeLimit: 0, timeLimit: 0 };
        try {
          for await (const e of backends.get(f.name)!.search(request, ctx())) {
            return Object.fromEntries([...e.attributes()].map((a) => [a.name.toLowerCase(), a.values.map(String)]));
          }
        } catch (err) {
          if ((err as { code?: number }).code === 32) return undefined;
          throw err;
        }
        return undefined;
      },
    },
  };
}

/** slapd access: users write their own entry and password, the service account writes everything. */
const slapdAcl = (base: string): string =>
  [
    `access to attrs=userPassword by self write by dn.exact="${serviceDn(base)}" write by anonymous auth by * none`,
    `access to * by self write by dn.exact="${serviceDn(base)}" write by * read`,
  ].join('\n');

const ldapForest = (f: Forest, servers: readonly string[]) => ({
  ...common(f),
  backend: 'ldap',
  servers,
  bind: { dn: serviceDn(f.base), password: SERVICE_PASSWORD },
  timeouts: { connectMs: 2000, operationMs: 5000 },
});

async function startSlapdStack(): Promise<Stack> {
  const slapds = new Map<string, Slapd>();
  try {
    for (const f of [avvid, vse]) slapds.set(f.name, await startSlapd({ suffix: f.base, ldif: [f.ldif], extraConfig: slapdAcl(f.base) }));
  } catch (err) {
    await Promise.all([...slapds.values()].map((s) => s.stop()));
    throw err;
  }
  const { logger, lines } = capturedLog();
  const server = await startTestServer(await canopyConfig([avvid, vse].map((f) => ldapForest(f, [slapds.get(f.name)!.url]))), { logger });
  return {
    url: server.url,
    log: lines,
    async close() {
      await server.close();
      await Promise.all([...slapds.values()].map((s) => s.stop()));
    },
    backing: {
      recordsWriter: true,
      async read(f, dn, attributes) {
        const slapd = slapds.get(f.name)!;
        const client = new Client({ url: slapd.url, timeout: 5000 });
        try {
          await client.bind(slapd.rootDn, slapd.rootPassword);
          const { searchEntries } = await client.search(dn.text, { scope: 'base', attributes: [...attributes] });
          return lowerCased(searchEntries[0]);
        } catch (err) {
          if ((err as { code?: number }).code === 32) return undefined;
          throw err;
        } finally {
          await client.unbind();
        }
      },
    },
  };
}

function lowerCased(e: LdaptsEntry | undefined): Record<string, string[]> | undefined {
  if (!e) return undefined;
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(e)) if (k !== 'dn') out[k.toLowerCase()] = (Array.isArray(v) ? v : [v]).map(String);
  return out;
}

const replace = (type: string, ...values: string[]): Change => new Change({ operation: 'replace', modification: new Attribute({ type, values }) });
const failure = (p: Promise<unknown>): Promise<{ code: number; message: string }> =>
  p.then(
    () => ({ code: 0, message: 'succeeded' }),
    (e: { code: number; message: string }) => e,
  );
const keyOf = (dn: string): string => Dn.parse(dn).key;

function describeWrites(title: string, start: () => Promise<Stack>): void {
  describe(title, () => {
    let stack: Stack;
    const clients: Client[] = [];
    const client = async (name?: string, password?: string): Promise<Client> => {
      const c = new Client({ url: stack.url, timeout: 10_000 });
      clients.push(c);
      if (name !== undefined) await c.bind(name, password ?? '');
      return c;
    };
    const read = async (c: Client, dn: string | Dn, attributes: string[]): Promise<Record<string, string[]> | undefined> =>
      lowerCased((await c.search(typeof dn === 'string' ? dn : dn.text, { scope: 'base', attributes })).searchEntries[0]);

    beforeAll(async () => {
      stack = await start();
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
      await stack?.close();
    });

    it('a provisioning account writes back a phone number; it reads back through Canopy and from the forest', async () => {
      const provisioning = await client(PROVISIONING, ACCOUNT_PASSWORD);
      await provisioning.modify(jdoe.virtual.text, [replace('telephoneNumber', '+1 408 555 0199')]);
      expect((await read(provisioning, jdoe.virtual, ['telephoneNumber']))?.telephonenumber).toEqual(['+1 408 555 0199']);
      const stored = await stack.backing.read(avvid, jdoe.upstream, ['telephoneNumber', 'modifiersName']);
      expect(stored?.telephonenumber).toEqual(['+1 408 555 0199']);
      // A local account writes with the forest's service account.
      if (stack.backing.recordsWriter) expect(keyOf(stored!.modifiersname[0])).toBe(keyOf(serviceDn(avvid.base)));
    });

    it('ldapmodify adds a user whose manager is a virtual DN: stored with the forest`s DN, returned with the virtual one', async () => {
      const dn = `CN=New Hire,${usersOu(avvid)}`;
      const ldif = (manager: string) =>
        `dn: ${dn}\nchangetype: add\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\n` +
        `cn: New Hire\nsn: Hire\nsAMAccountName: nhire\nuserPrincipalName: nhire@avvid.info\nmanager: ${manager}\n`;
      const ldapmodify = (input: string) => runLdapTool('ldapmodify', ['-x', '-H', stack.url, '-D', PROVISIONING, '-w', ACCOUNT_PASSWORD], input);

      // A manager in another forest cannot be stored in this one.
      const foreign = await ldapmodify(ldif(vseJdoe.virtual.text));
      expect(foreign.status, foreign.stderr).toBe(53);
      expect(foreign.stderr).toMatch(/another forest/);

      const added = await ldapmodify(ldif(jdoe.virtual.text));
      expect(added.status, added.stderr).toBe(0);
      const stored = await stack.backing.read(avvid, Dn.parse(`CN=New Hire,OU=Users,${avvid.base}`), ['manager', 'sAMAccountName']);
      expect(stored?.samaccountname).toEqual(['nhire']);
      expect(stored!.manager.map(keyOf)).toEqual([jdoe.upstream.key]);
      const reader = await client(READER, ACCOUNT_PASSWORD);
      expect((await read(reader, dn, ['manager']))!.manager.map(keyOf)).toEqual([jdoe.virtual.key]);
      // And the filter finds it by the virtual DN.
      const reports = await reader.search(SUFFIX, { filter: `(&(sAMAccountName=nhire)(manager=${jdoe.virtual.text}))`, attributes: ['1.1'] });
      expect(reports.searchEntries.map((e) => keyOf(e.dn))).toEqual([keyOf(dn)]);
    });

    it('renames within a forest and refuses a move to another forest (affectsMultipleDSAs)', async () => {
      const provisioning = await client(PROVISIONING, ACCOUNT_PASSWORD);
      const dn = `CN=Rename Me,${usersOu(avvid)}`;
      await provisioning.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn: 'Rename Me', sn: 'Me' });
      const renamed = `CN=Renamed,OU=ServiceAccounts,${avvid.mount}`;
      await provisioning.modifyDN(dn, renamed);
      expect(await failure(read(provisioning, dn, ['cn']))).toMatchObject({ code: 32 });
      expect((await read(provisioning, renamed, ['cn']))?.cn).toEqual(['Renamed']);
      expect((await stack.backing.read(avvid, Dn.parse(`CN=Renamed,OU=ServiceAccounts,${avvid.base}`), ['cn']))?.cn).toEqual(['Renamed']);
      expect(await stack.backing.read(avvid, Dn.parse(`CN=Rename Me,OU=Users,${avvid.base}`), ['cn'])).toBeUndefined();

      const across = await failure(provisioning.modifyDN(renamed, `CN=Renamed,${usersOu(vse)}`));
      expect(across.code).toBe(71);
      expect((await read(provisioning, renamed, ['cn']))?.cn).toEqual(['Renamed']);
      await provisioning.del(renamed);
      expect(await stack.backing.read(avvid, Dn.parse(`CN=Renamed,OU=ServiceAccounts,${avvid.base}`), ['cn'])).toBeUndefined();
    });

    it('a read-only forest refuses every write (unwillingToPerform) and keeps its data', async () => {
      const provisioning = await client(PROVISIONING, ACCOUNT_PASSWORD);
      const before = await stack.backing.read(vse, vseJdoe.upstream, ['telephoneNumber']);
      const refusals = [
        provisioning.modify(vseJdoe.virtual.text, [replace('telephoneNumber', '+1 555 0100')]),
        provisioning.add(`CN=Nobody New,${usersOu(vse)}`, { objectClass: ['top', 'person'], cn: 'Nobody New', sn: 'New' }),
        provisioning.del(vseJdoe.virtual.text),
        provisioning.modifyDN(vseJdoe.virtual.text, `CN=Johnny Doe,${usersOu(vse)}`),
        provisioning.exop(PASSWORD_MODIFY, passwordModifyValue({ user: vseJdoe.virtual.text, new: 'N3w-Passw0rd!' })),
      ].map(failure); // each caught as it is sent: they are answered in any order
      for (const refused of refusals) expect(await refused).toMatchObject({ code: 53, message: expect.stringContaining('read-only') as unknown });
      expect(await stack.backing.read(vse, vseJdoe.upstream, ['telephoneNumber'])).toEqual(before);
      // vse users cannot change their own entries either: the forest takes no writes at all.
      const own = await client(vseJdoe.upn, USER_PASSWORD);
      expect(await failure(own.modify(vseJdoe.virtual.text, [replace('telephoneNumber', '+1 555 0101')]))).toMatchObject({ code: 53 });
    });

    it('identities without write rights get insufficientAccessRights, and hidden attributes cannot be written', async () => {
      const change = [replace('telephoneNumber', '+1 555 0102')];
      const reader = await client(READER, ACCOUNT_PASSWORD);
      expect(await failure(reader.modify(jdoe.virtual.text, change))).toMatchObject({ code: 50 });
      expect(await failure(reader.del(jdoe.virtual.text))).toMatchObject({ code: 50 });
      expect(await failure((await client()).modify(jdoe.virtual.text, change))).toMatchObject({ code: 50 });
      // A forest user writes as itself: the forest refuses it another user's entry…
      const user = await client(selfWriter.upn, USER_PASSWORD);
      expect(await failure(user.modify(resetTarget.virtual.text, change))).toMatchObject({ code: 50 });
      // …and in another forest it has no identity of its own, only the (missing) write rules.
      expect(await failure(user.modify(vseJdoe.virtual.text, change))).toMatchObject({ code: 50 });
      const provisioning = await client(PROVISIONING, ACCOUNT_PASSWORD);
      expect(await failure(provisioning.modify(jdoe.virtual.text, [replace('employeeNumber', '4711')]))).toMatchObject({ code: 50 });
      expect((await stack.backing.read(avvid, resetTarget.upstream, ['telephoneNumber']))?.telephonenumber).not.toEqual(['+1 555 0102']);
    });

    it('a forest user writes its own entry with its own identity', async () => {
      const user = await client(selfWriter.upn, USER_PASSWORD);
      await user.modify(selfWriter.virtual.text, [replace('telephoneNumber', '+1 408 555 0177')]);
      const stored = await stack.backing.read(avvid, selfWriter.upstream, ['telephoneNumber', 'modifiersName']);
      expect(stored?.telephonenumber).toEqual(['+1 408 555 0177']);
      if (stack.backing.recordsWriter) expect(keyOf(stored!.modifiersname[0])).toBe(selfWriter.upstream.key);
      // Bound again as the same user on the same connection, it still writes as itself.
      await user.bind(selfWriter.virtual.text, USER_PASSWORD);
      await user.modify(selfWriter.virtual.text, [replace('telephoneNumber', '+1 408 555 0178')]);
      expect((await stack.backing.read(avvid, selfWriter.upstream, ['telephoneNumber']))?.telephonenumber).toEqual(['+1 408 555 0178']);
    });

    it('refused changes get the codes slapd gives, from the mock directory too', async () => {
      const provisioning = await client(PROVISIONING, ACCOUNT_PASSWORD);
      const modify = (...changes: Change[]) => failure(provisioning.modify(jdoe.virtual.text, changes));
      const add = (type: string, ...values: string[]) => new Change({ operation: 'add', modification: new Attribute({ type, values }) });
      const remove = (type: string, ...values: string[]) => new Change({ operation: 'delete', modification: new Attribute({ type, values }) });
      const before = await stack.backing.read(avvid, jdoe.upstream, ['userAccountControl', 'cn', 'pager']);
      expect(await modify(replace('userAccountControl', 'enabled'))).toMatchObject({ code: 21 }); // invalidAttributeSyntax
      expect(await modify(replace('userAccountControl', '+512'))).toMatchObject({ code: 21 });
      expect(await modify(replace('manager', 'not a DN'))).toMatchObject({ code: 21 });
      expect(await modify(replace('userAccountControl', '512', '514'))).toMatchObject({ code: 19 }); // constraintViolation: single-valued
      expect(await modify(replace('cn', 'Someone Else'))).toMatchObject({ code: 64 }); // namingViolation: the RDN's value
      expect(await modify(add('cn', before!.cn[0]))).toMatchObject({ code: 20 }); // attributeOrValueExists
      expect(await modify(remove('pager', 'nothing'))).toMatchObject({ code: 16 }); // noSuchAttribute
      expect(await stack.backing.read(avvid, jdoe.upstream, ['userAccountControl', 'cn', 'pager'])).toEqual(before);
    });

    it('deleting an entry with subordinates is refused (notAllowedOnNonLeaf)', async () => {
      const provisioning = await client(PROVISIONING, ACCOUNT_PASSWORD);
      expect(await failure(provisioning.del(usersOu(avvid)))).toMatchObject({ code: 66 });
      expect(await stack.backing.read(avvid, Dn.parse(`OU=Users,${avvid.base}`), ['ou'])).toBeDefined();
    });

    it('a user changes its own password with Password Modify (ldappasswd), binds with it, and the old one fails', async () => {
      const tool = await runLdapTool('ldappasswd', ['-x', '-H', stack.url, '-D', passwordChanger.upn, '-w', USER_PASSWORD, '-a', USER_PASSWORD, '-s', newPassword]);
      expect(tool.status, tool.stderr).toBe(0);
      expect(tool.stdout + tool.stderr).not.toContain(newPassword);
      await client(passwordChanger.upn, newPassword);
      await client(passwordChanger.virtual.text, newPassword);
      expect(await failure(client(passwordChanger.upn, USER_PASSWORD))).toMatchObject({ code: 49 });

      const self = await client(passwordChanger.upn, newPassword);
      // A wrong old password changes nothing; the answer is slapd's.
      expect(await failure(self.exop(PASSWORD_MODIFY, passwordModifyValue({ old: 'Wrong-Passw0rd!', new: 'Other-Passw0rd!' })))).toMatchObject({ code: 53 });
      await client(passwordChanger.upn, newPassword);
      // Canopy generates no passwords.
      expect(await failure(self.exop(PASSWORD_MODIFY, passwordModifyValue({ old: newPassword })))).toMatchObject({ code: 53 });
      expect(await failure((await client()).exop(PASSWORD_MODIFY, passwordModifyValue({ new: 'Anon-Passw0rd!' })))).toMatchObject({ code: 50 });
      // Nobody changes another user's password by naming it: not a user of its forest, nor one of another forest.
      const stolen = passwordModifyValue({ user: resetTarget.virtual.text, new: 'Stolen-Passw0rd!' });
      expect(await failure(self.exop(PASSWORD_MODIFY, stolen))).toMatchObject({ code: 50 });
      expect(await failure((await client(vseJdoe.upn, USER_PASSWORD)).exop(PASSWORD_MODIFY, stolen))).toMatchObject({ code: 50 });
      await client(resetTarget.upn, USER_PASSWORD);
    });

    it('a provisioning account resets another user`s password through the service account', async () => {
      const provisioning = await client(PROVISIONING, ACCOUNT_PASSWORD);
      await provisioning.exop(PASSWORD_MODIFY, passwordModifyValue({ user: resetTarget.virtual.text, new: resetPassword }));
      await client(resetTarget.upn, resetPassword);
      expect(await failure(client(resetTarget.upn, USER_PASSWORD))).toMatchObject({ code: 49 });
      // The reader may not.
      const reader = await client(READER, ACCOUNT_PASSWORD);
      expect(await failure(reader.exop(PASSWORD_MODIFY, passwordModifyValue({ user: resetTarget.virtual.text, new: 'Reader-Passw0rd!' })))).toMatchObject({
        code: 50,
      });
    });

    it('never writes a password to the log', () => {
      expect(stack.log.some((l) => l.includes('"op":"extended"'))).toBe(true);
      for (const secret of [USER_PASSWORD, ACCOUNT_PASSWORD, newPassword, resetPassword, 'Wrong-Passw0rd!', 'Hidden-Passw0rd!', 'Stolen-Passw0rd!']) {
        expect(stack.log.filter((l) => l.includes(secret))).toEqual([]);
      }
    });
  });
}

describeWrites('writes through the virtual tree: memory forests', startMemoryStack);
describeWrites('writes through the virtual tree: ldap forests over slapd', startSlapdStack);

describe('writes to ldap forests', () => {
  it('unicodePwd is written only over an encrypted upstream connection', async () => {
    const stack = await startSlapdStack();
    const c = new Client({ url: stack.url, timeout: 10_000 });
    try {
      await c.bind(PROVISIONING, ACCOUNT_PASSWORD);
      const change = new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [Buffer.from('"New-Passw0rd!"', 'utf16le')] }) });
      expect(await failure(c.modify(jdoe.virtual.text, [change]))).toMatchObject({ code: 53, message: expect.stringMatching(/encrypted/) as unknown });
      // An account created with its password: the same.
      const dn = `CN=With Password,${usersOu(avvid)}`;
      const attribute = (type: string, ...values: string[]) => new Attribute({ type, values });
      const added = c.add(dn, [attribute('objectClass', 'top', 'person'), attribute('cn', 'With Password'), attribute('sn', 'Password'), change.modification]);
      expect(await failure(added)).toMatchObject({ code: 53, message: expect.stringMatching(/encrypted/) as unknown });
      expect(await stack.backing.read(avvid, Dn.parse(`CN=With Password,OU=Users,${avvid.base}`), ['cn'])).toBeUndefined();
    } finally {
      await c.unbind();
      await stack.close();
    }
  });

  it('a forest user`s login costs no upstream connection of its own: opened at its first write, closed on rebind, unbind and disconnect', async () => {
    const monitor = `database monitor\naccess to * by dn.exact="CN=admin,${avvid.base}" read by * none`;
    const slapd = await startSlapd({ suffix: avvid.base, ldif: [avvid.ldif], extraConfig: `${slapdAcl(avvid.base)}\n${monitor}` });
    const server = await startTestServer(await canopyConfig([ldapForest(avvid, [slapd.url])]));
    const upstreamConnections = (): Promise<number> => monitoredConnections(slapd);
    const settles = (expected: number) => vi.waitFor(async () => expect(await upstreamConnections()).toBe(expected), { timeout: 5000, interval: 50 });
    const c = new Client({ url: server.url, timeout: 10_000 });
    try {
      await c.bind(selfWriter.upn, USER_PASSWORD);
      const loggedIn = await upstreamConnections(); // the service connection of the lookup and a bind connection
      // Logins, one after another, re-bind the same bind connection.
      for (let i = 0; i < 20; i++) {
        const other = new Client({ url: server.url });
        await other.bind(selfWriter.upn, USER_PASSWORD);
        await other.unbind();
      }
      expect(await upstreamConnections()).toBe(loggedIn);
      // Its first write opens the user's own connection: the forest's permissions decide.
      await c.modify(selfWriter.virtual.text, [replace('telephoneNumber', '+1 408 555 0166')]);
      await settles(loggedIn + 1);
      await c.bind(PROVISIONING, ACCOUNT_PASSWORD);
      await settles(loggedIn);
      await c.bind(selfWriter.upn, USER_PASSWORD);
      expect(await upstreamConnections()).toBe(loggedIn);
      // Still its own identity after the rebind.
      await c.modify(selfWriter.virtual.text, [replace('telephoneNumber', '+1 408 555 0167')]);
      await settles(loggedIn + 1);
      await c.unbind();
      await settles(loggedIn);
      const dropped = new Client({ url: server.url });
      await dropped.bind(selfWriter.virtual.text, USER_PASSWORD);
      await dropped.modify(selfWriter.virtual.text, [replace('telephoneNumber', '+1 408 555 0168')]);
      await settles(loggedIn + 1);
      (dropped as unknown as { socket: { destroy(): void } }).socket.destroy(); // gone without an unbind
      await settles(loggedIn);
    } finally {
      await c.unbind().catch(() => undefined);
      await server.close();
      await slapd.stop();
    }
  });

  it('a reload that replaces a forest closes the upstream connections its users held; their writes then ask to bind again', async () => {
    const monitor = `database monitor\naccess to * by dn.exact="CN=admin,${avvid.base}" read by * none`;
    const slapd = await startSlapd({ suffix: avvid.base, ldif: [avvid.ldif], extraConfig: `${slapdAcl(avvid.base)}\n${monitor}` });
    const yaml = async (operationMs: number) => canopyConfig([{ ...ldapForest(avvid, [slapd.url]), timeouts: { connectMs: 2000, operationMs } }]);
    const server = await startTestServer(await yaml(5000));
    const c = new Client({ url: server.url, timeout: 10_000 });
    try {
      await c.bind(selfWriter.upn, USER_PASSWORD);
      await c.modify(selfWriter.virtual.text, [replace('telephoneNumber', '+1 408 555 0154')]); // opens the user's own connection
      await server.reload(parseConfig(`listen: { ldap: "ldap://127.0.0.1:0" }\nhttp: { port: 0 }\n${await yaml(6000)}`, { source: 'test', baseDir: repoRoot }));
      // The replaced forest's pool and the user's own connection are gone: nothing of Canopy's is left on slapd.
      await vi.waitFor(async () => expect(await monitoredConnections(slapd)).toBe(0), { timeout: 5000, interval: 50 });
      expect(await failure(c.modify(selfWriter.virtual.text, [replace('telephoneNumber', '+1 408 555 0155')]))).toMatchObject({
        code: 52,
        message: expect.stringMatching(/bind again/) as unknown,
      });
      await c.bind(selfWriter.upn, USER_PASSWORD);
      await c.modify(selfWriter.virtual.text, [replace('telephoneNumber', '+1 408 555 0155')]);
    } finally {
      await c.unbind().catch(() => undefined);
      await server.close();
      await slapd.stop();
    }
  });

  it('a write is sent once: a connection lost after sending answers "result unknown" and is never retried elsewhere', () =>
    withDroppingFirstServer(async (c, first, second) => {
      const lost = await failure(c.modify(jdoe.virtual.text, [replace('telephoneNumber', '+1 555 0199')]));
      expect(lost.code).toBe(80);
      expect(lost.message).toMatch(/result unknown: the write may or may not have been applied/);
      expect(first.modifies).toBe(1);
      expect(second.modifies).toBe(0);
      // The next write goes to the server that is still up.
      await c.modify(jdoe.virtual.text, [replace('telephoneNumber', '+1 555 0198')]);
      expect([first.modifies, second.modifies]).toEqual([1, 1]);
    }));

  it('a compare is a read: a connection lost after sending it is retried once on the next server', () =>
    withDroppingFirstServer(async (c, first, second) => {
      expect(await c.compare(jdoe.virtual.text, 'sAMAccountName', 'jdoe')).toBe(true);
      expect([first.compares, second.compares]).toEqual([1, 1]);
    }));
});


/** An ldap forest of two stand-in servers, the first dropping its connection on a modify or compare; the client is bound as the provisioning account. */
async function withDroppingFirstServer(test: (c: Client, first: FakeUpstream, second: FakeUpstream) => Promise<void>): Promise<void> {
  const first = await startFakeUpstream({ writes: 'drop' });
  const second = await startFakeUpstream({ writes: 'answer' });
  const server = await startTestServer(await canopyConfig([ldapForest(avvid, [first.url, second.url])]));
  const c = new Client({ url: server.url, timeout: 10_000 });
  try {
    await c.bind(PROVISIONING, ACCOUNT_PASSWORD);
    await test(c, first, second);
  } finally {
    await c.unbind();
    await server.close();
    await Promise.all([first.close(), second.close()]);
  }
}

/** Connections a slapd with `database monitor` has open, besides the one asking. */
async function monitoredConnections(slapd: Slapd): Promise<number> {
  const c = new Client({ url: slapd.url, timeout: 5000 });
  try {
    await c.bind(slapd.rootDn, slapd.rootPassword);
    const { searchEntries } = await c.search('cn=Current,cn=Connections,cn=Monitor', { scope: 'base', attributes: ['monitorCounter'] });
    return Number(searchEntries[0].monitorCounter) - 1;
  } finally {
    await c.unbind();
  }
}

/**
 * Memory forests imitate Active Directory where a login depends on it: a user may not rename its
 * own logins (AD grants SELF no write on them), and no write gives an account a login name another
 * account holds (AD's uniqueness checks). ldap forests leave both to the forest's own server.
 */
describe('memory forests: the names others log in by', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startMemoryStack();
  });
  afterAll(async () => {
    await stack?.close();
  });
  const ldapmodify = (name: string, password: string, ldif: string) => runLdapTool('ldapmodify', ['-x', '-H', stack.url, '-D', name, '-w', password], ldif);
  const modifyLdif = (dn: Dn, ...changes: [op: string, type: string, value: string][]) =>
    `dn: ${dn.text}\nchangetype: modify\n${changes.map(([op, type, value]) => `${op}: ${type}\n${type}: ${value}\n-\n`).join('')}`;
  const logsIn = async (name: string, password: string): Promise<boolean> => {
    const c = new Client({ url: stack.url, timeout: 10_000 });
    try {
      await c.bind(name, password);
      return true;
    } catch {
      return false;
    } finally {
      await c.unbind().catch(() => undefined);
    }
  };
  const logins = ['sAMAccountName', 'userPrincipalName', 'uid', 'mail', 'telephoneNumber'];
  /** The login attributes (and the phone number) as the forest stores them. */
  const stored = async (dn: Dn): Promise<Record<string, string[] | undefined>> => {
    const all = await stack.backing.read(avvid, dn, logins);
    return Object.fromEntries(logins.map((a) => [a.toLowerCase(), all?.[a.toLowerCase()]]));
  };

  it('a user may not change its own sAMAccountName, userPrincipalName, uid or mail, by any name of the type (insufficientAccessRights)', async () => {
    const before = await stored(selfWriter.upstream);
    const attempts: [string, string, string][] = [
      ['replace', 'sAMAccountName', 'jdoe'],
      ['replace', 'SAMACCOUNTNAME', 'jdoe'],
      ['replace', '1.2.840.113556.1.4.221', 'jdoe'],
      ['replace', 'userPrincipalName', 'jdoe@avvid.info'],
      ['replace', '1.2.840.113556.1.4.656', 'jdoe@avvid.info'],
      ['delete', 'userPrincipalName', selfWriter.upn],
      ['add', 'uid', 'jdoe'],
      ['add', 'userid', 'jdoe'],
      ['add', '0.9.2342.19200300.100.1.1', 'jdoe'],
      ['add', 'uid;lang-en', 'jdoe'],
      ['replace', 'mail', 'john.doe@avvid.info'],
      ['replace', 'rfc822Mailbox', 'john.doe@avvid.info'],
    ];
    for (const attempt of attempts) {
      const r = await ldapmodify(selfWriter.upn, USER_PASSWORD, modifyLdif(selfWriter.virtual, attempt));
      expect(r.status, `${attempt.join(' ')}: ${r.stderr}`).toBe(50);
    }
    // All or nothing: a phone number changed together with a login name is not changed either.
    const mixed = await ldapmodify(selfWriter.upn, USER_PASSWORD, modifyLdif(selfWriter.virtual, ['replace', 'telephoneNumber', '+1 408 555 0111'], ['replace', 'sAMAccountName', 'jdoe']));
    expect(mixed.status, mixed.stderr).toBe(50);
    expect(await stored(selfWriter.upstream)).toEqual(before);
    // Its own phone number it still changes.
    const phone = await ldapmodify(selfWriter.upn, USER_PASSWORD, modifyLdif(selfWriter.virtual, ['replace', 'telephoneNumber', '+1 408 555 0112']));
    expect(phone.status, phone.stderr).toBe(0);
    expect(await stored(selfWriter.upstream)).toEqual({ ...before, telephonenumber: ['+1 408 555 0112'] });
    // jdoe's logins still name one account.
    for (const name of [jdoe.upn, 'AVVID\\jdoe']) expect(await logsIn(name, USER_PASSWORD), name).toBe(true);
  });

  it('a user changes only what AD lets SELF on its own entry: identity, account state, class and groups are refused (insufficientAccessRights)', async () => {
    const guarded = ['objectGUID', 'objectSid', 'userAccountControl', 'accountExpires', 'pwdLastSet', 'lockoutTime', 'objectClass', 'memberOf', 'description'];
    const before = await stack.backing.read(avvid, selfWriter.upstream, guarded);
    const attempts: [string, string, string][] = [
      ['replace', 'objectGUID', 'AAAAAAAAAAAAAAAAAAAAAA=='],
      ['replace', 'objectSid', 'S-1-5-21-1-2-3-500'],
      ['replace', 'userAccountControl', '66048'],
      ['replace', '1.2.840.113556.1.4.8', '66048'],
      ['replace', 'accountExpires', '0'],
      ['replace', 'pwdLastSet', '-1'],
      ['replace', 'lockoutTime', '0'],
      ['add', 'objectClass', 'computer'],
      ['add', 'memberOf', `CN=Domain Admins,CN=Users,${avvid.mount}`],
      ['replace', 'description', 'self-described'],
    ];
    for (const attempt of attempts) {
      const r = await ldapmodify(selfWriter.upn, USER_PASSWORD, modifyLdif(selfWriter.virtual, attempt));
      expect(r.status, `${attempt.join(' ')}: ${r.stderr}`).toBe(50);
      expect(r.stderr).toContain(`a user may not change ${attempt[1]} of its own entry`);
    }
    expect(await stack.backing.read(avvid, selfWriter.upstream, guarded)).toEqual(before);
    // Its Personal-Information and Web-Information it changes, by any name of the type.
    const own = await ldapmodify(
      selfWriter.upn,
      USER_PASSWORD,
      modifyLdif(selfWriter.virtual, ['replace', 'mobileTelephoneNumber', '+1 408 555 0113'], ['replace', 'streetAddress', '1 Main St'], ['replace', 'wWWHomePage', 'https://avvid.info/~hsanchez']),
    );
    expect(own.status, own.stderr).toBe(0);
    const after = await stack.backing.read(avvid, selfWriter.upstream, ['mobile', 'street', 'wWWHomePage']);
    expect([after?.mobile, after?.streetaddress, after?.wwwhomepage]).toEqual([['+1 408 555 0113'], ['1 Main St'], ['https://avvid.info/~hsanchez']]);
  });

  it('no write gives an account a login name another holds: UPN constraintViolation (19), sAMAccountName entryAlreadyExists (68), as AD answers', async () => {
    const target = resetTarget;
    const before = await stored(target.upstream);
    const refused: [[string, string, string], number][] = [
      [['replace', 'userPrincipalName', 'jdoe@avvid.info'], 19],
      [['replace', 'userPrincipalName', 'JDoe@AVVID.INFO'], 19],
      [['replace', '1.2.840.113556.1.4.656', 'jdoe@avvid.info'], 19],
      [['replace', 'sAMAccountName', 'jdoe'], 68],
      [['replace', 'sAMAccountName', 'JDOE'], 68],
      [['replace', '1.2.840.113556.1.4.221', 'jdoe'], 68],
    ];
    for (const [attempt, code] of refused) {
      const r = await ldapmodify(PROVISIONING, ACCOUNT_PASSWORD, modifyLdif(target.virtual, attempt));
      expect(r.status, `${attempt.join(' ')}: ${r.stderr}`).toBe(code);
    }
    expect(await stored(target.upstream)).toEqual(before);

    const add = (sam: string, upn: string) =>
      ldapmodify(
        PROVISIONING,
        ACCOUNT_PASSWORD,
        `dn: CN=Second Doe,${usersOu(avvid)}\nchangetype: add\nobjectClass: user\ncn: Second Doe\nsAMAccountName: ${sam}\nuserPrincipalName: ${upn}\n`,
      );
    expect((await add('jdoe', 'second.doe@avvid.info')).status).toBe(68);
    expect((await add('sdoe', 'JDOE@avvid.info')).status).toBe(19);
    expect(await stack.backing.read(avvid, Dn.parse(`CN=Second Doe,OU=Users,${avvid.base}`), ['cn'])).toBeUndefined();

    // Its own values it keeps, and a free name it gets; the login follows.
    const keep = await ldapmodify(PROVISIONING, ACCOUNT_PASSWORD, modifyLdif(target.virtual, ['replace', 'sAMAccountName', before.samaccountname![0].toUpperCase()]));
    expect(keep.status, keep.stderr).toBe(0);
    const renamed = await ldapmodify(PROVISIONING, ACCOUNT_PASSWORD, modifyLdif(target.virtual, ['replace', 'userPrincipalName', 'a.gonzalez@avvid.info']));
    expect(renamed.status, renamed.stderr).toBe(0);
    expect(await logsIn('a.gonzalez@avvid.info', USER_PASSWORD)).toBe(true);
    expect(await logsIn(target.upn, USER_PASSWORD)).toBe(false);
    expect(await logsIn(jdoe.upn, USER_PASSWORD)).toBe(true);
  });
});
