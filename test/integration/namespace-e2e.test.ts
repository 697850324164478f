/**
 * The namespace end to end: one behaviour suite over the default configuration's virtual tree
 * (dc=corp,dc=example over avvid and vse), run twice with the same expectations — once with the
 * memory backend, once with each forest served by its own slapd through the ldap backend (the
 * parity requirement). Every expected value is derived from the fixture LDIF, rebased from the
 * forest's base to its mount.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Attribute, Change, Client, EqualityFilter, type Entry as LdaptsEntry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sidToText } from '../../src/core/sid.js';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js';
import type { NamespaceConfig } from '../../src/config/schema.js';
import type { Directory, Scope, SearchContext, SearchRequest, SearchStream } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import type { Entry } from '../../src/core/entry.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer } from '../../src/server.js';
import { SERVICE_ACCOUNT, SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { ldapForestConfig, serviceWriteAcl } from './ldap-helpers.js';

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
const CISCO_FILTER = '(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))';
const ADLDS_FILTER = '(&(objectclass=user)(!(objectclass=Computer))(!(msDS-UserAccountDisabled=TRUE)))';
/** Below each forest's size, so only upstream paging returns a whole forest. */
const SLAPD_SIZE_LIMIT = 20;

const defaults = loadConfigFile(DEFAULT_CONFIG, { ...process.env, CANOPY_HOST: '127.0.0.1', CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0', CANOPY_LOG_LEVEL: 'silent' });
const SUFFIX = Dn.parse(defaults.namespace!.suffix);

interface Forest {
  readonly name: string;
  readonly base: Dn;
  readonly mount: Dn;
  readonly priority: number;
  readonly upnSuffixes: Readonly<Record<string, string>>;
  readonly ldif: string;
  readonly entries: readonly Entry[];
}

const forests: Forest[] = defaults.forests.map((f) => {
  if (f.backend !== 'memory') throw new Error(`config/default.yaml: forest ${f.name} is expected to be a memory forest`);
  return {
    name: f.name,
    base: Dn.parse(f.base),
    mount: Dn.parse(f.mount!),
    priority: f.priority,
    upnSuffixes: f.upnSuffixes,
    ldif: f.ldif[0],
    entries: parseLdif(readFileSync(f.ldif[0], 'utf8'), f.ldif[0]).map((r) => r.entry),
  };
});
const forest = (name: string): Forest => forests.find((f) => f.name === name)!;
const avvid = forest('avvid');
const vse = forest('vse');

const values = (e: Entry, name: string): string[] => (e.get(name)?.values ?? []).map(String);
const classes = (e: Entry): string[] => values(e, 'objectClass').map((c) => c.toLowerCase());
/** An LDIF DN (or DN value) of forest `f` as it appears in the virtual tree. */
const virtual = (f: Forest, dn: string | Dn): Dn => (typeof dn === 'string' ? Dn.parse(dn) : dn).rebase(f.base, f.mount);
const bySam = (f: Forest, sam: string): Entry => f.entries.find((e) => values(e, 'sAMAccountName').some((v) => v.toLowerCase() === sam))!;
const jdoe = (f: Forest): Entry => bySam(f, 'jdoe');

/** Every DN the virtual tree should hold: the synthetic suffix and each forest's LDIF, rebased. */
const universe: Dn[] = [SUFFIX, ...forests.flatMap((f) => f.entries.map((e) => virtual(f, e.dn)))];
function inScope(base: Dn, scope: Scope): string[] {
  const hit = (dn: Dn): boolean =>
    scope === 'base' ? dn.equals(base) : scope === 'one' ? dn.parent()?.equals(base) === true : dn.isWithin(base);
  return universe.filter(hit).map((dn) => dn.key).sort();
}
const keys = (dns: Iterable<string | Dn>): string[] => [...dns].map((d) => (typeof d === 'string' ? Dn.parse(d) : d).key).sort();
const virtualKeys = (f: Forest, entries: readonly Entry[]): string[] => keys(entries.map((e) => virtual(f, e.dn)));

/** A counting wrapper under the namespace stage: how many searches reached each forest's backend. */
class CountingDirectory implements Directory {
  searches = 0;
  constructor(private readonly inner: Directory) {}
  namingContexts = (): readonly Dn[] => this.inner.namingContexts();
  search(request: SearchRequest, ctx: SearchContext): SearchStream {
    this.searches++;
    return this.inner.search(request, ctx);
  }
  bind = (...a: Parameters<Directory['bind']>): Promise<void> => this.inner.bind(...a);
  add = (...a: Parameters<Directory['add']>): Promise<void> => this.inner.add(...a);
  modify = (...a: Parameters<Directory['modify']>): Promise<void> => this.inner.modify(...a);
  delete = (...a: Parameters<Directory['delete']>): Promise<void> => this.inner.delete(...a);
  modifyDn = (...a: Parameters<Directory['modifyDn']>): Promise<void> => this.inner.modifyDn(...a);
  compare = (...a: Parameters<Directory['compare']>): Promise<boolean> => this.inner.compare(...a);
  passwordModify = (...a: Parameters<Directory['passwordModify']>): Promise<void> => this.inner.passwordModify(...a);
  close = (): Promise<void> => this.inner.close();
}

interface Started {
  readonly url: string;
  close(): Promise<void>;
  /** Searches each forest's backend has received so far. */
  backendCalls(): Record<string, number>;
}

type NamespaceOverride = Partial<Pick<NamespaceConfig, 'onDuplicate' | 'uniqueAttributes'>> & {
  /** Attributes every forest declares DN-valued (attributes.dnValued). */
  readonly dnValued?: readonly string[];
};

async function startStack(config: LoadedConfig, { dnValued = [], ...namespace }: NamespaceOverride = {}): Promise<Started> {
  const counters = new Map<string, CountingDirectory>();
  const forests = config.forests.map((f) => ({ ...f, attributes: { ...f.attributes, dnValued: [...f.attributes.dnValued, ...dnValued] } }));
  const server = await startServer(
    // These suites read the tree anonymously: access rules are tested in auth-access.test.ts.
    { ...config, forests, namespace: { ...config.namespace!, ...namespace }, access: [{ who: '*', what: { dn: '', scope: 'subtree' }, allow: 'write' }] },
    {
      logger: createLogger('silent'),
      wrapBackend: (name, directory) => {
        const counting = new CountingDirectory(directory);
        counters.set(name, counting);
        return counting;
      },
    },
  );
  return {
    url: server.urls[0],
    close: () => server.close(),
    backendCalls: () => Object.fromEntries([...counters].map(([name, c]) => [name, c.searches])),
  };
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ url, timeout: 10_000 });
  try {
    return await fn(client);
  } finally {
    await client.unbind();
  }
}

const attr = (e: LdaptsEntry, name: string): (string | Buffer)[] => {
  const key = Object.keys(e).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined) return [];
  const v = e[key];
  return Array.isArray(v) ? v : [v];
};

async function search(url: string, base: string, options: Parameters<Client['search']>[1] = {}): Promise<LdaptsEntry[]> {
  return withClient(url, async (c) => (await c.search(base, options)).searchEntries);
}

/** ldapsearch's exit status (the LDAP result code), its entries parsed as LDIF, and its full output. */
async function ldapsearch(url: string, base: string, scope: Scope, filter: string, attributes: string[] = ['1.1']) {
  const r = await runLdapTool('ldapsearch', ['-x', '-H', url, '-LLL', '-o', 'ldif-wrap=no', '-b', base, '-s', scope, filter, ...attributes]);
  const entries = r.status === 0 ? parseLdif(r.stdout, 'ldapsearch').map((x) => x.entry) : [];
  return { status: r.status, entries, output: r.stdout + r.stderr };
}

function describeNamespaceSuite(name: string, start: (namespace?: NamespaceOverride) => Promise<Started>): void {
  describe(name, () => {
    let server: Started;
    let url: string;

    beforeAll(async () => {
      server = await start();
      url = server.url;
    });
    afterAll(() => server?.close());

    const userDn = virtual(avvid, jdoe(avvid).dn);
    const bases = [SUFFIX, avvid.mount, virtual(avvid, `OU=Users,${avvid.base.text}`), userDn];
    const scopes: Scope[] = ['base', 'one', 'sub'];

    for (const base of bases) {
      for (const scope of scopes) {
        it(`${scope} search at ${base.text} returns the DNs the LDIF implies (ldapts and ldapsearch)`, async () => {
          const expected = inScope(base, scope);
          const found = await search(url, base.text, { scope, attributes: ['1.1'] });
          expect(keys(found.map((e) => e.dn))).toEqual(expected);
          const tool = await ldapsearch(url, base.text, scope, '(objectClass=*)');
          expect(tool.status).toBe(0);
          expect(keys(tool.entries.map((e) => e.dn))).toEqual(expected);
        });
      }
    }

    it('the synthetic suffix entry exists and its children are exactly the mounts', async () => {
      const [suffix] = await search(url, SUFFIX.text, { scope: 'base' });
      expect(Dn.parse(suffix.dn).key).toBe(SUFFIX.key);
      const children = await search(url, SUFFIX.text, { scope: 'one', attributes: ['1.1'] });
      expect(keys(children.map((e) => e.dn))).toEqual(keys(forests.map((f) => f.mount)));
    });

    it('manager and memberOf come back in the virtual tree and select entries in a filter', async () => {
      const source = jdoe(avvid);
      const [entry] = await search(url, userDn.text, { scope: 'base', attributes: ['manager', 'memberOf'] });
      const manager = virtual(avvid, values(source, 'manager')[0]);
      expect(keys(attr(entry, 'manager').map(String))).toEqual([manager.key]);
      expect(keys(attr(entry, 'memberOf').map(String))).toEqual(keys(values(source, 'memberOf').map((v) => virtual(avvid, v))));

      // Colleagues: everyone in the LDIF with the same manager (within avvid only).
      const colleagues = avvid.entries.filter((e) => values(e, 'manager').some((v) => Dn.parse(v).equals(Dn.parse(values(source, 'manager')[0]))));
      expect(colleagues.length).toBeGreaterThan(1);
      const found = await search(url, SUFFIX.text, { filter: `(manager=${manager.text})`, attributes: ['1.1'] });
      expect(keys(found.map((e) => e.dn))).toEqual(virtualKeys(avvid, colleagues));

      const group = values(source, 'memberOf')[0];
      const members = avvid.entries.filter((e) => values(e, 'memberOf').some((v) => Dn.parse(v).equals(Dn.parse(group))));
      const inGroup = await search(url, SUFFIX.text, { filter: `(memberOf=${virtual(avvid, group).text})`, attributes: ['1.1'] });
      expect(keys(inGroup.map((e) => e.dn))).toEqual(virtualKeys(avvid, members));
    });

    it("a DN value naming the other forest's entry matches nothing in this one", async () => {
      // jdoe exists in both forests at the same relative DN and manages people in both: a rewrite
      // that only stripped suffixes would let avvid's jdoe match vse's reports.
      const reports = (f: Forest) => f.entries.filter((e) => values(e, 'manager').some((v) => Dn.parse(v).equals(jdoe(f).dn)));
      expect(reports(vse).length).toBeGreaterThan(0);
      expect(reports(avvid).length).toBeGreaterThan(0);
      const filter = `(manager=${userDn.text})`;
      expect(await search(url, vse.mount.text, { filter, attributes: ['1.1'] })).toEqual([]);
      const all = await search(url, SUFFIX.text, { filter, attributes: ['1.1'] });
      expect(keys(all.map((e) => e.dn))).toEqual(virtualKeys(avvid, reports(avvid)));
    });

    it("substring assertions on DN values use the virtual suffix; the forest's own spelling and another forest's mount match nothing", async () => {
      // description declared DN-valued holds a DN: slapd has substring matching for it (none for DN syntax), like the memory forest.
      const stack = await start({ dnValued: ['description'] });
      try {
        const manager = virtual(avvid, values(jdoe(avvid), 'manager')[0]);
        const service = avvid.entries.find((e) => values(e, 'sAMAccountName').includes(SERVICE_ACCOUNT))!;
        await withClient(stack.url, async (c) => {
          await c.bind(virtual(avvid, service.dn).text, SERVICE_PASSWORD);
          await c.modify(userDn.text, new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: [manager.text] }) }));
        });
        const [read] = await search(stack.url, userDn.text, { scope: 'base', attributes: ['description'] });
        expect(attr(read, 'description')).toEqual([manager.text]);

        /** The entries a filter finds at the suffix, and the forests asked. */
        const find = async (filter: string) => {
          const before = stack.backendCalls();
          const found = await search(stack.url, SUFFIX.text, { filter, attributes: ['1.1'] });
          const after = stack.backendCalls();
          return { found: keys(found.map((e) => e.dn)), asked: forests.filter((f) => after[f.name] > before[f.name]).map((f) => f.name) };
        };
        const users = manager.parent()!;
        expect(await find(`(description=*,${users.text})`)).toEqual({ found: [userDn.key], asked: [avvid.name] });
        expect(await find(`(description=${manager.rdns[0].text.slice(0, 6)}*)`)).toEqual({ found: [userDn.key], asked: [avvid.name, vse.name] });
        expect(await find(`(description=*,${users.rebase(avvid.mount, avvid.base).text})`)).toEqual({ found: [], asked: [] });
        expect(await find(`(description=*,${vse.mount.text})`)).toEqual({ found: [], asked: [vse.name] });
      } finally {
        await stack.close();
      }
    });

    it("Cisco's and AD LDS's disabled-user filters return the LDIF's enabled non-computer users of both forests", async () => {
      const enabled = (e: Entry) =>
        classes(e).includes('user') && !classes(e).includes('computer') && (Number(values(e, 'userAccountControl')[0]) & 2) === 0;
      const expected = keys(forests.flatMap((f) => f.entries.filter(enabled).map((e) => virtual(f, e.dn))));
      const disabledUsers = forests.flatMap((f) => f.entries.filter((e) => classes(e).includes('user') && !enabled(e)));
      expect(disabledUsers.length).toBeGreaterThan(0);
      for (const filter of [CISCO_FILTER, ADLDS_FILTER]) {
        const found = await search(url, SUFFIX.text, { filter, attributes: ['1.1'] });
        expect(keys(found.map((e) => e.dn)), filter).toEqual(expected);
        const tool = await ldapsearch(url, SUFFIX.text, 'sub', filter);
        expect(tool.status).toBe(0);
        expect(keys(tool.entries.map((e) => e.dn)), filter).toEqual(expected);
      }
    });

    it('msDS-UserAccountDisabled requested by name is TRUE for a 514 user and FALSE for a 512 user', async () => {
      const byUac = (uac: string) => avvid.entries.find((e) => classes(e).includes('user') && values(e, 'userAccountControl')[0] === uac)!;
      for (const [uac, expected] of [
        ['514', 'TRUE'],
        ['512', 'FALSE'],
      ]) {
        const [entry] = await search(url, virtual(avvid, byUac(uac).dn).text, { scope: 'base', attributes: ['msDS-UserAccountDisabled'] });
        expect(attr(entry, 'msDS-UserAccountDisabled'), uac).toEqual([expected]);
      }
    });

    it('finds jdoe by objectGUID (binary equality) and returns the same bytes', async () => {
      const guid = jdoe(avvid).get('objectGUID')!.values[0] as Buffer;
      expect(Buffer.isBuffer(guid)).toBe(true);
      const owners = forests.flatMap((f) => f.entries.filter((e) => e.get('objectGUID')?.values.some((v) => guid.equals(v as Buffer))).map((e) => virtual(f, e.dn)));
      expect(keys(owners)).toEqual([userDn.key]);

      const found = await search(url, SUFFIX.text, {
        filter: new EqualityFilter({ attribute: 'objectGUID', value: guid }),
        attributes: ['objectGUID'],
        explicitBufferAttributes: ['objectGUID'],
      });
      expect(keys(found.map((e) => e.dn))).toEqual([userDn.key]);
      expect(attr(found[0], 'objectGUID')).toEqual([guid]);

      const escaped = guid.toString('hex').replace(/../g, '\\$&');
      const tool = await ldapsearch(url, SUFFIX.text, 'sub', `(objectGUID=${escaped})`, ['objectGUID']);
      expect(tool.status).toBe(0);
      expect(keys(tool.entries.map((e) => e.dn))).toEqual([userDn.key]);
      expect(tool.entries[0].get('objectGUID')?.values).toEqual([guid]);
    });

    it('finds jdoe and its primary group by objectSid in string form, as Active Directory and SSSD do', async () => {
      const sid = jdoe(avvid).get('objectSid')!.values[0] as Buffer;
      const text = sidToText(sid)!;
      expect(text).toMatch(/^S-1-5-21-\d+-\d+-\d+-\d+$/);
      const byText = await ldapsearch(url, SUFFIX.text, 'sub', `(objectSid=${text})`, ['objectSid']);
      expect(byText.status).toBe(0);
      expect(keys(byText.entries.map((e) => e.dn))).toEqual([userDn.key]);
      expect(byText.entries[0].get('objectSid')?.values).toEqual([sid]);
      // Domain Users: the domain's SID with RID 513, jdoe's primaryGroupID.
      expect(jdoe(avvid).get('primaryGroupID')?.values).toEqual(['513']);
      const group = await ldapsearch(url, SUFFIX.text, 'sub', `(&(objectClass=group)(objectSid=${text.replace(/-\d+$/, '-513')}))`, ['cn']);
      expect(group.entries.map((e) => e.get('cn')?.values[0])).toEqual(['Domain Users']);
    });

    it('hidden attributes are never returned or matched', async () => {
      expect(values(jdoe(avvid), 'userPassword')).toEqual([USER_PASSWORD]);
      for (const attributes of [['*'], ['userPassword'], ['*', 'userPassword']]) {
        // ldapts lists every requested attribute, with no values when none came back.
        const [entry] = await search(url, userDn.text, { scope: 'base', attributes });
        expect(attr(entry, 'userPassword'), attributes.join(' ')).toEqual([]);
        const tool = await ldapsearch(url, userDn.text, 'base', '(objectClass=*)', attributes);
        expect(tool.status).toBe(0);
        expect(tool.entries.map((e) => e.has('userPassword')), attributes.join(' ')).toEqual([false]);
      }
      const [all] = await search(url, userDn.text, { scope: 'base', attributes: ['*'] });
      expect(attr(all, 'sAMAccountName')).toEqual(['jdoe']); // the entry itself is readable
      expect(await search(url, SUFFIX.text, { filter: `(userPassword=${USER_PASSWORD})`, attributes: ['1.1'] })).toEqual([]);
    });

    it('(sAMAccountName=jdoe) returns one entry per forest with onDuplicate: all', async () => {
      const found = await search(url, SUFFIX.text, { filter: '(sAMAccountName=jdoe)', attributes: ['1.1'] });
      expect(keys(found.map((e) => e.dn))).toEqual(keys(forests.map((f) => virtual(f, jdoe(f).dn))));
      expect(found).toHaveLength(2);
    });

    it("(sAMAccountName=jdoe) returns only the preferred forest's with onDuplicate: priority", async () => {
      const preferred = [...forests].sort((a, b) => a.priority - b.priority)[0];
      const ranked = await start({ onDuplicate: 'priority', uniqueAttributes: ['sAMAccountName'] });
      try {
        for (const attributes of [['1.1'], ['cn'], []]) {
          const found = await search(ranked.url, SUFFIX.text, { filter: '(sAMAccountName=jdoe)', attributes });
          expect(keys(found.map((e) => e.dn)), attributes.join(' ')).toEqual([virtual(preferred, jdoe(preferred).dn).key]);
        }
        // The forests were asked for sAMAccountName too (to rank duplicates); the client gets what it asked for.
        const [withCn] = await search(ranked.url, SUFFIX.text, { filter: '(sAMAccountName=jdoe)', attributes: ['cn'] });
        expect(Object.keys(withCn).filter((k) => k !== 'dn')).toEqual(['cn']);
      } finally {
        await ranked.close();
      }
    });

    it('a UPN search uses the virtual suffix and reaches only the forest that owns it', async () => {
      const [virtualSuffix, stored] = Object.entries(vse.upnSuffixes)[0];
      expect(values(jdoe(vse), 'userPrincipalName')).toEqual([`jdoe@${stored}`]);
      const before = server.backendCalls();
      const found = await search(url, SUFFIX.text, { filter: `(userPrincipalName=jdoe@${virtualSuffix})`, attributes: ['userPrincipalName'] });
      const after = server.backendCalls();
      expect(keys(found.map((e) => e.dn))).toEqual([virtual(vse, jdoe(vse).dn).key]);
      expect(attr(found[0], 'userPrincipalName')).toEqual([`jdoe@${virtualSuffix}`]);
      expect({ avvid: after.avvid - before.avvid, vse: after.vse - before.vse }).toEqual({ avvid: 0, vse: 1 });

      expect(await search(url, SUFFIX.text, { filter: `(userPrincipalName=jdoe@${stored})`, attributes: ['1.1'] })).toEqual([]);
    });

    it('canopyForest comes with + and by name, not with *', async () => {
      const forestOf = async (attributes: string[]) => attr((await search(url, userDn.text, { scope: 'base', attributes }))[0], 'canopyForest');
      expect(await forestOf(['+'])).toEqual([avvid.name]);
      expect(await forestOf(['canopyForest'])).toEqual([avvid.name]);
      expect(await forestOf(['*'])).toEqual([]);
    });

    it('returns a non-ASCII DN as UTF-8 under the mount', async () => {
      const jose = bySam(avvid, 'jmuller');
      expect(jose.dn.text).toContain('José Müller');
      const expected = virtual(avvid, jose.dn);
      const found = await search(url, avvid.mount.text, { filter: '(sAMAccountName=jmuller)', attributes: ['1.1'] });
      expect(found.map((e) => Dn.parse(e.dn).key)).toEqual([expected.key]);
      expect(found[0].dn).toContain('José Müller');
      const tool = await ldapsearch(url, avvid.mount.text, 'sub', '(sAMAccountName=jmuller)');
      expect(tool.entries.map((e) => e.dn.key)).toEqual([expected.key]);
      expect(tool.entries[0].dn.text).toContain('José Müller');
    });

    it('answers noSuchObject with the matched DN in the virtual tree', async () => {
      for (const [missing, matched] of [
        [`cn=missing,${avvid.mount.text}`, avvid.mount],
        [`ou=nowhere,${SUFFIX.text}`, SUFFIX],
      ] as const) {
        await expect(search(url, missing, { scope: 'base' })).rejects.toMatchObject({ code: 32 });
        const tool = await ldapsearch(url, missing, 'base', '(objectClass=*)');
        expect(tool.status, missing).toBe(32);
        const line = /^Matched DN: (.*)$/m.exec(tool.output);
        expect(line, tool.output).not.toBeNull();
        expect(Dn.parse(line![1]).key, missing).toBe(matched.key);
      }
    });

    it('writes ipPhone through the proxy and reads it back', async () => {
      const before = values(jdoe(avvid), 'ipPhone')[0];
      const next = String((Number(before) + 1) % 10_000).padStart(4, '0');
      const service = avvid.entries.find((e) => values(e, 'sAMAccountName').includes(SERVICE_ACCOUNT))!;
      await withClient(url, async (c) => {
        await c.bind(virtual(avvid, service.dn).text, SERVICE_PASSWORD);
        await c.modify(userDn.text, new Change({ operation: 'replace', modification: new Attribute({ type: 'ipPhone', values: [next] }) }));
      });
      const [entry] = await search(url, userDn.text, { scope: 'base', attributes: ['ipPhone'] });
      expect(attr(entry, 'ipPhone')).toEqual([next]);
    });
  });
}

describeNamespaceSuite('namespace end to end: memory forests', (namespace) => startStack(defaults, namespace));

describe('namespace end to end: memory forest diagnostics', () => {
  it('an error message names the entry in the virtual tree, not under the forest base', async () => {
    const stack = await startStack(defaults);
    try {
      const missing = `cn=missing,OU=Users,${avvid.mount.text}`;
      const err = await search(stack.url, missing, { scope: 'base' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 32, message: expect.stringContaining(`"${missing}"`) as unknown });
      expect((err as Error).message.toLowerCase()).not.toContain(avvid.base.key);
    } finally {
      await stack.close();
    }
  });
});

describe('namespace end to end: ldap forests over slapd', () => {
  const slapds = new Map<string, Slapd>();
  let ldapConfig: LoadedConfig;

  beforeAll(async () => {
    await Promise.all(
      forests.map(async (f) => {
        slapds.set(
          f.name,
          await startSlapd({
            suffix: f.base.text,
            ldif: [f.ldif],
            extraConfig: [
              serviceWriteAcl(f.base.text),
              `sizelimit size.soft=${SLAPD_SIZE_LIMIT} size.hard=${SLAPD_SIZE_LIMIT} size.pr=${SLAPD_SIZE_LIMIT} size.prtotal=unlimited`,
              // A refusal whose text names an upstream DN (the unique overlay quotes its filter).
              'moduleload unique',
              'overlay unique',
              'unique_uri ldap:///?seeAlso?sub',
            ].join('\n'),
          }),
        );
      }),
    );
    ldapConfig = {
      ...defaults,
      // The same namespace, mounts, UPN suffixes and hidden attributes; only the backend differs.
      forests: defaults.forests.map((f) =>
        ldapForestConfig(f.base, [slapds.get(f.name)!.url], {
          name: f.name,
          mount: f.mount,
          upnSuffixes: f.upnSuffixes,
          netbiosName: f.netbiosName,
          attributes: f.attributes,
          priority: f.priority,
          pageSize: 10,
        }),
      ),
    };
  });
  afterAll(() => Promise.all([...slapds.values()].map((s) => s.stop())));

  it('the slapd forests are larger than their size limit', () => {
    for (const f of forests) expect(f.entries.length).toBeGreaterThan(SLAPD_SIZE_LIMIT);
  });

  it("slapd's diagnostic message names the entry in the virtual tree, not under the forest base", async () => {
    const stack = await startStack(ldapConfig);
    try {
      const seeAlso = virtual(avvid, bySam(avvid, 'egreen').dn);
      const service = avvid.entries.find((e) => values(e, 'sAMAccountName').includes(SERVICE_ACCOUNT))!;
      const setSeeAlso = (user: Entry) =>
        withClient(stack.url, async (c) => {
          await c.bind(virtual(avvid, service.dn).text, SERVICE_PASSWORD);
          await c.modify(virtual(avvid, user.dn).text, new Change({ operation: 'replace', modification: new Attribute({ type: 'seeAlso', values: [seeAlso.text] }) }));
        });
      await setSeeAlso(jdoe(avvid));
      const err = await setSeeAlso(bySam(avvid, 'egreen')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 19 });
      const message = (err as Error).message.toLowerCase();
      expect(message).toContain(seeAlso.key);
      expect(message).not.toContain(avvid.base.key);
    } finally {
      await stack.close();
    }
  });

  describeNamespaceSuite('same behaviour suite', (namespace) => startStack(ldapConfig, namespace));

  describe('when one forest is down', () => {
    let server: Started;
    beforeAll(async () => {
      server = await startStack(ldapConfig);
      await slapds.get(vse.name)!.kill();
    });
    afterAll(() => server?.close());

    it('a search at the suffix fails with unavailable naming the forest, never a partial success', async () => {
      await expect(search(server.url, SUFFIX.text, { attributes: ['1.1'] })).rejects.toMatchObject({
        code: 52,
        message: expect.stringContaining(vse.name) as unknown,
      });
      const tool = await ldapsearch(server.url, SUFFIX.text, 'sub', '(objectClass=*)');
      expect(tool.status, tool.output).toBe(52);
      // Entries streamed before the failure may precede it; the result itself must name the forest.
      expect(tool.output).toMatch(new RegExp(`^Additional information: .*\\b${vse.name}\\b`, 'm'));
    });

    it("a search inside the live forest's mount still succeeds", async () => {
      const found = await search(server.url, avvid.mount.text, { attributes: ['1.1'] });
      expect(keys(found.map((e) => e.dn))).toEqual(inScope(avvid.mount, 'sub'));
    });
  });
});
