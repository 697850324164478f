import { describe, expect, it } from 'vitest';
import { accessSchema } from '../../src/config/auth-schema.js';
import type { Directory, OperationContext, SearchContext, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { compileFilter } from '../../src/core/filter-eval.js';
import type { Identity } from '../../src/core/identity.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { AccessPolicy, type Level } from '../../src/stages/access/access-policy.js';
import { AccessStage } from '../../src/stages/access/access-stage.js';
import { arrayStream } from '../../src/core/search-stream.js';
import { searchCtx } from '../support/search-context.js';

/** A forest stub's search: every DN asked names an entry (a refusal is answered as such only for an entry that exists). */
const everyEntryExists = (request: SearchRequest) => arrayStream([new Entry(request.base, [])]);

const policy = (rules: unknown[]) => new AccessPolicy(accessSchema.parse(rules)!);
const user: Identity = { kind: 'user', forest: 'a', dn: Dn.parse('cn=u,ou=a,dc=x'), login: 'u' };
const anonymous: Identity = { kind: 'anonymous' };

describe('AccessPolicy', () => {
  it('first matching rule wins, per entry and per attribute; no rule means no access', () => {
    const p = policy([
      { who: 'authenticated', what: { dn: 'ou=a,dc=x', attributes: ['userPassword'] }, allow: 'none' },
      { who: 'authenticated', what: { dn: 'ou=hidden,ou=a,dc=x' }, allow: 'none' },
      { who: 'cn=u,ou=a,dc=x', what: { dn: 'ou=a,dc=x' }, allow: 'write' },
      { who: 'authenticated', what: { dn: 'dc=x', attributes: ['cn', 'mail'] }, allow: 'read' },
      { who: 'anonymous', what: { dn: 'dc=x', scope: 'base' }, allow: 'read' },
    ]);
    const v = policy([]).view(user);
    expect(v.covering(Dn.parse('dc=x')).entry).toBe('none');
    const u = p.view(user);
    const e = u.covering(Dn.parse('cn=z,ou=a,dc=x'));
    expect([e.entry, e.attribute('userPassword'), e.attribute('commonName'), e.attribute('title;lang-en')]).toEqual(['write', 'none', 'write', 'write']);
    expect(u.covering(Dn.parse('cn=z,ou=hidden,ou=a,dc=x')).entry).toBe('none');
    const b = u.covering(Dn.parse('cn=z,ou=b,dc=x'));
    expect([b.entry, b.attribute('cn'), b.attribute('title')]).toEqual(['read', 'read', 'none']);
    expect(u.reaches(Dn.parse('ou=hidden,ou=a,dc=x'), 'sub', 'read')).toBe(false);
    expect(u.reaches(Dn.parse('dc=x'), 'sub', 'read')).toBe(true);
    const anon = p.view(anonymous);
    expect(anon.reaches(Dn.parse('dc=x'), 'base', 'read')).toBe(true);
    expect(anon.reaches(Dn.parse('dc=x'), 'one', 'read')).toBe(false);
    expect(anon.reaches(Dn.parse('ou=a,dc=x'), 'sub', 'read')).toBe(false);
  });
});

describe('AccessPolicy: views shared by identities with the same rules', () => {
  it('one view per set of rules, its regions kept by scope and canonical base: each identity still gets its own rules', () => {
    const p = policy([
      { who: 'cn=boss,ou=a,dc=x', what: { dn: 'ou=secret,dc=x' }, allow: 'read' },
      { who: 'authenticated', what: { dn: 'ou=secret,dc=x' }, allow: 'none' },
      { who: 'authenticated', what: { dn: 'dc=x' }, allow: 'read' },
    ]);
    const other: Identity = { kind: 'user', forest: 'a', dn: Dn.parse('cn=v,ou=a,dc=x'), login: 'v' };
    const boss: Identity = { kind: 'user', forest: 'a', dn: Dn.parse('cn=boss,ou=a,dc=x'), login: 'boss' };
    expect(p.view(other)).toBe(p.view(user));
    expect(p.view(boss)).not.toBe(p.view(user));
    // Asked in either order and in any spelling, each view answers for its own rules.
    for (const spelling of ['dc=x', 'DC=X', ' dc = x ']) {
      expect(p.view(user).region(Dn.parse(spelling), 'sub').seesEverything).toBe(false);
      expect(p.view(boss).region(Dn.parse(spelling), 'sub').seesEverything).toBe(true);
      expect(p.view(anonymous).region(Dn.parse(spelling), 'sub').seesEverything).toBe(false);
    }
    // The same base in another scope is another region: its children are all visible.
    expect(p.view(user).region(Dn.parse('ou=secret,dc=x'), 'sub').seesEverything).toBe(false);
    expect(p.view(user).region(Dn.parse('dc=x'), 'base').seesEverything).toBe(true);
    expect(p.view(user).region(Dn.parse('ou=other,dc=x'), 'one').seesEverything).toBe(true);
    // Many bases asked (a client's choice) keep memory bounded, and answers right.
    for (let i = 0; i < 1000; i++) expect(p.view(user).region(Dn.parse(`cn=n${i},ou=secret,dc=x`), 'base').seesEverything).toBe(false);
    expect(p.view(user).region(Dn.parse('DC=X'), 'sub').seesEverything).toBe(false);
  });
});

describe('AccessPolicy: entries below one the rules hide', () => {
  it('are hidden with it, whatever the scope of the refusal and whatever rule covers them, since their DNs name it', () => {
    const p = policy([
      { who: 'authenticated', what: { dn: 'cn=jdoe,ou=users,dc=x', scope: 'base' }, allow: 'none' },
      // A grant that comes first decides its entry: a child of ou=secret the refusal below does not hide.
      { who: 'authenticated', what: { dn: 'cn=open,ou=secret,dc=x', scope: 'base' }, allow: 'read' },
      { who: 'authenticated', what: { dn: 'ou=secret,dc=x', scope: 'one' }, allow: 'none' },
      // An attribute-limited refusal hides no entry.
      { who: 'authenticated', what: { dn: 'cn=boss,ou=users,dc=x', scope: 'base', attributes: ['mail'] }, allow: 'none' },
      { who: 'authenticated', what: { dn: 'cn=devices,cn=jdoe,ou=users,dc=x', scope: 'base' }, allow: 'write' },
      { who: 'authenticated', what: { dn: 'dc=x' }, allow: 'read' },
    ]);
    const v = p.view(user);
    const level = (dn: string) => v.covering(Dn.parse(dn)).entry;
    expect(level('cn=jdoe,ou=users,dc=x')).toBe('none');
    // Below it: hidden too, even where a rule of its own would grant (the DN would tell).
    expect(level('cn=ExchangeActiveSyncDevices,CN=JDoe,ou=users,dc=x')).toBe('none');
    expect(level('cn=devices,commonName=jdoe,ou=users,dc=x')).toBe('none');
    expect(level('cn=a,cn=b,cn=jdoe,ou=users,dc=x')).toBe('none');
    expect(v.covering(Dn.parse('cn=x,cn=jdoe,ou=users,dc=x')).hidden).toBe(true);
    // A one-level refusal hides the base's children and what lies below them; a child a grant covers first stays.
    expect(level('ou=secret,dc=x')).toBe('read');
    expect(level('cn=agent,ou=secret,dc=x')).toBe('none');
    expect(level('cn=phone,cn=agent,ou=secret,dc=x')).toBe('none');
    expect(level('cn=open,ou=secret,dc=x')).toBe('read');
    expect(level('cn=child,cn=open,ou=secret,dc=x')).toBe('read');
    // Beside and above: untouched.
    expect(level('cn=jdoe2,ou=users,dc=x')).toBe('read');
    expect(level('cn=x,cn=boss,ou=users,dc=x')).toBe('read');
    // A search region holding them is not seen whole; one based below the hidden entry is answered as missing.
    expect(v.region(Dn.parse('ou=users,dc=x'), 'sub').seesEverything).toBe(false);
    expect(v.region(Dn.parse('cn=jdoe2,ou=users,dc=x'), 'sub').seesEverything).toBe(true);
  });
});

describe('AccessStage', () => {
  const entries = [
    new Entry(Dn.parse('cn=p,ou=a,dc=x'), [
      { name: 'cn', values: ['p'] },
      { name: 'title', values: ['boss'] },
    ]),
    new Entry(Dn.parse('cn=q,ou=b,dc=x'), [
      { name: 'cn', values: ['q'] },
      { name: 'title', values: ['boss'] },
    ]),
  ];
  const sent: SearchRequest[] = [];
  const inner = {
    async *search(request: SearchRequest) {
      sent.push(request);
      yield* entries;
    },
  } as unknown as Directory;
  const ctx = (identity: Identity): SearchContext => searchCtx({ identity });
  const request = (base: string, filter: string, attributes: string[] = []): SearchRequest => ({
    base: Dn.parse(base),
    scope: 'sub',
    filter: parseFilterString(filter),
    attributes,
    typesOnly: false,
    sizeLimit: 0,
    timeLimit: 0,
  });
  const run = async (stage: AccessStage, r: SearchRequest, identity: Identity) => {
    const out: Entry[] = [];
    for await (const e of stage.search(r, ctx(identity))) out.push(e);
    return out;
  };

  it('strips attributes, and folds assertions on what some entry of the region does not show', async () => {
    const stage = new AccessStage(
      policy([
        { who: 'authenticated', what: { dn: 'ou=a,dc=x' }, allow: 'read' },
        { who: 'authenticated', what: { dn: 'dc=x', attributes: ['cn'] }, allow: 'read' },
      ]),
      inner,
    );
    const all = await run(stage, request('dc=x', '(cn=*)'), user);
    expect(all.map((e) => [e.dn.text, [...e.attributes()].map((a) => a.name)])).toEqual([
      ['cn=p,ou=a,dc=x', ['cn', 'title']],
      ['cn=q,ou=b,dc=x', ['cn']],
    ]);
    // title is readable under ou=a only: from dc=x the assertion would test q's title too, so it is
    // Undefined there and nothing is asked; from ou=a it is decided by the forest, as sent.
    const before0 = sent.length;
    expect(await run(stage, request('dc=x', '(title=boss)', ['cn']), user)).toEqual([]);
    expect(sent.length).toBe(before0);
    await run(stage, request('ou=a,dc=x', '(title=boss)', ['cn']), user);
    expect(sent.at(-1)!.filter).toEqual(parseFilterString('(title=boss)'));
    expect(sent.at(-1)!.attributes).toEqual(['cn']);
    // Below ou=b mail is readable nowhere: the assertion is FALSE before anything is asked.
    const before = sent.length;
    expect(await run(stage, request('ou=b,dc=x', '(mail=*)'), user)).toEqual([]);
    expect(sent.length).toBe(before);
    await expect(run(stage, request('dc=x', '(cn=*)'), anonymous)).rejects.toMatchObject({ code: 50 });
  });

  it('makes what may not be read Undefined: negations of it match nothing, nor do extensible matches naming no attribute', async () => {
    // An inner directory that evaluates the filter it is sent, as a forest does with all attributes.
    const evaluating = {
      async *search(r: SearchRequest) {
        sent.push(r);
        const matches = compileFilter(r.filter);
        yield* entries.filter((e) => e.dn.isWithin(r.base) && matches(e));
      },
    } as unknown as Directory;
    const stage = new AccessStage(
      policy([
        // Phone numbers writable first (as the default's sync account): everything still readable under ou=a.
        { who: 'authenticated', what: { dn: 'ou=a,dc=x', attributes: ['telephoneNumber'] }, allow: 'write' },
        { who: 'authenticated', what: { dn: 'ou=a,dc=x' }, allow: 'read' },
        { who: 'authenticated', what: { dn: 'dc=x', attributes: ['cn'] }, allow: 'read' },
      ]),
      evaluating,
    );
    const found = async (base: string, filter: string) => (await run(stage, request(base, filter, ['cn']), user)).map((e) => e.dn.text);
    const p = 'cn=p,ou=a,dc=x';
    // q's title is unreadable: from dc=x neither (title=…) nor its negation holds anywhere (the
    // forest would decide it on q's title); below ou=a, where every entry shows it, both do.
    for (const base of ['dc=x', 'DC=X', '0.9.2342.19200300.100.1.25=x']) {
      expect(await found(base, '(title=boss)')).toEqual([]);
      expect(await found(base, '(!(title=boss))')).toEqual([]);
      expect(await found(base, '(!(Title=clerk))')).toEqual([]);
      expect(await found(base, '(|(title=clerk)(cn=q))')).toEqual(['cn=q,ou=b,dc=x']);
      expect(await found(base, '(&(cn=*)(!(TITLE=clerk)))')).toEqual([]);
    }
    expect(await found('ou=a,dc=x', '(title=boss)')).toEqual([p]);
    expect(await found('ou=a,dc=x', '(!(title=clerk))')).toEqual([p]);
    expect(await found('ou=a,dc=x', '(&(cn=*)(!(title=clerk)))')).toEqual([p]);
    // No attribute named: tested where every attribute is readable (below ou=a), Undefined where some entry hides one.
    for (const rule of ['caseIgnoreMatch', '2.5.13.2', '2.5.13.17', 'octetStringMatch']) {
      expect(await found('ou=a,dc=x', `(:${rule}:=boss)`)).toEqual([p]);
      expect(await found('dc=x', `(:${rule}:=boss)`)).toEqual([]);
      expect(await found('dc=x', `(!(:${rule}:=boss))`)).toEqual([]);
      expect(await found('ou=a,dc=x', `(!(:${rule}:=clerk))`)).toEqual([p]);
    }
    // Below ou=b no attribute but cn is readable: decided before anything is asked.
    const before = sent.length;
    expect(await found('ou=b,dc=x', '(:caseIgnoreMatch:=q)')).toEqual([]);
    expect(await found('ou=b,dc=x', '(!(title=boss))')).toEqual([]);
    expect(sent.length).toBe(before);
  });

  it('refuses writes and compares it may not do, like a missing entry when the entry is invisible', async () => {
    const stage = new AccessStage(policy([{ who: 'authenticated', what: { dn: 'ou=a,dc=x' }, allow: 'read' }]), inner);
    await expect(stage.delete(Dn.parse('cn=p,ou=a,dc=x'), ctx(user))).rejects.toMatchObject({ code: 50 });
    await expect(stage.delete(Dn.parse('cn=q,ou=b,dc=x'), ctx(user))).rejects.toMatchObject({ code: 32 });
    await expect(stage.compare(Dn.parse('cn=q,ou=b,dc=x'), 'cn', 'q', ctx(user))).rejects.toMatchObject({ code: 32 });
  });

  it('a forest user writes as itself in its own forest; elsewhere, and for everyone else, the rules decide', async () => {
    const writers: OperationContext['asUser'][] = [];
    const writable = {
      search: everyEntryExists,
      async modify(_dn: Dn, _changes: unknown, c: OperationContext) {
        writers.push(c.asUser);
      },
    } as unknown as Directory;
    const admin: Identity = { kind: 'account', dn: Dn.parse('cn=admin') };
    const stage = new AccessStage(
      policy([
        { who: 'cn=admin', what: { dn: 'dc=x' }, allow: 'write' },
        { who: 'authenticated', what: { dn: 'dc=x' }, allow: 'read' },
      ]),
      writable,
      new Map([['a', Dn.parse('ou=a,dc=x')]]),
    );
    const change = [{ operation: 'replace' as const, attribute: { name: 'title', values: ['x'] } }];
    await stage.modify(Dn.parse('cn=p,ou=a,dc=x'), change, ctx(user));
    expect(writers).toEqual([{ dn: user.kind === 'user' && user.dn, rulesAllow: false }]);
    await expect(stage.modify(Dn.parse('cn=q,ou=b,dc=x'), change, ctx(user))).rejects.toMatchObject({ code: 50 });
    await stage.modify(Dn.parse('cn=q,ou=b,dc=x'), change, ctx(admin));
    expect(writers).toHaveLength(2);
    expect(writers[1]).toBeUndefined();
    await expect(stage.modify(Dn.parse('cn=p,ou=a,dc=x'), change, ctx(anonymous))).rejects.toMatchObject({ code: 50 });
  });

  it('a grant limited to some attributes allows modifying them, never adding, deleting or renaming entries', async () => {
    const done: string[] = [];
    const writable = {
      search: everyEntryExists,
      modify: async () => void done.push('modify'),
      add: async () => void done.push('add'),
      delete: async () => void done.push('delete'),
      modifyDn: async () => void done.push('modifyDN'),
    } as unknown as Directory;
    const sync: Identity = { kind: 'account', dn: Dn.parse('cn=sync') };
    // The provisioning rules docs/cisco-integration.md recommends.
    const stage = new AccessStage(
      policy([
        { who: 'cn=sync', what: { dn: 'dc=x', attributes: ['telephoneNumber', 'ipPhone', 'mobile'] }, allow: 'write' },
        { who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'read' },
      ]),
      writable,
    );
    const p = Dn.parse('cn=p,ou=a,dc=x');
    await stage.modify(p, [{ operation: 'replace', attribute: { name: 'telephoneNumber', values: ['1'] } }], ctx(sync));
    await expect(stage.modify(p, [{ operation: 'replace', attribute: { name: 'title', values: ['x'] } }], ctx(sync))).rejects.toMatchObject({ code: 50 });
    await expect(stage.delete(p, ctx(sync))).rejects.toMatchObject({ code: 50 });
    await expect(stage.modifyDn({ dn: p, newRdn: 'cn=r', deleteOldRdn: true }, ctx(sync))).rejects.toMatchObject({ code: 50 });
    const entry = new Entry(Dn.parse('cn=n,ou=a,dc=x'), [{ name: 'telephoneNumber', values: ['1'] }]);
    await expect(stage.add(entry, ctx(sync))).rejects.toMatchObject({ code: 50 });
    expect(done).toEqual(['modify']);
    // An entry at the top of the tree renames like any other.
    const admin: Identity = { kind: 'account', dn: Dn.parse('cn=admin') };
    const open = new AccessStage(policy([{ who: 'cn=admin', what: { dn: '' }, allow: 'write' }]), writable);
    await open.modifyDn({ dn: Dn.parse('o=x'), newRdn: 'o=y', deleteOldRdn: true }, ctx(admin));
    expect(done).toEqual(['modify', 'modifyDN']);
  });

  it('a forest user writing as itself cannot write attributes the rules hide from it, but changes its own password', async () => {
    const done: string[] = [];
    const writable = {
      search: everyEntryExists,
      modify: async () => void done.push('modify'),
      passwordModify: async () => void done.push('password'),
    } as unknown as Directory;
    const stage = new AccessStage(
      policy([
        { who: 'authenticated', what: { dn: 'dc=x', attributes: ['employeeNumber', 'userPassword'] }, allow: 'none' },
        { who: 'authenticated', what: { dn: 'dc=x' }, allow: 'read' },
      ]),
      writable,
      new Map([['a', Dn.parse('ou=a,dc=x')]]),
    );
    const own = Dn.parse('cn=u,ou=a,dc=x');
    const change = (name: string) => [{ operation: 'replace' as const, attribute: { name, values: ['1'] } }];
    await expect(stage.modify(own, change('employeeNumber'), ctx(user))).rejects.toMatchObject({ code: 50 });
    await expect(stage.modify(own, change('userPassword'), ctx(user))).rejects.toMatchObject({ code: 50 });
    await stage.modify(own, change('telephoneNumber'), ctx(user));
    await stage.passwordModify({ user: own, newPassword: Buffer.from('n3w') }, ctx(user));
    expect(done).toEqual(['modify', 'password']);
  });
});

describe('AccessStage: what an assertion tests besides the values an identity sees', () => {
  const sync: Identity = { kind: 'account', dn: Dn.parse('cn=sync') };
  const ctx = (identity: Identity = sync): SearchContext => searchCtx({ identity });
  const people = [
    new Entry(Dn.parse('cn=p,ou=a,dc=x'), [
      { name: 'cn', values: ['p'] },
      { name: 'title', values: ['boss'] },
      { name: 'userAccountControl', values: ['514'] },
      { name: 'memberOf', values: ['cn=g,dc=x'] },
      { name: 'createTimestamp', values: ['20260101000000Z'] },
    ]),
    new Entry(Dn.parse('cn=q,ou=b,dc=x'), [
      { name: 'cn', values: ['q'] },
      { name: 'title', values: ['clerk'] },
      { name: 'userAccountControl', values: ['512'] },
      { name: 'createTimestamp', values: ['20260101000000Z'] },
    ]),
  ];
  /** A forest: evaluates the filter it gets on whole entries (subtypes of `name` as slapd does), returns what was asked for. */
  const forest = (sent: SearchRequest[] = []) =>
    ({
      async *search(r: SearchRequest) {
        sent.push(r);
        const matches = compileFilter(r.filter);
        for (const e of people) {
          if (!e.dn.isWithin(r.base) || !matches(e)) continue;
          // Operational attributes only when named, as a server returns them.
          yield new Entry(e.dn, [...e.attributes()].filter((a) => a.name !== 'createTimestamp' || r.attributes.includes('createTimestamp')));
        }
      },
      async compare() {
        return true;
      },
      async modify() {},
      async add() {},
      async modifyDn() {},
    }) as unknown as Directory;
  const request = (base: string, filter: string, attributes: string[] = ['cn']): SearchRequest => ({
    base: Dn.parse(base),
    scope: 'sub',
    filter: parseFilterString(filter),
    attributes,
    typesOnly: false,
    sizeLimit: 0,
    timeLimit: 0,
  });
  /** The sync account's rules: `first` on `attributes` below `base`, then `rest` on all of dc=x. */
  const syncRules = (attributes: string[], first: Level, rest: Level, base = 'dc=x') =>
    policy([
      { who: 'cn=sync', what: { dn: base, attributes }, allow: first },
      { who: 'cn=sync', what: { dn: 'dc=x' }, allow: rest },
    ]);
  const found = async (stage: AccessStage, base: string, filter: string, identity?: Identity) => {
    const out: string[] = [];
    for await (const e of stage.search(request(base, filter), ctx(identity))) out.push(e.dn.text);
    return out;
  };

  it('an assertion on what a returned entry lacks cannot turn a hidden value into an oracle', async () => {
    // title readable under ou=a only; the forest matches createTimestamp, which comes back only when named.
    const stage = new AccessStage(syncRules(['title'], 'none', 'read', 'ou=b,dc=x'), forest());
    // Whatever q's title is guessed to be, the answer is the same: the hidden leaf is Undefined in the whole region.
    for (const guess of ['clerk', 'boss', 'cl*', 'zz*']) {
      const leaf = `(title=${guess})`;
      expect(await found(stage, 'dc=x', `(|${leaf}(!(createTimestamp=*)))`)).toEqual([]);
      expect(await found(stage, 'dc=x', `(&(cn=q)(|${leaf}(!(cn=q))))`)).toEqual([]);
    }
    // Where every entry of the region shows title, the forest decides it.
    expect(await found(stage, 'ou=a,dc=x', '(|(title=boss)(!(createTimestamp=*)))')).toEqual(['cn=p,ou=a,dc=x']);
  });

  it('a rule decides each kind of entry of a region: the base, rule bases inside it, their children and deeper ones', () => {
    const p = policy([
      { who: 'cn=sync', what: { dn: 'ou=a,dc=x', scope: 'one', attributes: ['title'] }, allow: 'none' },
      { who: 'cn=sync', what: { dn: 'ou=c,ou=a,dc=x', scope: 'base' }, allow: 'none' },
      { who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'read' },
    ]).view(sync);
    // Children of ou=a hide title; grandchildren and ou=a itself show it; ou=c (a child) is invisible.
    expect(p.region(Dn.parse('dc=x'), 'sub').asserts('title')).toBe(false);
    expect(p.region(Dn.parse('ou=a,dc=x'), 'base').asserts('title')).toBe(true);
    expect(p.region(Dn.parse('ou=a,dc=x'), 'one').asserts('title')).toBe(false);
    expect(p.region(Dn.parse('cn=p,ou=a,dc=x'), 'one').asserts('title')).toBe(true);
    expect(p.region(Dn.parse('ou=b,dc=x'), 'sub').asserts('title')).toBe(true);
    expect(p.region(Dn.parse('dc=x'), 'sub').asserts('cn')).toBe(true);
    expect(p.region(Dn.parse('dc=x'), 'sub').readsEverything).toBe(false);
    expect(p.region(Dn.parse('ou=b,dc=x'), 'sub').readsEverything).toBe(true);
  });

  it('an assertion on a supertype tests its subtypes: (name=…) and compare of name when title is withheld', async () => {
    const stage = new AccessStage(syncRules(['title', 'member'], 'none', 'read'), forest());
    // Were it sent, the forest would find both entries (neither holds a value of `name` itself).
    for (const name of ['name', 'NAME', 'Name']) expect(await found(stage, 'dc=x', `(|(cn=nobody)(!(${name}=boss)))`)).toEqual([]);
    for (const name of ['name', '2.5.4.41', 'name;lang-en', 'distinguishedName', '2.5.4.49']) {
      await expect(stage.compare(Dn.parse('cn=p,ou=a,dc=x'), name, 'boss', ctx())).rejects.toMatchObject({ code: 50 });
    }
    // seeAlso is no supertype of a withheld type.
    expect(await stage.compare(Dn.parse('cn=p,ou=a,dc=x'), 'seeAlso', 'cn=g,dc=x', ctx())).toBe(true);
    // cn has no withheld subtype: it is asked as sent.
    expect(await found(stage, 'dc=x', '(cn=p)')).toEqual(['cn=p,ou=a,dc=x']);
  });

  it('what Canopy computes from a withheld attribute is withheld too: msDS-UserAccountDisabled from userAccountControl', async () => {
    const stage = new AccessStage(syncRules(['userAccountControl'], 'none', 'read'), forest());
    for (const name of ['msDS-UserAccountDisabled', 'MSDS-USERACCOUNTDISABLED', '1.2.840.113556.1.4.1853']) {
      await expect(stage.compare(Dn.parse('cn=p,ou=a,dc=x'), name, 'TRUE', ctx())).rejects.toMatchObject({ code: 50 });
    }
    expect(await found(stage, 'dc=x', '(msDS-UserAccountDisabled=TRUE)')).toEqual([]);
    expect(await found(stage, 'dc=x', '(!(msDS-UserAccountDisabled=FALSE))')).toEqual([]);
    const policyView = syncRules(['userAccountControl'], 'none', 'read').view(sync);
    expect(policyView.covering(Dn.parse('cn=p,ou=a,dc=x')).attribute('msDS-UserAccountDisabled')).toBe('none');
  });

  it('an OID Canopy does not know may name a withheld type: it gets the lowest level, in filters, compare and writes', async () => {
    const stage = new AccessStage(syncRules(['memberOf', 'info'], 'none', 'write'), forest());
    const access = syncRules(['memberOf'], 'none', 'write').view(sync).covering(Dn.parse('cn=p,ou=a,dc=x'));
    for (const oid of ['1.3.6.1.4.1.99999.1.3', 'OID.1.3.6.1.4.1.99999.1.3', '1.3.6.1.4.1.99999.1.3;binary', '2.5.4.999']) {
      expect(access.attribute(oid)).toBe('none');
      await expect(stage.compare(Dn.parse('cn=p,ou=a,dc=x'), oid, 'cn=g,dc=x', ctx())).rejects.toMatchObject({ code: 50 });
      const change = [{ operation: 'add' as const, attribute: { name: oid, values: ['cn=admins,dc=x'] } }];
      await expect(stage.modify(Dn.parse('cn=p,ou=a,dc=x'), change, ctx())).rejects.toMatchObject({ code: 50 });
    }
    // Known types keep their own level; an unknown name names no known type.
    expect([access.attribute('cn'), access.attribute('memberOf'), access.attribute('x-unknown')]).toEqual(['write', 'none', 'write']);
  });

  it("AD's anr tests attributes of the forest's choosing: Undefined unless every attribute of every visible entry may be searched", async () => {
    const sent: SearchRequest[] = [];
    const stage = new AccessStage(syncRules(['title'], 'none', 'read'), forest(sent));
    const before = sent.length;
    for (const filter of ['(anr=p)', '(!(ANR=p))', '(&(cn=*)(!(aNR=x)))']) expect(await found(stage, 'dc=x', filter), filter).toEqual([]);
    expect(sent.length).toBe(before);
    await expect(stage.compare(Dn.parse('cn=p,ou=a,dc=x'), 'anr', 'p', ctx())).rejects.toMatchObject({ code: 50 });
    const full = new AccessStage(policy([{ who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'read' }]), forest(sent));
    await found(full, 'dc=x', '(anr=p)');
    expect(sent.at(-1)!.filter).toEqual(parseFilterString('(anr=p)'));
  });

  it('the in-chain rule walks through entries: Undefined unless the identity reads everything in every forest', async () => {
    const mounts = new Map([['x', Dn.parse('dc=x')]]);
    const sent: SearchRequest[] = [];
    const partial = new AccessStage(
      policy([
        { who: 'cn=sync', what: { dn: 'ou=b,dc=x' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'read' },
      ]),
      forest(sent),
      mounts,
    );
    const chain = '(memberOf:1.2.840.113556.1.4.1941:=cn=g,dc=x)';
    const before = sent.length;
    expect(await found(partial, 'ou=a,dc=x', chain)).toEqual([]);
    expect(await found(partial, 'ou=a,dc=x', `(!${chain})`)).toEqual([]);
    expect(sent.length).toBe(before);
    const full = new AccessStage(policy([{ who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'read' }]), forest(sent), mounts);
    await found(full, 'ou=a,dc=x', chain);
    expect(sent.at(-1)!.filter).toEqual(parseFilterString(chain));
  });

  it('writing an entry or renaming it writes its RDN values: each needs write', async () => {
    const stage = new AccessStage(syncRules(['employeeNumber'], 'read', 'write'), forest());
    for (const type of ['employeeNumber', 'EMPLOYEENUMBER', '2.16.840.1.113730.3.1.3']) {
      await expect(stage.add(new Entry(Dn.parse(`${type}=778,ou=a,dc=x`), [{ name: 'objectClass', values: ['person'] }]), ctx())).rejects.toMatchObject({ code: 50 });
      const rename = { dn: Dn.parse('cn=p,ou=a,dc=x'), newRdn: `${type}=999`, deleteOldRdn: false };
      await expect(stage.modifyDn(rename, ctx())).rejects.toMatchObject({ code: 50 });
    }
    // An entry named by a withheld type (its DN is looked up: employeeNumber is no plain naming type).
    people.push(new Entry(Dn.parse('employeeNumber=999,ou=a,dc=x'), [{ name: 'employeeNumber', values: ['999'] }]));
    const back = { dn: Dn.parse('employeeNumber=999,ou=a,dc=x'), newRdn: 'cn=p', deleteOldRdn: true };
    await expect(stage.modifyDn(back, ctx())).rejects.toMatchObject({ code: 50 });
    await stage.modifyDn({ dn: Dn.parse('cn=p,ou=a,dc=x'), newRdn: 'cn=p2', deleteOldRdn: true }, ctx());
    await stage.add(new Entry(Dn.parse('cn=n,ou=a,dc=x'), [{ name: 'objectClass', values: ['person'] }]), ctx());
  });

  it('a DN beyond printable ASCII is decided as the forest gives it back: its own preparation of Unicode decides what it names', async () => {
    // A forest that, as Active Directory, ignores accents in names: `Jösé Müller` there is `José Müller`.
    const fold = (dn: Dn) => dn.text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
    const stored = [Dn.parse('cn=José Müller,ou=a,dc=x'), Dn.parse('ou=locked,dc=x'), Dn.parse('cn=p,ou=a,dc=x')];
    const writes: string[] = [];
    const accentBlind = {
      async *search(r: SearchRequest) {
        const found = stored.find((dn) => fold(dn) === fold(r.base));
        if (!found) {
          // As a directory answers: the deepest entry it has above the base, in its own spelling.
          const held = [...stored, Dn.parse('ou=a,dc=x'), Dn.parse('dc=x')];
          let above = r.base.parent();
          while (above && !held.some((dn) => fold(dn) === fold(above!))) above = above.parent();
          throw new LdapError(ResultCode.noSuchObject, 'noSuchObject', above ? held.find((dn) => fold(dn) === fold(above!))!.text : '');
        }
        yield new Entry(found, []);
      },
      modify: async (dn: Dn) => void writes.push(`modify ${dn.text}`),
      delete: async (dn: Dn) => void writes.push(`delete ${dn.text}`),
      modifyDn: async (r: { dn: Dn; newSuperior?: Dn }) => void writes.push(`modifyDN ${r.dn.text} ${r.newSuperior?.text}`),
      passwordModify: async (r: { user: Dn }) => void writes.push(`password ${r.user.text}`),
      compare: async () => true,
      add: async (e: Entry) => void writes.push(`add ${e.dn.text}`),
    } as unknown as Directory;
    const stage = new AccessStage(
      policy([
        { who: 'cn=sync', what: { dn: 'cn=José Müller,ou=a,dc=x', scope: 'base' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'ou=locked,dc=x' }, allow: 'read' },
        { who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'write' },
      ]),
      accentBlind,
    );
    const change = [{ operation: 'replace' as const, attribute: { name: 'title', values: ['x'] } }];
    for (const spelled of ['cn=Jösé Müller,ou=a,dc=x', 'CN=JOSE\u0300 MÜLLER,OU=A,DC=X', 'cn=Jôsé Mùller,ou=a,dc=x']) {
      const dn = Dn.parse(spelled);
      await expect(stage.modify(dn, change, ctx()), spelled).rejects.toMatchObject({ code: 32 });
      await expect(stage.delete(dn, ctx())).rejects.toMatchObject({ code: 32 });
      await expect(stage.compare(dn, 'cn', 'x', ctx())).rejects.toMatchObject({ code: 32 });
      await expect(stage.passwordModify({ user: dn, newPassword: Buffer.from('x'), oldPasswordProven: false } as never, ctx())).rejects.toMatchObject({ code: 32 });
      await expect(stage.modifyDn({ dn, newRdn: 'cn=free', deleteOldRdn: true }, ctx())).rejects.toMatchObject({ code: 32 });
    }
    // Into a read-only subtree under another spelling of it, and an add below it.
    await expect(stage.modifyDn({ dn: Dn.parse('cn=p,ou=a,dc=x'), newRdn: 'cn=p', deleteOldRdn: true, newSuperior: Dn.parse('ou=löcked,dc=x') }, ctx())).rejects.toMatchObject({ code: 50 });
    await expect(stage.add(new Entry(Dn.parse('cn=n,ou=löcked,dc=x'), [{ name: 'objectClass', values: ['person'] }]), ctx())).rejects.toMatchObject({ code: 50 });
    // A search from such a base starts at the DN the forest names: refused as unseen, or served from there.
    const searched = async (base: string) => {
      const out: string[] = [];
      for await (const e of stage.search({ ...request(base, '(objectClass=*)'), scope: 'base' }, ctx())) out.push(e.dn.text);
      return out;
    };
    await expect(searched('cn=Jösé Müller,ou=a,dc=x')).rejects.toMatchObject({ code: 32, matchedDn: 'ou=a,dc=x' });
    await expect(searched('cn=Nöbody,ou=a,dc=x')).rejects.toMatchObject({ code: 32, matchedDn: 'ou=a,dc=x' });
    expect(await searched('ou=löcked,dc=x')).toEqual(['ou=locked,dc=x']);
    // What the forest does not have is answered as what the identity may not see; ASCII goes as spelled, unasked.
    await expect(stage.modify(Dn.parse('cn=Nöbody,ou=a,dc=x'), change, ctx())).rejects.toMatchObject({ code: 32 });
    await stage.modify(Dn.parse('CN=P,OU=A,DC=X'), change, ctx());
    await stage.modifyDn({ dn: Dn.parse('cn=p,ou=a,dc=x'), newRdn: 'cn=p', deleteOldRdn: true, newSuperior: Dn.parse('ou=ä,dc=x'.replace('ä', 'a')) }, ctx());
    expect(writes).toEqual(['modify CN=P,OU=A,DC=X', 'modifyDN cn=p,ou=a,dc=x ou=a,dc=x']);
  });

  it('a DN of a naming type with its own matching upstream is decided as the forest gives it back', async () => {
    // slapd's telephoneNumberMatch ignores spaces and hyphens: +1-408-555-0100 there is +1 408 555 0100.
    const phone = Dn.parse('telephoneNumber=\\+1 408 555 0100,ou=a,dc=x');
    const fold = (dn: Dn) => dn.key.replace(/[ -]/g, '');
    const writes: string[] = [];
    const forest = {
      async *search(r: SearchRequest) {
        if (fold(r.base) !== fold(phone)) throw new LdapError(ResultCode.noSuchObject, 'noSuchObject');
        yield new Entry(phone, []);
      },
      modify: async (dn: Dn) => void writes.push(dn.text),
      compare: async () => true,
    } as unknown as Directory;
    const stage = new AccessStage(
      policy([
        { who: 'cn=sync', what: { dn: phone.text, scope: 'base' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'write' },
      ]),
      forest,
    );
    const change = [{ operation: 'replace' as const, attribute: { name: 'title', values: ['x'] } }];
    for (const spelled of ['telephoneNumber=\\+1-408-555-0100,ou=a,dc=x', 'telephoneNumber=\\+14085550100,ou=a,dc=x', '2.5.4.20=\\+1 408-555 0100,ou=a,dc=x']) {
      await expect(stage.modify(Dn.parse(spelled), change, ctx()), spelled).rejects.toMatchObject({ code: 32, matchedDn: 'ou=a,dc=x' });
      await expect(stage.compare(Dn.parse(spelled), 'cn', 'x', ctx())).rejects.toMatchObject({ code: 32 });
    }
    expect(writes).toEqual([]);
    expect([Dn.parse('CN=Ann Lee,OU=Users,DC=x').plainNaming, Dn.parse('uid=ann,dc=x').plainNaming, phone.plainNaming, Dn.parse('mail=a@x,dc=x').plainNaming]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('an entry it may not see and one that does not exist get the same answer: no existence oracle', async () => {
    const existing = ['cn=p,ou=a,dc=x', 'cn=hidden,ou=a,dc=x', 'ou=a,dc=x', 'ou=h,dc=x', 'cn=s,ou=h,dc=x', 'dc=x', 'ou=g,dc=x', 'cn=fin,ou=g,dc=x'].map((t) =>
      Dn.parse(t),
    );
    /** A forest answering a missing entry as servers do: noSuchObject, matchedDN the deepest existing entry above. */
    const deepest = (dn: Dn): string => {
      for (let above = dn.parent(); above; above = above.parent()) if (existing.some((e) => e.equals(above))) return above.text;
      return '';
    };
    const check = async (dn: Dn) => {
      if (!existing.some((e) => e.equals(dn))) throw new LdapError(ResultCode.noSuchObject, `no such entry "${dn.text}"`, deepest(dn));
    };
    const forest = {
      async *search(r: SearchRequest) {
        await check(r.base);
        yield new Entry(r.base, []);
      },
      modify: check,
      delete: check,
      compare: async (dn: Dn) => (await check(dn), true),
      add: async (e: Entry) => check(e.dn.parent()!),
      // As slapd: a missing entry or new superior is noSuchObject without matchedDN.
      modifyDn: async (r: { dn: Dn; newSuperior?: Dn }) => {
        for (const dn of [r.dn, r.newSuperior]) if (dn && !existing.some((e) => e.equals(dn))) throw new LdapError(ResultCode.noSuchObject, 'noSuchObject');
      },
      passwordModify: async (r: { user: Dn }) => {
        if (!existing.some((e) => e.equals(r.user))) throw new LdapError(ResultCode.noSuchObject, 'noSuchObject');
      },
    } as unknown as Directory;
    const stage = new AccessStage(
      policy([
        { who: 'cn=sync', what: { dn: 'cn=hidden,ou=a,dc=x', scope: 'base' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'ou=g,dc=x', scope: 'one' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'ou=h,dc=x' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'write' },
      ]),
      forest,
    );
    const change = [{ operation: 'replace' as const, attribute: { name: 'title', values: ['x'] } }];
    const answer = async (op: Promise<unknown>, dn: string) => {
      const err = (await op.then(() => undefined, (e: unknown) => e)) as LdapError;
      return [err.code, err.matchedDn, err.message.replace(dn, '<dn>')];
    };
    const searched = async (dn: string, scope: SearchRequest['scope']) => {
      for await (const _ of stage.search({ ...request(dn, '(objectClass=*)'), scope }, ctx()));
    };
    const asked = (dn: string) => [
      searched(dn, 'base'),
      searched(dn, 'one'),
      searched(dn, 'sub'),
      stage.modify(Dn.parse(dn), change, ctx()),
      stage.delete(Dn.parse(dn), ctx()),
      stage.compare(Dn.parse(dn), 'cn', 'x', ctx()),
      // Below it, and to it as a new superior: its children and moves would tell it exists.
      stage.add(new Entry(Dn.parse(`cn=child,${dn}`), [{ name: 'objectClass', values: ['person'] }]), ctx()),
      stage.modifyDn({ dn: Dn.parse('cn=p,ou=a,dc=x'), newRdn: 'cn=p', deleteOldRdn: true, newSuperior: Dn.parse(dn) }, ctx()),
      stage.passwordModify({ user: Dn.parse(dn), newPassword: Buffer.from('x'), oldPasswordProven: false } as never, ctx()),
    ];
    // A hidden entry and a missing sibling; an entry of a hidden subtree, a missing one there, and the subtree itself.
    for (const [hidden, absent] of [
      ['cn=hidden,ou=a,dc=x', 'cn=absent,ou=a,dc=x'],
      ['cn=fin,ou=g,dc=x', 'cn=nogroup,ou=g,dc=x'],
      ['cn=s,ou=h,dc=x', 'cn=absent,ou=h,dc=x'],
      ['ou=h,dc=x', 'ou=absent,dc=x'],
    ]) {
      const a = asked(hidden);
      const b = asked(absent);
      for (let i = 0; i < a.length; i++) {
        const [x, y] = [await answer(a[i], hidden), await answer(b[i], absent)].map((r) => [r[0], r[1], String(r[2]).replace(/cn=child,/, '')]);
        expect(x, `${hidden} / ${absent} #${i}`).toEqual(y);
        expect(x[0]).toBe(32);
      }
    }
    // What lies above nothing that exists names no matchedDN.
    expect(await answer(stage.modify(Dn.parse('cn=a,dc=nowhere'), change, ctx()), 'cn=a,dc=nowhere')).toEqual([32, '', 'no such object "<dn>"']);
  });

  it('an add or a rename onto a DN the forest names otherwise is answered as a missing entry when what it names is hidden', async () => {
    // The forest compares telephone numbers without spaces and hyphens (telephoneNumberMatch); Canopy does not.
    const hidden = Dn.parse('telephoneNumber=\\+1 408 555 0100,ou=a,dc=x');
    const spoken = (dn: Dn) => dn.text.replace(/[- ]/g, '').toLowerCase();
    const done: string[] = [];
    const forest = {
      async *search(r: SearchRequest) {
        if (spoken(r.base) !== spoken(hidden)) throw new LdapError(ResultCode.noSuchObject, 'no such object', 'ou=a,dc=x');
        yield new Entry(hidden, []);
      },
      add: async (e: Entry) => void done.push(`add ${e.dn.text}`),
      modifyDn: async (r: { newRdn: string }) => void done.push(`modifyDN ${r.newRdn}`),
    } as unknown as Directory;
    const stage = new AccessStage(
      policy([
        { who: 'cn=sync', what: { dn: hidden.text, scope: 'base' }, allow: 'none' },
        // A protected name nothing holds yet: a write creating it under another spelling is refused as well.
        { who: 'cn=sync', what: { dn: 'cn=Iris Absent,ou=a,dc=x', scope: 'base' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'telephoneNumber=\\+1 408 555 0177,ou=a,dc=x', scope: 'base' }, allow: 'none' },
        // Names whose values a forest compares by meaning: a DN, an object class.
        { who: 'cn=sync', what: { dn: 'seeAlso=cn\\=boss\\,dc\\=x,ou=a,dc=x', scope: 'base' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'objectClass=person,ou=a,dc=x', scope: 'base' }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'write' },
      ]),
      forest,
    );
    const person = [{ name: 'objectClass', values: ['person'] }];
    const answer = (op: Promise<unknown>) => op.then(() => 0, (e: LdapError) => e.code);
    for (const name of ['cn=\u0130ris Absent', 'CN=IR\u0130S ABSENT', 'cn=Iris Abs\u00ebnt', 'commonName=\uff29ris Absent', 'telephoneNumber=\\+1-408-555-0177', 'seeAlso=2.5.4.3\\=BOSS\\,domainComponent\\=x', 'objectClass=2.5.6.6', '2.5.4.0=Person']) {
      expect(await answer(stage.add(new Entry(Dn.parse(`${name},ou=a,dc=x`), person), ctx())), name).toBe(ResultCode.noSuchObject);
      expect(await answer(stage.modifyDn({ dn: Dn.parse('cn=p,ou=a,dc=x'), newRdn: name, deleteOldRdn: false }, ctx())), name).toBe(ResultCode.noSuchObject);
    }
    for (const number of ['\\+1-408-555-0100', '\\+14085550100']) {
      expect(await answer(stage.add(new Entry(Dn.parse(`telephoneNumber=${number},ou=a,dc=x`), person), ctx())), number).toBe(ResultCode.noSuchObject);
      expect(await answer(stage.modifyDn({ dn: Dn.parse('cn=p,ou=a,dc=x'), newRdn: `telephoneNumber=${number}`, deleteOldRdn: false }, ctx())), number).toBe(ResultCode.noSuchObject);
    }
    expect(done).toEqual([]);
    await stage.add(new Entry(Dn.parse('telephoneNumber=\\+1-408-555-0199,ou=a,dc=x'), person), ctx());
    await stage.modifyDn({ dn: Dn.parse('cn=p,ou=a,dc=x'), newRdn: 'telephoneNumber=\\+1-408-555-0199', deleteOldRdn: false }, ctx());
    expect(done).toEqual(['add telephoneNumber=\\+1-408-555-0199,ou=a,dc=x', 'modifyDN telephoneNumber=\\+1-408-555-0199']);
  });

  it('a rename, a move or a delete concerns what may lie below the entry: decided by the rules, whatever exists there', async () => {
    const done: string[] = [];
    const writable = {
      search: everyEntryExists,
      modifyDn: async (r: { dn: Dn }) => void done.push(`modifyDN ${r.dn.text}`),
      delete: async (dn: Dn) => void done.push(`delete ${dn.text}`),
    } as unknown as Directory;
    // The sync account writes everything but one protected entry (and a place kept for another), as in the audit.
    const rules = (who: string, rest: Level) =>
      policy([
        { who, what: { dn: 'cn=secret,ou=alpha,ou=p,dc=x', scope: 'base' }, allow: 'none' },
        { who, what: { dn: 'cn=kept,ou=gamma,ou=p,dc=x', scope: 'base' }, allow: 'none' },
        { who, what: { dn: 'dc=x' }, allow: rest },
      ]);
    const stage = new AccessStage(rules('cn=sync', 'write'), writable);
    const refused = async (op: Promise<unknown>) => expect(op).rejects.toMatchObject({ code: ResultCode.insufficientAccessRights });
    // Renaming or moving the parent would take the protected entry out of its rule; any spelling of the parent.
    for (const parent of ['ou=alpha,ou=p,dc=x', 'OU=Alpha,OU=P,DC=X', 'organizationalUnitName=alpha,ou=p,dc=x', '2.5.4.11=ALPHA,ou=p,dc=x']) {
      await refused(stage.modifyDn({ dn: Dn.parse(parent), newRdn: 'ou=gone', deleteOldRdn: true }, ctx()));
      await refused(stage.modifyDn({ dn: Dn.parse(parent), newRdn: 'ou=alpha', deleteOldRdn: false, newSuperior: Dn.parse('ou=q,dc=x') }, ctx()));
      await refused(stage.modifyDn({ dn: Dn.parse('ou=p,dc=x'), newRdn: 'ou=p2', deleteOldRdn: true }, ctx()));
      // A delete refused by the forest for a hidden child would tell it exists: refused by the rules first.
      await refused(stage.delete(Dn.parse(parent), ctx()));
    }
    expect(done).toEqual([]);
    // Where it writes everything, a move can only take rights away (into a rule that protects a DN):
    // it could have copied the entries anyway.
    await stage.modifyDn({ dn: Dn.parse('ou=beta,ou=p,dc=x'), newRdn: 'ou=gamma', deleteOldRdn: true }, ctx());
    await stage.modifyDn({ dn: Dn.parse('cn=v,ou=alpha,ou=p,dc=x'), newRdn: 'cn=w', deleteOldRdn: true }, ctx());
    await stage.delete(Dn.parse('ou=beta,ou=p,dc=x'), ctx());
    expect(done).toEqual(['modifyDN ou=beta,ou=p,dc=x', 'modifyDN cn=v,ou=alpha,ou=p,dc=x', 'delete ou=beta,ou=p,dc=x']);

    // A rule withholding part of the entries: a move may not take them out of it, wherever it is
    // written, nor bring entries under rules that decide otherwise; one rule over the whole tree moves with them.
    done.length = 0;
    const partial = new AccessStage(
      policy([
        { who: 'cn=sync', what: { dn: 'dc=x', attributes: ['userPassword'] }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'ou=secure,dc=x', attributes: ['homePhone'] }, allow: 'read' },
        { who: 'cn=sync', what: { dn: 'cn=b,ou=open,dc=x', scope: 'base', attributes: ['telephoneNumber'] }, allow: 'none' },
        { who: 'cn=sync', what: { dn: 'dc=x' }, allow: 'write' },
      ]),
      writable,
    );
    // Renaming the entry a rule names, or its parent, takes the entry out of that rule.
    await refused(partial.modifyDn({ dn: Dn.parse('cn=b,ou=open,dc=x'), newRdn: 'cn=b2', deleteOldRdn: true }, ctx()));
    await refused(partial.modifyDn({ dn: Dn.parse('ou=open,dc=x'), newRdn: 'ou=delta', deleteOldRdn: true }, ctx()));
    await refused(partial.modifyDn({ dn: Dn.parse('cn=s,ou=secure,dc=x'), newRdn: 'cn=s', deleteOldRdn: false, newSuperior: Dn.parse('ou=open,dc=x') }, ctx()));
    await refused(partial.modifyDn({ dn: Dn.parse('ou=secure,dc=x'), newRdn: 'ou=plain', deleteOldRdn: true }, ctx()));
    await refused(partial.modifyDn({ dn: Dn.parse('cn=o,ou=open,dc=x'), newRdn: 'cn=o', deleteOldRdn: false, newSuperior: Dn.parse('ou=secure,dc=x') }, ctx()));
    expect(done).toEqual([]);
    await partial.modifyDn({ dn: Dn.parse('cn=s,ou=secure,dc=x'), newRdn: 'cn=t', deleteOldRdn: true }, ctx());
    await partial.modifyDn({ dn: Dn.parse('cn=o,ou=open,dc=x'), newRdn: 'cn=o', deleteOldRdn: false, newSuperior: Dn.parse('ou=other,dc=x') }, ctx());
    expect(done).toEqual(['modifyDN cn=s,ou=secure,dc=x', 'modifyDN cn=o,ou=open,dc=x']);

    // A forest user writing as itself: its forest decides the write, the rules still hide what they hide.
    done.length = 0;
    const mine = new AccessStage(rules('authenticated', 'read'), writable, new Map([['a', Dn.parse('ou=p,dc=x')]]));
    const u: Identity = { kind: 'user', forest: 'a', dn: Dn.parse('cn=u,ou=beta,ou=p,dc=x'), login: 'u' };
    await refused(mine.modifyDn({ dn: Dn.parse('ou=alpha,ou=p,dc=x'), newRdn: 'ou=gone', deleteOldRdn: true }, ctx(u)));
    await refused(mine.modifyDn({ dn: Dn.parse('OU=ALPHA,ou=p,dc=x'), newRdn: 'ou=alpha', deleteOldRdn: false, newSuperior: Dn.parse('ou=q,ou=p,dc=x') }, ctx(u)));
    await refused(mine.delete(Dn.parse('ou=alpha,ou=p,dc=x'), ctx(u)));
    // Onto a DN it may not see: answered as a missing entry, not by the forest's "already exists".
    const onto = mine.modifyDn({ dn: Dn.parse('cn=v,ou=beta,ou=p,dc=x'), newRdn: 'cn=secret', deleteOldRdn: true, newSuperior: Dn.parse('ou=alpha,ou=p,dc=x') }, ctx(u));
    await expect(onto).rejects.toMatchObject({ code: ResultCode.noSuchObject });
    expect(done).toEqual([]);
    await mine.modifyDn({ dn: Dn.parse('cn=v,ou=beta,ou=p,dc=x'), newRdn: 'cn=w', deleteOldRdn: true }, ctx(u));
    expect(done).toEqual(['modifyDN cn=v,ou=beta,ou=p,dc=x']);
  });
});
