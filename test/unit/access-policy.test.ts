import { describe, expect, it } from 'vitest';
import { accessSchema } from '../../src/config/auth-schema.js';
import type { Directory, OperationContext, SearchContext, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { compileFilter } from '../../src/core/filter-eval.js';
import type { Identity } from '../../src/core/identity.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { AccessPolicy } from '../../src/stages/access/access-policy.js';
import { AccessStage } from '../../src/stages/access/access-stage.js';
import { searchCtx } from '../support/search-context.js';

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

  it('strips attributes, folds assertions on unreadable ones, and checks varying ones per entry', async () => {
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
    // title is readable under ou=a only: q matches upstream but not for this client.
    const titled = await run(stage, request('dc=x', '(title=boss)', ['cn']), user);
    expect(titled.map((e) => e.dn.text)).toEqual(['cn=p,ou=a,dc=x']);
    expect(sent.at(-1)!.attributes).toEqual(['cn', 'title']);
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
        yield* entries.filter(compileFilter(r.filter));
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
    // q's title is unreadable: neither (title=boss) nor its negation holds there.
    expect(await found('dc=x', '(title=boss)')).toEqual([p]);
    expect(await found('dc=x', '(!(title=boss))')).toEqual([]);
    expect(await found('dc=x', '(!(title=clerk))')).toEqual([p]);
    expect(await found('dc=x', '(|(title=clerk)(cn=q))')).toEqual(['cn=q,ou=b,dc=x']);
    expect(await found('dc=x', '(&(cn=*)(!(title=clerk)))')).toEqual([p]);
    // No attribute named: tested where every attribute is readable (p), Undefined elsewhere (q), by OID or name.
    for (const rule of ['caseIgnoreMatch', '2.5.13.2', '2.5.13.17', 'octetStringMatch']) {
      expect(await found('dc=x', `(:${rule}:=boss)`)).toEqual([p]);
      expect(await found('dc=x', `(!(:${rule}:=boss))`)).toEqual([]);
      expect(await found('dc=x', `(!(:${rule}:=clerk))`)).toEqual([p]);
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
