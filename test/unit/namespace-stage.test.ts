import { describe, expect, it } from 'vitest';
import { MemoryDirectory } from '../../src/backends/memory/memory-directory.js';
import { forestSchema } from '../../src/config/schema.js';
import type { Directory, SearchContext, SearchRequest, SearchStream } from '../../src/core/directory.js';
import { SelectedEntry } from '../../src/core/attribute-selection.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { compileForestView } from '../../src/stages/namespace/forest-view.js';
import { NamespaceMap } from '../../src/stages/namespace/namespace-map.js';
import { NamespaceStage } from '../../src/stages/namespace/namespace-stage.js';
import { searchCtx } from '../support/search-context.js';

const GUID = Buffer.from('0b0fe13042daef4eb4455cb1b3ef3d0e', 'hex');

const AVVID_LDIF = `version: 1

dn: DC=avvid,DC=info
objectClass: top
objectClass: domain
dc: avvid

dn: OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: organizationalUnit
ou: Users

dn: CN=John Doe,OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: John Doe
sn: Doe
sAMAccountName: jdoe
userPrincipalName: jdoe@avvid.info
telephoneNumber: +1 555 0100
userAccountControl: 512
manager: CN=Priya Wright,OU=Users,DC=vse,DC=lab
seeAlso: CN=Doe\\, Jane,OU=Users,DC=avvid,DC=info
objectGUID:: ${GUID.toString('base64')}
userPassword: secret

dn: CN=Doe\\, Jane,OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Doe, Jane
sn: Doe
sAMAccountName: jane
userAccountControl: 514
manager: CN=John Doe,OU=Users,DC=avvid,DC=info

dn: CN=Grp,OU=Users,DC=avvid,DC=info
objectClass: top
objectClass: group
cn: Grp
member: CN=John Doe,OU=Users,DC=avvid,DC=info
`;

const VSE_LDIF = `version: 1

dn: DC=vse,DC=lab
objectClass: top
objectClass: domain
dc: vse

dn: OU=Users,DC=vse,DC=lab
objectClass: top
objectClass: organizationalUnit
ou: Users

dn: CN=Priya Wright,OU=Users,DC=vse,DC=lab
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Priya Wright
sn: Wright
sAMAccountName: pwright
userPrincipalName: pwright@vse.local
userAccountControl: 512

dn: CN=John Doe,OU=Users,DC=vse,DC=lab
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: John Doe
sn: Doe
sAMAccountName: jdoe
userPrincipalName: jdoe@vse.local
userAccountControl: 512
manager: CN=Priya Wright,OU=Users,DC=vse,DC=lab
`;

/** Counts the searches that reach the wrapped directory. */
class CountingDirectory implements Directory {
  searches: SearchRequest[] = [];
  constructor(readonly inner: MemoryDirectory) {}
  namingContexts() {
    return this.inner.namingContexts();
  }
  search(request: SearchRequest, ctx: SearchContext): SearchStream {
    this.searches.push(request);
    return this.inner.search(request, ctx);
  }
  bind(...args: Parameters<Directory['bind']>) {
    return this.inner.bind(...args);
  }
  add(...args: Parameters<Directory['add']>) {
    return this.inner.add(...args);
  }
  modify(...args: Parameters<Directory['modify']>) {
    return this.inner.modify(...args);
  }
  delete(...args: Parameters<Directory['delete']>) {
    return this.inner.delete(...args);
  }
  modifyDn(...args: Parameters<Directory['modifyDn']>) {
    return this.inner.modifyDn(...args);
  }
  compare(...args: Parameters<Directory['compare']>) {
    return this.inner.compare(...args);
  }
  passwordModify(...args: Parameters<Directory['passwordModify']>) {
    return this.inner.passwordModify(...args);
  }
  close() {
    return this.inner.close();
  }
}

const ctx = searchCtx();

function setup(vseFilter?: string) {
  const avvidView = compileForestView(
    forestSchema.parse({
      name: 'avvid',
      backend: 'memory',
      ldif: ['avvid.ldif'],
      base: 'DC=avvid,DC=info',
      mount: 'DC=avvid,DC=corp,DC=example',
      attributes: { map: { uid: 'sAMAccountName' }, hide: ['telephoneNumber', 'userPassword'] },
    }),
  );
  const vseView = compileForestView(
    forestSchema.parse({
      name: 'vse',
      backend: 'memory',
      ldif: ['vse.ldif'],
      base: 'DC=vse,DC=lab',
      mount: 'OU=vse,DC=corp,DC=example',
      upnSuffixes: { 'vse.lab': 'vse.local' },
      ...(vseFilter ? { filter: vseFilter } : {}),
    }),
  );
  const map = new NamespaceMap([avvidView, vseView]);
  const avvidDir = new CountingDirectory(
    MemoryDirectory.fromLdif({ suffix: avvidView.base, sources: [{ name: 'avvid.ldif', text: AVVID_LDIF }] }),
  );
  const vseDir = new CountingDirectory(MemoryDirectory.fromLdif({ suffix: vseView.base, sources: [{ name: 'vse.ldif', text: VSE_LDIF }] }));
  return {
    avvid: new NamespaceStage(avvidView, map, avvidDir),
    vse: new NamespaceStage(vseView, map, vseDir),
    avvidDir,
    vseDir,
  };
}

const AVVID = 'DC=avvid,DC=corp,DC=example';
const VSE = 'OU=vse,DC=corp,DC=example';

function request(base: string, filter: string, attributes: string[] = [], scope: SearchRequest['scope'] = 'sub'): SearchRequest {
  return { base: Dn.parse(base), scope, filter: parseFilterString(filter), attributes, typesOnly: false, sizeLimit: 0, timeLimit: 0 };
}

async function collect(stream: SearchStream): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

/** Entries as plain objects: DN → { attribute as named: values as text }. */
function flat(entries: Entry[]): Record<string, Record<string, string[]>> {
  return Object.fromEntries(
    entries.map((e) => [e.dn.text, Object.fromEntries([...e.attributes()].map((a) => [a.name, a.values.map((v) => (typeof v === 'string' ? v : v.toString('hex')))]))]),
  );
}

async function rejection(p: Promise<unknown>): Promise<LdapError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LdapError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('NamespaceStage search', () => {
  it('presents entries at the mount with mapped names and DN values in virtual terms', async () => {
    const { avvid } = setup();
    const entries = await collect(avvid.search(request(AVVID, '(uid=jdoe)', ['uid', 'manager', 'seeAlso', 'userPrincipalName']), ctx));
    expect(flat(entries)).toEqual({
      [`CN=John Doe,OU=Users,${AVVID}`]: {
        uid: ['jdoe'],
        manager: [`CN=Priya Wright,OU=Users,${VSE}`],
        seeAlso: [`CN=Doe\\, Jane,OU=Users,${AVVID}`],
        userPrincipalName: ['jdoe@avvid.info'],
      },
    });
  });

  it('keeps escaped DNs as spelled and finds entries by their virtual DN', async () => {
    const { avvid } = setup();
    const entries = await collect(avvid.search(request(`CN=Doe\\, Jane,OU=Users,${AVVID}`, '(objectClass=*)', ['cn', 'manager'], 'base'), ctx));
    expect(flat(entries)).toEqual({
      [`CN=Doe\\, Jane,OU=Users,${AVVID}`]: { cn: ['Doe, Jane'], manager: [`CN=John Doe,OU=Users,${AVVID}`] },
    });
  });

  it('rewrites UPN suffixes in entries and filters; a forest without the suffix is not asked', async () => {
    const { avvid, vse, avvidDir } = setup();
    for (const upn of ['jdoe@vse.lab', 'JDOE@VSE.LAB']) {
      const r = request(VSE, `(userPrincipalName=${upn})`, ['userPrincipalName', 'manager']);
      expect(flat(await collect(vse.search(r, ctx)))).toEqual({
        [`CN=John Doe,OU=Users,${VSE}`]: { userPrincipalName: ['jdoe@vse.lab'], manager: [`CN=Priya Wright,OU=Users,${VSE}`] },
      });
      expect(avvid.plan({ ...r, base: Dn.parse(AVVID) })).toBeUndefined();
      expect(await collect(avvid.search({ ...r, base: Dn.parse(AVVID) }, ctx))).toEqual([]);
    }
    const bySuffix = await collect(vse.search(request(VSE, '(userPrincipalName=*@vse.lab)', ['userPrincipalName']), ctx));
    expect(bySuffix.map((e) => e.get('userPrincipalName')?.values[0]).sort()).toEqual(['jdoe@vse.lab', 'pwright@vse.lab']);
    expect(await collect(vse.search(request(VSE, '(userPrincipalName=jdoe@vse.local)'), ctx))).toEqual([]);
    expect(avvidDir.searches).toEqual([]);
  });

  it('finds entries by a DN value of its own forest, and nothing (without asking) by another forest`s', async () => {
    const { avvid, vse, avvidDir } = setup();
    const mine = await collect(avvid.search(request(AVVID, `(member=CN=John Doe,OU=Users,${AVVID})`, ['cn']), ctx));
    expect(mine.map((e) => e.dn.text)).toEqual([`CN=Grp,OU=Users,${AVVID}`]);
    const priya = `(manager=CN=Priya Wright,OU=Users,${VSE})`;
    expect((await collect(vse.search(request(VSE, priya, ['cn']), ctx))).map((e) => e.dn.text)).toEqual([`CN=John Doe,OU=Users,${VSE}`]);
    avvidDir.searches = [];
    expect(await collect(avvid.search(request(AVVID, priya), ctx))).toEqual([]);
    expect(avvidDir.searches).toEqual([]);
  });

  it('never returns hidden attributes and matches nothing on them', async () => {
    const { avvid, avvidDir } = setup();
    for (const attributes of [[], ['*'], ['telephoneNumber'], ['*', 'telephoneNumber', 'userPassword']]) {
      const entries = await collect(avvid.search(request(AVVID, '(sAMAccountName=*)'.replace('sAMAccountName', 'uid'), attributes), ctx));
      expect(entries.length).toBe(2);
      for (const e of entries) expect([e.has('telephoneNumber'), e.has('userPassword'), e.has('sAMAccountName')]).toEqual([false, false, false]);
    }
    expect(avvidDir.searches.at(-2)?.attributes).toEqual(['1.1']);
    avvidDir.searches = [];
    expect(await collect(avvid.search(request(AVVID, '(telephoneNumber=+1*)'), ctx))).toEqual([]);
    expect(await collect(avvid.search(request(AVVID, '(|(telephoneNumber=*)(userPassword=secret))'), ctx))).toEqual([]);
    expect(avvidDir.searches).toEqual([]);
  });

  it('returns binary values byte-exact and finds them by escaped bytes', async () => {
    const { avvid } = setup();
    const escaped = [...GUID].map((b) => '\\' + b.toString(16).padStart(2, '0')).join('');
    const [entry] = await collect(avvid.search(request(AVVID, `(objectGUID=${escaped})`, ['objectGUID']), ctx));
    expect(entry.dn.text).toBe(`CN=John Doe,OU=Users,${AVVID}`);
    expect(entry.get('objectGUID')?.values[0]).toEqual(GUID);
  });

  it('computes msDS-UserAccountDisabled and selects the same users as the AD filter', async () => {
    const { avvid } = setup();
    const flags = await collect(avvid.search(request(AVVID, '(objectClass=user)', ['msDS-UserAccountDisabled']), ctx));
    expect(flat(flags)).toEqual({
      [`CN=John Doe,OU=Users,${AVVID}`]: { 'msDS-UserAccountDisabled': ['FALSE'] },
      [`CN=Doe\\, Jane,OU=Users,${AVVID}`]: { 'msDS-UserAccountDisabled': ['TRUE'] },
    });
    const withStar = await collect(avvid.search(request(AVVID, '(uid=jdoe)', ['*', 'msDS-UserAccountDisabled']), ctx));
    expect([withStar[0].get('userAccountControl')?.values, withStar[0].get('msDS-UserAccountDisabled')?.values]).toEqual([['512'], ['FALSE']]);

    const dns = async (filter: string) => (await collect(avvid.search(request(AVVID, filter, ['1.1']), ctx))).map((e) => e.dn.text).sort();
    const lds = await dns('(&(objectClass=user)(!(msDS-UserAccountDisabled=TRUE)))');
    expect(lds).toEqual([`CN=John Doe,OU=Users,${AVVID}`]);
    expect(await dns('(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))')).toEqual(lds);
    expect(await dns('(msDS-UserAccountDisabled=true)')).toEqual([`CN=Doe\\, Jane,OU=Users,${AVVID}`]);
  });

  it('returns canopyForest by name or with +', async () => {
    const { vse } = setup();
    const get = async (attributes: string[]) =>
      (await collect(vse.search(request(`CN=John Doe,OU=Users,${VSE}`, '(objectClass=*)', attributes, 'base'), ctx)))[0].get('canopyForest')?.values;
    expect(await get(['+'])).toEqual(['vse']);
    expect(await get(['canopyForest'])).toEqual(['vse']);
    expect(await get(['*'])).toBeUndefined();
    expect(await get([])).toBeUndefined();
    expect((await collect(vse.search(request(VSE, '(&(canopyForest=vse)(uid=jdoe))'), ctx))).length).toBe(0); // uid is not mapped in vse
    expect((await collect(vse.search(request(VSE, '(&(canopyForest=vse)(sAMAccountName=jdoe))'), ctx))).length).toBe(1);
  });

  it('ANDs the forest filter onto every search and folds TRUE to (objectClass=*)', async () => {
    const { vse, vseDir } = setup('(objectClass=user)');
    const all = await collect(vse.search(request(VSE, '(objectClass=*)', ['1.1']), ctx));
    expect(all.length).toBe(2);
    await collect(vse.search(request(VSE, '(canopyForest=vse)', ['1.1']), ctx));
    expect(vseDir.searches.at(-1)?.filter).toEqual(parseFilterString('(objectClass=user)'));
    const { vse: plain, vseDir: plainDir } = setup();
    await collect(plain.search(request(VSE, '(|(canopyForest=vse)(cn=x))'), ctx));
    expect(plainDir.searches.at(-1)?.filter).toEqual(parseFilterString('(objectClass=*)'));
  });

  it('plans the upstream request', () => {
    const { avvid } = setup();
    const plan = avvid.plan({ ...request(`OU=Users,${AVVID}`, '(uid=j*)', ['uid', 'canopyForest'], 'one'), sizeLimit: 5, timeLimit: 7, typesOnly: true });
    expect(plan?.request).toEqual({
      base: Dn.parse('OU=Users,DC=avvid,DC=info'),
      scope: 'one',
      filter: parseFilterString('(sAMAccountName=j*)'),
      attributes: ['sAMAccountName'],
      typesOnly: true,
      sizeLimit: 5,
      timeLimit: 7,
    });
    expect(plan?.request.base.text).toBe('OU=Users,DC=avvid,DC=info');
    expect(() => avvid.plan(request(VSE, '(cn=*)'))).toThrow(LdapError);
  });

  it('rewrites the matchedDN of errors and the DNs their messages name into virtual terms', async () => {
    const { avvid } = setup();
    const err = await rejection(collect(avvid.search(request(`CN=Nobody,OU=Users,${AVVID}`, '(objectClass=*)'), ctx)));
    expect([err.code, err.matchedDn]).toEqual([ResultCode.noSuchObject, `OU=Users,${AVVID}`]);
    expect(err.message).toBe(`no such entry "CN=Nobody,OU=Users,${AVVID}"`);
    const exists = await rejection(avvid.add(new Entry(Dn.parse(`CN=John Doe,OU=Users,${AVVID}`), [{ name: 'objectClass', values: ['person'] }]), ctx));
    expect([exists.code, exists.message]).toEqual([ResultCode.entryAlreadyExists, `entry "CN=John Doe,OU=Users,${AVVID}" already exists`]);
    const outside = await rejection(collect(avvid.search(request(VSE, '(objectClass=*)'), ctx)));
    expect([outside.code, outside.matchedDn]).toEqual([ResultCode.noSuchObject, '']);
  });

  it('builds entries with only the selected attributes, marked with the request list they were selected for', async () => {
    const { avvid } = setup();
    const attributes = ['uid', 'msDS-UserAccountDisabled', 'canopyForest'];
    const [entry] = await collect(avvid.search(request(AVVID, '(uid=jdoe)', attributes), ctx));
    expect([...entry.attributes()].map((a) => a.name).sort()).toEqual(['canopyForest', 'msDS-UserAccountDisabled', 'uid']);
    expect(entry).toBeInstanceOf(SelectedEntry);
    expect((entry as SelectedEntry).selectedFor).toBe(attributes);
  });

  it('serves searches asking for the same list with what it compiled once, each entry marked with its own search list', async () => {
    const { avvid } = setup();
    const first = ['uid', 'cn'];
    const again = ['uid', 'cn']; // equal, another array
    const [a] = await collect(avvid.search(request(AVVID, '(uid=jdoe)', first), ctx));
    const [b] = await collect(avvid.search(request(AVVID, '(uid=jdoe)', again), ctx));
    expect(flat([b])).toEqual(flat([a]));
    expect((a as SelectedEntry).selectedFor).toBe(first);
    expect((b as SelectedEntry).selectedFor).toBe(again);
    // Lists that would join into one text stay apart, and a hidden attribute stays hidden whichever came first.
    const [joined] = await collect(avvid.search(request(AVVID, '(uid=jdoe)', ['uid\ncn', 'telephoneNumber']), ctx));
    expect([...joined.attributes()].map((x) => x.name)).toEqual([]);
    const [split] = await collect(avvid.search(request(AVVID, '(uid=jdoe)', ['uid', 'cn\ntelephoneNumber']), ctx));
    expect([...split.attributes()].map((x) => x.name)).toEqual(['uid']);
    const [other] = await collect(avvid.search(request(AVVID, '(uid=jdoe)', ['sn']), ctx));
    expect([...other.attributes()].map((x) => x.name)).toEqual(['sn']);
  });

  it('names its mount as naming context', () => {
    const { avvid } = setup();
    expect(avvid.namingContexts().map((d) => d.text)).toEqual([AVVID]);
  });
});

describe('NamespaceStage writes, bind and compare', () => {
  const john = Dn.parse(`CN=John Doe,OU=Users,${AVVID}`);

  async function stored(stage: NamespaceStage, dir: CountingDirectory, dn: string, attribute: string) {
    const [entry] = await collect(dir.inner.search(request(dn, '(objectClass=*)', [], 'base'), ctx));
    return entry.get(attribute)?.values;
  }

  it('modifies with DN values, mapped names and UPN suffixes in the forest`s terms', async () => {
    const { avvid, vse, avvidDir, vseDir } = setup();
    await avvid.modify(
      john,
      [
        { operation: 'replace', attribute: { name: 'manager', values: [`CN=Doe\\, Jane,OU=Users,${AVVID}`] } },
        { operation: 'replace', attribute: { name: 'uid', values: ['johnd'] } },
      ],
      ctx,
    );
    expect(await stored(avvid, avvidDir, 'CN=John Doe,OU=Users,DC=avvid,DC=info', 'manager')).toEqual(['CN=Doe\\, Jane,OU=Users,DC=avvid,DC=info']);
    expect(await stored(avvid, avvidDir, 'CN=John Doe,OU=Users,DC=avvid,DC=info', 'sAMAccountName')).toEqual(['johnd']);
    await vse.modify(Dn.parse(`CN=John Doe,OU=Users,${VSE}`), [{ operation: 'replace', attribute: { name: 'userPrincipalName', values: ['john@VSE.lab'] } }], ctx);
    expect(await stored(vse, vseDir, 'CN=John Doe,OU=Users,DC=vse,DC=lab', 'userPrincipalName')).toEqual(['john@vse.local']);
  });

  it('refuses a DN value of another forest, hidden and computed attributes', async () => {
    const { avvid } = setup();
    const cases = [
      { name: 'manager', values: [`CN=Priya Wright,OU=Users,${VSE}`], code: ResultCode.unwillingToPerform },
      // The same entry in vse's own terms would read back as that entry: refused alike.
      { name: 'manager', values: ['CN=Priya Wright,OU=Users,DC=vse,DC=lab'], code: ResultCode.unwillingToPerform },
      { name: 'telephoneNumber', values: ['1'], code: ResultCode.insufficientAccessRights },
      { name: 'sAMAccountName', values: ['x'], code: ResultCode.insufficientAccessRights },
      { name: 'canopyForest', values: ['vse'], code: ResultCode.unwillingToPerform },
      { name: 'msDS-UserAccountDisabled', values: ['TRUE'], code: ResultCode.unwillingToPerform },
    ];
    for (const { code, ...attribute } of cases) {
      const err = await rejection(avvid.modify(john, [{ operation: 'replace', attribute }], ctx));
      expect(err.code).toBe(code);
    }
    const err = await rejection(avvid.modify(john, [{ operation: 'add', attribute: cases[0] }], ctx));
    expect(err.message).toMatch(/another forest/);
  });

  it('adds an entry in the forest`s terms and deletes it by its virtual DN', async () => {
    const { avvid, avvidDir } = setup();
    const dn = Dn.parse(`CN=New User,OU=Users,${AVVID}`);
    await avvid.add(
      new Entry(dn, [
        { name: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] },
        { name: 'cn', values: ['New User'] },
        { name: 'sn', values: ['User'] },
        { name: 'uid', values: ['nuser'] },
        { name: 'manager', values: [john.text] },
      ]),
      ctx,
    );
    expect(await stored(avvid, avvidDir, 'CN=New User,OU=Users,DC=avvid,DC=info', 'manager')).toEqual(['CN=John Doe,OU=Users,DC=avvid,DC=info']);
    expect(await stored(avvid, avvidDir, 'CN=New User,OU=Users,DC=avvid,DC=info', 'sAMAccountName')).toEqual(['nuser']);
    const hidden = new Entry(Dn.parse(`CN=Other,OU=Users,${AVVID}`), [
      { name: 'objectClass', values: ['top', 'person'] },
      { name: 'cn', values: ['Other'] },
      { name: 'telephoneNumber', values: ['1'] },
    ]);
    expect((await rejection(avvid.add(hidden, ctx))).code).toBe(ResultCode.insufficientAccessRights);
    await avvid.delete(dn, ctx);
    expect((await rejection(avvid.delete(dn, ctx))).matchedDn).toBe(`OU=Users,${AVVID}`);
  });

  it('renames within the forest and refuses a move to another forest', async () => {
    const { avvid } = setup();
    const err = await rejection(avvid.modifyDn({ dn: john, newRdn: 'CN=John Doe', deleteOldRdn: true, newSuperior: Dn.parse(`OU=Users,${VSE}`) }, ctx));
    expect(err.code).toBe(ResultCode.affectsMultipleDSAs);
    await avvid.modifyDn({ dn: john, newRdn: 'CN=Johnny Doe', deleteOldRdn: true, newSuperior: Dn.parse(AVVID) }, ctx);
    const moved = await collect(avvid.search(request(AVVID, '(cn=Johnny Doe)', ['1.1']), ctx));
    expect(moved.map((e) => e.dn.text)).toEqual([`CN=Johnny Doe,${AVVID}`]);
  });

  it('renames with the new RDN in the forest`s terms, refusing hidden and computed attributes, and never the mount', async () => {
    const { avvid, avvidDir } = setup();
    // sAMAccountName is single-valued: the rename names the value it has.
    await avvid.modify(john, [{ operation: 'replace', attribute: { name: 'uid', values: ['johnd'] } }], ctx);
    await avvid.modifyDn({ dn: john, newRdn: 'uid=johnd', deleteOldRdn: false }, ctx);
    const renamed = await collect(avvidDir.inner.search(request('DC=avvid,DC=info', '(sAMAccountName=johnd)', ['1.1']), ctx));
    expect(renamed.map((e) => e.dn.text)).toEqual(['sAMAccountName=johnd,OU=Users,DC=avvid,DC=info']);
    const johnd = Dn.parse(`uid=johnd,OU=Users,${AVVID}`);
    expect((await rejection(avvid.modifyDn({ dn: johnd, newRdn: 'telephoneNumber=1', deleteOldRdn: false }, ctx))).code).toBe(ResultCode.insufficientAccessRights);
    expect((await rejection(avvid.modifyDn({ dn: johnd, newRdn: 'cn=a+canopyForest=vse', deleteOldRdn: false }, ctx))).code).toBe(ResultCode.unwillingToPerform);
    // A forest whose base is an OU of its directory: renaming its mount would move the whole forest away.
    const view = compileForestView(
      forestSchema.parse({ name: 'people', backend: 'memory', ldif: ['avvid.ldif'], base: 'OU=Users,DC=avvid,DC=info', mount: 'OU=people,DC=corp,DC=example' }),
    );
    const people = new NamespaceStage(view, new NamespaceMap([view]), avvidDir);
    const err = await rejection(people.modifyDn({ dn: view.mount, newRdn: 'OU=Gone', deleteOldRdn: true }, ctx));
    expect(err.code).toBe(ResultCode.affectsMultipleDSAs);
    expect(await collect(avvidDir.inner.search(request('OU=Users,DC=avvid,DC=info', '(objectClass=*)', ['1.1'], 'base'), ctx))).toHaveLength(1);
  });

  it('compares in the forest`s terms', async () => {
    const { avvid } = setup();
    expect(await avvid.compare(john, 'uid', 'JDOE', ctx)).toBe(true);
    expect(await avvid.compare(john, 'manager', `CN=Priya Wright,OU=Users,${VSE}`, ctx)).toBe(false);
    expect(await avvid.compare(john, 'msDS-UserAccountDisabled', 'FALSE', ctx)).toBe(true);
    expect(await avvid.compare(john, 'msDS-UserAccountDisabled', 'TRUE', ctx)).toBe(false);
    expect(await avvid.compare(john, 'canopyForest', 'avvid', ctx)).toBe(true);
    expect((await rejection(avvid.compare(john, 'telephoneNumber', '+1 555 0100', ctx))).code).toBe(ResultCode.unwillingToPerform);
  });

  it('binds with the virtual DN', async () => {
    const { avvid } = setup();
    await avvid.bind(john, Buffer.from('secret'), ctx);
    expect((await rejection(avvid.bind(john, Buffer.from('wrong'), ctx))).code).toBe(ResultCode.invalidCredentials);
    expect((await rejection(avvid.bind(Dn.parse(`CN=John Doe,OU=Users,${VSE}`), Buffer.from('secret'), ctx))).code).toBe(ResultCode.invalidCredentials);
  });
});

describe('NamespaceStage: a hidden type stays hidden behind the types that would reveal it', () => {
  /** avvid with `attributes`: by default hiding title, seeAlso, userAccountControl and employeeNumber (an OpenLDAP forest would match subtypes). */
  function hiding(attributes: object = { hide: ['title', 'seeAlso', 'userAccountControl', 'employeeNumber'] }) {
    const view = compileForestView(
      forestSchema.parse({
        name: 'avvid',
        backend: 'memory',
        ldif: ['avvid.ldif'],
        base: 'DC=avvid,DC=info',
        mount: 'DC=avvid,DC=corp,DC=example',
        attributes,
      }),
    );
    const dir = new CountingDirectory(MemoryDirectory.fromLdif({ suffix: view.base, sources: [{ name: 'avvid.ldif', text: AVVID_LDIF }] }));
    return { stage: new NamespaceStage(view, new NamespaceMap([view]), dir), dir };
  }
  const john = Dn.parse(`CN=John Doe,OU=Users,${AVVID}`);

  it('an assertion on a supertype of a hidden type is Undefined, and never sent; compare refuses it', async () => {
    const { stage, dir } = hiding();
    for (const filter of ['(name=John*)', '(!(NAME=x))', '(!(distinguishedName=x))', '(|(name=J*)(!(seeAlso=x)))', '(name:caseIgnoreMatch:=x)', '(!(name:2.5.13.2:=x))']) {
      expect(await collect(stage.search(request(AVVID, filter), ctx))).toEqual([]);
    }
    expect(dir.searches).toEqual([]);
    for (const name of ['name', 'Name', '2.5.4.41', 'name;lang-en', 'distinguishedName', '2.5.4.49']) {
      expect((await rejection(stage.compare(john, name, 'John Doe', ctx))).code).toBe(ResultCode.unwillingToPerform);
    }
    // cn is no supertype of a hidden type: it goes as sent.
    expect((await collect(stage.search(request(AVVID, '(cn=John Doe)'), ctx))).length).toBe(1);
  });

  it('msDS-UserAccountDisabled, computed from a hidden userAccountControl, is hidden too: read, filter and compare', async () => {
    const { stage, dir } = hiding();
    for (const attributes of [['msDS-UserAccountDisabled'], ['*', 'msDS-UserAccountDisabled'], ['1.2.840.113556.1.4.1853', '+']]) {
      const [entry] = await collect(stage.search(request(AVVID, '(cn=John Doe)', attributes), ctx));
      expect([entry.has('msDS-UserAccountDisabled'), entry.has('userAccountControl')]).toEqual([false, false]);
    }
    dir.searches = [];
    for (const filter of ['(msDS-UserAccountDisabled=TRUE)', '(!(msDS-UserAccountDisabled=FALSE))', '(msDS-UserAccountDisabled=*)']) {
      expect(await collect(stage.search(request(AVVID, filter), ctx))).toEqual([]);
    }
    expect(dir.searches).toEqual([]);
    expect((await rejection(stage.compare(john, 'msDS-UserAccountDisabled', 'FALSE', ctx))).code).toBe(ResultCode.unwillingToPerform);
  });

  it("hiding the virtual name of a mapping hides what it maps; anr (its attributes the forest's choice) is Undefined where anything is hidden", async () => {
    const { stage, dir } = hiding({ map: { phone2: 'telephoneNumber' }, hide: ['phone2'] });
    for (const attributes of [['phone2'], ['telephoneNumber'], ['*']]) {
      const [entry] = await collect(stage.search(request(AVVID, '(cn=John Doe)', attributes), ctx));
      expect([entry.has('phone2'), entry.has('telephoneNumber')]).toEqual([false, false]);
    }
    dir.searches = [];
    for (const filter of ['(phone2=*)', '(telephoneNumber=*)', '(!(phone2=x))', '(anr=John)', '(!(ANR=x))']) {
      expect(await collect(stage.search(request(AVVID, filter), ctx)), filter).toEqual([]);
    }
    expect(dir.searches).toEqual([]);
    for (const name of ['phone2', 'telephoneNumber', 'anr']) {
      expect((await rejection(stage.compare(john, name, '+1 555 0100', ctx))).code).toBe(ResultCode.unwillingToPerform);
    }
  });

  it('an add whose RDN names a hidden type is refused, and a mapped RDN type is renamed', async () => {
    const { stage } = hiding();
    for (const type of ['employeeNumber', 'EMPLOYEENUMBER', '2.16.840.1.113730.3.1.3']) {
      const add = stage.add(new Entry(Dn.parse(`${type}=778,OU=Users,${AVVID}`), [{ name: 'objectClass', values: ['person'] }]), ctx);
      expect((await rejection(add)).code).toBe(ResultCode.insufficientAccessRights);
    }
    const { avvid, avvidDir } = setup();
    await avvid.add(new Entry(Dn.parse(`uid=newbie,OU=Users,${AVVID}`), [{ name: 'objectClass', values: ['person'] }, { name: 'uid', values: ['newbie'] }]), ctx);
    const added = await collect(avvidDir.inner.search(request('DC=avvid,DC=info', '(sAMAccountName=newbie)', ['1.1']), ctx));
    expect(added.map((e) => e.dn.text)).toEqual(['sAMAccountName=newbie,OU=Users,DC=avvid,DC=info']);
  });
});
