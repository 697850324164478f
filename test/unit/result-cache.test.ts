import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { answerFromCache, type MessageOutput, type RunOutcome } from '../../src/cache/cached-search.js';
import { ResultCache } from '../../src/cache/result-cache.js';
import { accessSchema } from '../../src/config/auth-schema.js';
import type { OperationContext, SearchRequest } from '../../src/core/directory.js';
import type { Filter } from '../../src/core/filter.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import type { Identity } from '../../src/core/identity.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { createLogger } from '../../src/observability/logger.js';
import { AttributeSelection, encodeEnvelopes, encodeSearchEntry, encodeSearchReference, protocolOpStart } from '../../src/protocol/encoder.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { AccessPolicy } from '../../src/stages/access/access-policy.js';

const SETTINGS = { ttlSeconds: 60, maxBytes: 64 * 1024, maxEntriesPerResult: 3, negativeTtlSeconds: 10, staleIfErrorSeconds: 30 };
const FORESTS = [
  { name: 'a', mount: Dn.parse('ou=a,dc=x'), cache: true },
  { name: 'b', mount: Dn.parse('ou=b,dc=x'), cache: true },
  { name: 'off', mount: Dn.parse('ou=off,dc=x'), cache: false },
];
const user = (name: string): Identity => ({ kind: 'user', forest: 'a', dn: Dn.parse(`cn=${name},ou=a,dc=x`), login: name });
const ctx = (identity?: Identity): OperationContext => ({ signal: new AbortController().signal, connectionId: 1, boundDn: '', ...(identity && { identity }) });
const request = (base: string, filter = '(uid=jdoe)', extra: Partial<SearchRequest> = {}): SearchRequest => ({
  base: Dn.parse(base),
  scope: 'sub',
  filter: parseFilterString(filter),
  attributes: ['cn', 'mail'],
  typesOnly: false,
  sizeLimit: 0,
  timeLimit: 0,
  ...extra,
});
const entry = (dn: string, cn = 'x'.repeat(20)) => new Entry(Dn.parse(dn), [{ name: 'cn', values: [cn] }]);
const ALL = AttributeSelection.compile([], false);
const message = (id: number, e: Entry) => encodeSearchEntry(id, e, ALL);
const SUCCESS: RunOutcome = { code: ResultCode.success, entries: 1, cacheable: true };

function cache(settings: Partial<typeof SETTINGS & { maxBytesPerIdentity: number }> = {}, viewKey = (i: Identity) => i.kind) {
  const clock = { now: 1_000_000 };
  return { clock, cache: new ResultCache({ settings: { ...SETTINGS, ...settings }, forests: FORESTS, viewKey, logger: createLogger('silent'), now: () => clock.now }) };
}

/** An output that keeps what is written. */
function output(): MessageOutput & { written: Buffer[] } {
  const written: Buffer[] = [];
  return { written, write: (b) => (written.push(b), true), drained: () => Promise.resolve() };
}

describe('the encoder seam for kept results', () => {
  it('a kept protocolOp under a new message ID is the entry encoded under that ID', () => {
    const opOf = (m: Buffer) => m.subarray(protocolOpStart(m));
    for (const e of [entry('cn=José Müller,ou=a,dc=x', 'y'.repeat(300)), entry('cn=big,ou=a,dc=x', 'z'.repeat(70_000)), entry('cn=1,ou=a,dc=x', '')]) {
      for (const [from, to] of [[1, 70_000], [200, 3], [0x7fffffff, 128], [127, 0x7fffffff]]) {
        const op = opOf(message(from, e));
        expect(encodeEnvelopes(to, op)).toEqual(message(to, e));
        expect(encodeEnvelopes(to, Buffer.concat([op, op]), op.length)).toEqual(message(to, e));
      }
    }
    const two = [entry('cn=1,ou=a,dc=x'), entry('cn=2,ou=a,dc=x')];
    const reference = (id: number) => encodeSearchReference(id, ['ldap://dc.vse.lab/DC=vse,DC=lab']);
    const kept = Buffer.concat([...two.map((x) => opOf(message(1, x))), opOf(reference(1))]);
    expect(encodeEnvelopes(9, kept)).toEqual(Buffer.concat([...two.map((x) => message(9, x)), reference(9)]));
  });
});

describe('AccessPolicy.viewKey', () => {
  it('is the same for identities the same rules cover, and differs as soon as one rule does', () => {
    const policy = new AccessPolicy(
      accessSchema.parse([
        { who: 'cn=admin,ou=a,dc=x', what: { dn: '' }, allow: 'write' },
        { who: 'authenticated', what: { dn: 'dc=x', attributes: ['cn'] }, allow: 'read' },
        { who: 'anonymous', what: { dn: 'dc=x', scope: 'base' }, allow: 'read' },
      ])!,
    );
    expect(policy.viewKey(user('jdoe'))).toBe(policy.viewKey(user('asmith')));
    expect(policy.viewKey(user('admin'))).not.toBe(policy.viewKey(user('jdoe')));
    expect(policy.viewKey({ kind: 'anonymous' })).not.toBe(policy.viewKey(user('jdoe')));
    expect(policy.viewKey({ kind: 'account', dn: Dn.parse('CN=Admin, OU=A,DC=X') })).toBe(policy.viewKey(user('admin')));
  });
});

describe('ResultCache', () => {
  it('keys by access view, limits and request shape; attribute order and case do not matter', () => {
    const { cache: c } = cache();
    const key = (r: SearchRequest, i?: Identity, page?: number) => c.key(r, ctx(i), page)?.text;
    const base = key(request('ou=a,dc=x'), user('u'));
    expect(key(request('OU=A,DC=X', '(uid=jdoe)', { attributes: ['MAIL', 'cn'] }), user('v'))).toBe(base);
    for (const other of [
      key(request('ou=a,dc=x')), // anonymous: another view
      key(request('ou=a,dc=x', '(uid=JDOE)'), user('u')),
      key(request('ou=a,dc=x', '(uid=jdoe)', { sizeLimit: 5 }), user('u')),
      key(request('ou=a,dc=x', '(uid=jdoe)', { typesOnly: true }), user('u')),
      key(request('ou=a,dc=x', '(uid=jdoe)', { scope: 'one' }), user('u')),
      key(request('ou=a,dc=x', '(uid=jdoe)', { sort: { keys: [{ attribute: 'cn', reverse: false }], required: false } }), user('u')),
      key(request('ou=a,dc=x', '(uid=jdoe)', { sort: { keys: [{ attribute: 'cn', reverse: false }], required: true } }), user('u')),
      key(request('ou=a,dc=x'), user('u'), 100),
    ]) {
      expect(other).not.toBe(base);
    }
  });

  it('goes around the cache for a request whose attribute names would make its key ambiguous', () => {
    const { cache: c } = cache();
    const key = (extra: Partial<SearchRequest>, filter = '(&(uid=jdoe)(objectClass=user))') => c.key(request('ou=a,dc=x', filter, extra), ctx(user('u')))?.text;
    const filter = (attribute: string, value: string): Filter => ({ type: 'and', filters: [{ type: 'equality', attribute, value: Buffer.from(value) }] });
    // Crafted names that would spell another request's key: that request's answer would be theirs.
    expect(key({ filter: filter('uid=jdoe)(objectClass', 'user') })).toBeUndefined();
    expect(key({ filter: { type: 'extensible', attribute: 'uid', rule: '2.5.13.2:=x', value: Buffer.from('y'), dnAttributes: false } })).toBeUndefined();
    expect(key({ attributes: ['cn,mail'] })).toBeUndefined();
    expect(key({ attributes: ['cn\0mail'] })).toBeUndefined();
    expect(key({ sort: { keys: [{ attribute: 'cn:x:false,sn', reverse: false }], required: false } })).toBeUndefined();
    // Real attribute descriptions are kept: names, OIDs, options, AD's range option, * and +.
    expect(key({ attributes: ['cn;lang-en', 'member;range=0-*', '2.5.4.3', 'msDS-UserAccountDisabled', '*', '+'] })).toBeDefined();
    expect(key({ sort: { keys: [{ attribute: 'sn', orderingRule: '2.5.13.3', reverse: true }], required: true } }, '(userAccountControl:1.2.840.113556.1.4.803:=2)')).toBeDefined();
  });

  it('knows the forests a search region touches, and goes around forests with cache: false', () => {
    const { cache: c } = cache();
    expect(c.key(request('dc=x'), ctx())).toBeUndefined(); // spans ou=off
    expect(c.key(request('cn=u,ou=a,dc=x'), ctx())?.forests).toEqual(['a']);
    expect(c.key(request('ou=b,dc=x', '(uid=x)', { scope: 'base' }), ctx())?.forests).toEqual(['b']);
    expect(c.key(request('cn=y,ou=off,dc=x'), ctx())).toBeUndefined();
    expect(c.key(request('dc=y'), ctx())?.forests).toEqual([]);
  });

  it('keeps results for their TTL (empty ones for the negative TTL), then stale for staleIfErrorSeconds', () => {
    const { cache: c, clock } = cache();
    const full = c.key(request('ou=a,dc=x'), ctx())!;
    const empty = c.key(request('ou=a,dc=x', '(uid=nobody)'), ctx())!;
    c.store(full, [message(1, entry('cn=1,ou=a,dc=x'))], SUCCESS);
    c.store(empty, [], { ...SUCCESS, entries: 0 });
    expect(c.lookup(full)).toMatchObject({ fresh: true, result: { outcome: { code: 0, entries: 1 } } });
    expect(c.lookup(empty)?.fresh).toBe(true);
    clock.now += 10_001;
    expect(c.lookup(empty)?.fresh).toBe(false);
    expect(c.lookup(full)?.fresh).toBe(true);
    clock.now += 50_000;
    expect(c.lookup(full)?.fresh).toBe(false);
    clock.now += 29_998; // 89.999 s: within ttlSeconds + staleIfErrorSeconds
    expect(c.lookup(full)?.fresh).toBe(false);
    clock.now += 2;
    expect(c.lookup(full)).toBeUndefined();
    expect(c.lookup(empty)).toBeUndefined();
    expect(c.summary()).toMatchObject({ results: 0, bytes: 0, evicted: { expired: 2 } });
  });

  it('evicts the least recently used results past maxBytes, and never keeps one larger than that', () => {
    const { cache: c } = cache({ maxBytes: 4000 });
    const keys = ['1', '2', '3', '4'].map((n) => c.key(request('ou=a,dc=x', `(uid=${n})`), ctx())!);
    const big = (n: number) => [message(1, entry(`cn=${n},ou=a,dc=x`, 'z'.repeat(500)))];
    for (const [i, k] of keys.slice(0, 3).entries()) c.store(k, big(i), SUCCESS);
    expect(c.lookup(keys[0])).toBeDefined(); // now the most recently used
    c.store(keys[3], big(3), SUCCESS);
    expect(c.lookup(keys[1])).toBeUndefined();
    expect([keys[0], keys[2], keys[3]].every((k) => c.lookup(k)?.fresh)).toBe(true);
    expect(c.summary()).toMatchObject({ results: 3, evicted: { size: 1 } });
    expect(c.summary().bytes).toBeLessThanOrEqual(4000);
    const huge = c.key(request('ou=a,dc=x', '(uid=huge)'), ctx())!;
    c.store(huge, [message(1, entry('cn=huge,ou=a,dc=x', 'h'.repeat(4000)))], SUCCESS);
    expect(c.lookup(huge)).toBeUndefined();
    expect(c.summary().results).toBe(3);
  });

  it("one identity's results fill at most its share: past it its own oldest go, never another's", () => {
    const { cache: c } = cache({ maxBytes: 20_000, maxBytesPerIdentity: 4000 });
    const big = (n: string) => [message(1, entry(`cn=${n},ou=a,dc=x`, 'z'.repeat(500)))];
    let n = 0;
    // The victim's results, kept before the churn (the same access view: the rules cover both alike).
    const victim = ['v1', 'v2'].map((n) => c.key(request('ou=a,dc=x', `(uid=${n})`), ctx(user('victim')))!);
    for (const k of victim) c.store(k, big(`v${n++}`), SUCCESS);
    // Another identity's many searches: only its own oldest results make room for its newest.
    const churn = Array.from({ length: 200 }, (_, i) => c.key(request('ou=a,dc=x', `(uid=c${i})`), ctx(user('mallory')))!);
    for (const k of churn) c.store(k, big(`c${n++}`), SUCCESS);
    expect(victim.every((k) => c.lookup(k)?.fresh)).toBe(true);
    const kept = churn.filter((k) => c.lookup(k) !== undefined);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(5); // 4000 bytes of ~1,100-byte results
    expect(kept).toEqual(churn.slice(churn.length - kept.length)); // its newest
    expect(c.summary().evicted.size).toBe(200 - kept.length);
    // A result larger than the share is not kept at all.
    const huge = c.key(request('ou=a,dc=x', '(uid=huge)'), ctx(user('mallory')))!;
    c.store(huge, [message(1, entry('cn=huge,ou=a,dc=x', 'h'.repeat(4000)))], SUCCESS);
    expect(c.lookup(huge)).toBeUndefined();
    // Anonymous clients have a share each, by address.
    const from = (address: string): OperationContext => ({ ...ctx(), clientAddress: address });
    const anonymous = Array.from({ length: 10 }, (_, i) => c.key(request('ou=a,dc=x', `(uid=a${i})`), from('192.0.2.1'))!);
    for (const k of anonymous) c.store(k, big(`a${n++}`), SUCCESS);
    const other = c.key(request('ou=a,dc=x', '(uid=b)'), from('192.0.2.2'))!;
    c.store(other, big('b'), SUCCESS);
    for (let i = 0; i < 10; i++) c.store(c.key(request('ou=a,dc=x', `(uid=again${i})`), from('192.0.2.1'))!, big(`r${i}`), SUCCESS);
    expect(c.lookup(other)?.fresh).toBe(true);
    expect(victim.every((k) => c.lookup(k)?.fresh)).toBe(true);
  });

  it("another identity of the same view renewing a kept result does not make it its own, nor push it out of its share", () => {
    const { cache: c, clock } = cache({ maxBytes: 20_000, maxBytesPerIdentity: 4000 });
    const big = (n: string) => [message(1, entry(`cn=${n},ou=a,dc=x`, 'z'.repeat(500)))];
    const victim = c.key(request('ou=a,dc=x', '(uid=shared)'), ctx(user('victim')))!;
    c.store(victim, big('shared'), SUCCESS);
    clock.now += 61_000; // past its TTL: kept to stand in for an unavailable forest
    const renewed = c.key(request('ou=a,dc=x', '(uid=shared)'), ctx(user('mallory')))!;
    expect(renewed.text).toBe(victim.text);
    c.store(renewed, big('shared'), SUCCESS);
    for (let i = 0; i < 40; i++) c.store(c.key(request('ou=a,dc=x', `(uid=m${i})`), ctx(user('mallory')))!, big(`m${i}`), SUCCESS);
    expect(c.lookup(victim)?.fresh).toBe(true); // renewed, and still kept
  });

  it('renewing a result makes room only for what it adds: the identity\'s other results stay', () => {
    const { cache: c, clock } = cache({ maxBytes: 20_000, maxBytesPerIdentity: 2600 });
    const big = (n: string) => [message(1, entry(`cn=${n},ou=a,dc=x`, 'z'.repeat(500)))];
    const [a, b] = ['a', 'b'].map((n) => c.key(request('ou=a,dc=x', `(uid=${n})`), ctx(user('victim')))!);
    c.store(a, big('a'), SUCCESS);
    c.store(b, big('b'), SUCCESS);
    clock.now += 61_000;
    c.store(c.key(request('ou=a,dc=x', '(uid=b)'), ctx(user('mallory')))!, big('b'), SUCCESS);
    expect(c.lookup(a)).toBeDefined(); // stale, kept: the renewal of b needed no room
    expect(c.summary().evicted.size).toBe(0);
  });

  it('counts what kept results really take in memory, so maxBytes bounds it', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { cache: c } = cache({ maxBytes: 1 << 30 });
    // The commonest result: one entry found by an exact-match login search.
    const results = Array.from({ length: 20_000 }, (_, i) => ({
      key: c.key(request('ou=a,dc=x', `(uid=user${i})`), ctx())!,
      messages: [message(1, entry(`cn=User ${i},ou=a,dc=x`, `User ${i}`))],
    }));
    const used = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = used();
    for (const r of results) c.store(r.key, r.messages, SUCCESS);
    expect(used() - before).toBeLessThanOrEqual(c.summary().bytes);
    expect(c.summary().results).toBe(results.length);
  });

  it('a write evicts the results touching its forest, and a result read across a write is not kept', () => {
    const { cache: c } = cache();
    const inA = c.key(request('ou=a,dc=x'), ctx())!;
    const inB = c.key(request('ou=b,dc=x'), ctx())!;
    c.store(inA, [], SUCCESS);
    c.store(inB, [], SUCCESS);
    const running = c.key(request('cn=u,ou=a,dc=x'), ctx())!;
    c.invalidate(Dn.parse('cn=u,ou=a,dc=x'));
    expect(c.lookup(inA)).toBeUndefined();
    expect(c.lookup(inB)?.fresh).toBe(true);
    c.store(running, [], SUCCESS);
    expect(c.lookup(running)).toBeUndefined();
    expect(c.summary()).toMatchObject({ results: 1, evicted: { write: 1 } });
  });
});

describe('answerFromCache', () => {
  const run = (messages: Buffer[], outcome: RunOutcome) => async (out: MessageOutput) => {
    for (const m of messages) out.write(m);
    return outcome;
  };
  const signal = new AbortController().signal;
  const entries = ['1', '2'].map((n) => entry(`cn=${n},ou=a,dc=x`));

  it('writes a kept result again under the new message ID', async () => {
    const { cache: c } = cache();
    const key = c.key(request('ou=a,dc=x'), ctx())!;
    const first = output();
    await answerFromCache(c, key, 5, first, signal, run(entries.map((e) => message(5, e)), { ...SUCCESS, entries: 2 }));
    const second = output();
    const outcome = await answerFromCache(c, key, 6, second, signal, () => Promise.reject(new Error('the directory was asked')));
    expect(outcome).toEqual({ code: ResultCode.success, entries: 2 });
    expect(Buffer.concat(second.written)).toEqual(Buffer.concat(entries.map((e) => message(6, e))));
  });

  it('writes a result larger than one socket write in pieces, entries and references whole and in order', async () => {
    const { cache: c } = cache({ maxBytes: 1024 * 1024, maxEntriesPerResult: 10 });
    const key = c.key(request('ou=a,dc=x'), ctx())!;
    const big = (n: number, id: number) => message(id, entry(`cn=${n},ou=a,dc=x`, String(n).repeat(40_000)));
    const result = (id: number) => [big(1, id), encodeSearchReference(id, ['ldap://dc.vse.lab/DC=vse,DC=lab']), big(2, id), big(3, id), big(4, id)];
    await answerFromCache(c, key, 1, output(), signal, run(result(1), { ...SUCCESS, entries: 4 }));
    const again = output();
    await answerFromCache(c, key, 300, again, signal, () => Promise.reject(new Error('the directory was asked')));
    expect(again.written.length).toBeGreaterThan(1);
    expect(Buffer.concat(again.written)).toEqual(Buffer.concat(result(300)));
  });

  it('searches running at once record together at most maxBytes: past it a search is answered, not kept', async () => {
    const { cache: c } = cache({ maxBytes: 3000, maxEntriesPerResult: 10 });
    const big = (n: number, id: number) => message(id, entry(`cn=${n},ou=a,dc=x`, String(n).repeat(600)));
    const keyOf = (filter: string) => c.key(request('ou=a,dc=x', filter), ctx())!;
    // The first search records 3 × ~650 bytes and waits; the second, meanwhile, finds no room left.
    let finish!: () => void;
    const waiting = new Promise<void>((resolve) => (finish = resolve));
    const first = answerFromCache(c, keyOf('(cn=1)'), 1, output(), signal, async (out) => {
      for (const n of [1, 2, 3]) out.write(big(n, 1));
      await waiting;
      return { ...SUCCESS, entries: 3 };
    });
    const out = output();
    await answerFromCache(c, keyOf('(cn=2)'), 2, out, signal, run([big(4, 2), big(5, 2)], { ...SUCCESS, entries: 2 }));
    expect(out.written).toEqual([big(4, 2), big(5, 2)]);
    expect(c.lookup(keyOf('(cn=2)'))).toBeUndefined();
    finish();
    await first;
    expect(c.lookup(keyOf('(cn=1)'))?.fresh).toBe(true);
    // Every record given back once its search ended: the same search is kept now.
    await answerFromCache(c, keyOf('(cn=2)'), 3, output(), signal, run([big(4, 3), big(5, 3)], { ...SUCCESS, entries: 2 }));
    expect(c.lookup(keyOf('(cn=2)'))?.fresh).toBe(true);
  });

  it('keeps neither results past maxEntriesPerResult nor results that are not whole', async () => {
    const { cache: c } = cache();
    const key = c.key(request('ou=a,dc=x'), ctx())!;
    const four = ['1', '2', '3', '4'].map((n) => message(1, entry(`cn=${n},ou=a,dc=x`)));
    const out = output();
    await answerFromCache(c, key, 1, out, signal, run(four, { ...SUCCESS, entries: 4 }));
    expect(out.written).toEqual(four);
    await answerFromCache(c, key, 1, output(), signal, run([four[0]], { code: ResultCode.success, entries: 1, message: 'partial result' }));
    await answerFromCache(c, key, 1, output(), signal, run([four[0]], { code: ResultCode.sizeLimitExceeded, entries: 1 }));
    expect(c.lookup(key)).toBeUndefined();
  });

  it('holds a new answer back while a stale one may stand in for it; the stale one only answers for an unavailable forest', async () => {
    const { cache: c, clock } = cache();
    const key = c.key(request('ou=a,dc=x'), ctx())!;
    await answerFromCache(c, key, 1, output(), signal, run([message(1, entries[0])], SUCCESS));
    clock.now += 61_000;
    // The forest is busy: the stale result answers, and nothing the failed search wrote is sent.
    const busy = output();
    const served = await answerFromCache(c, key, 2, busy, signal, run([message(2, entries[1])], { code: ResultCode.busy, entries: 1 }));
    expect(served).toEqual({ code: ResultCode.success, entries: 1 });
    expect(busy.written).toEqual([message(2, entries[0])]);
    // Another error is the client's answer, with what the search sent before it.
    const refused = output();
    expect(await answerFromCache(c, key, 3, refused, signal, run([message(3, entries[1])], { code: ResultCode.noSuchObject, entries: 1 }))).toMatchObject({
      code: ResultCode.noSuchObject,
    });
    expect(refused.written).toEqual([message(3, entries[1])]);
    // A stale result too large to hold back the new one for: the new one streams, and its error is the answer.
    const four = ['1', '2', '3', '4'].map((n) => message(4, entry(`cn=${n},ou=a,dc=x`)));
    const streamed = output();
    expect(await answerFromCache(c, key, 4, streamed, signal, run(four, { code: ResultCode.unavailable, entries: 4 }))).toMatchObject({ code: ResultCode.unavailable });
    expect(streamed.written).toEqual(four);
    // The forest answers: its result is sent and replaces the stale one.
    await answerFromCache(c, key, 5, output(), signal, run([message(5, entries[1])], SUCCESS));
    const kept = message(5, entries[1]);
    expect(c.lookup(key)).toMatchObject({ fresh: true, result: { ops: kept.subarray(protocolOpStart(kept)) } });
    expect(c.summary()).toMatchObject({ staleServed: 1 });
  });

  it('never serves a stale result evicted by a write, or grown too old, while the new answer was awaited', async () => {
    const { cache: c, clock } = cache();
    const key = (filter: string) => c.key(request('ou=a,dc=x', filter), ctx())!;
    const unavailable = (during: () => void) => async () => {
      during();
      return { code: ResultCode.unavailable, entries: 0 };
    };
    for (const k of [key('(uid=1)'), key('(uid=2)')]) await answerFromCache(c, k, 1, output(), signal, run([message(1, entries[0])], SUCCESS));
    clock.now += 61_000;
    // A write through Canopy to the entry's forest while the forests were asked.
    const afterWrite = output();
    const written = await answerFromCache(c, key('(uid=1)'), 2, afterWrite, signal, unavailable(() => c.invalidate(Dn.parse('cn=1,ou=a,dc=x'))));
    expect(written).toMatchObject({ code: ResultCode.unavailable });
    expect(afterWrite.written).toEqual([]);
    // The forests took so long to fail that the result is now past ttlSeconds + staleIfErrorSeconds (90 s).
    const late = output();
    expect(await answerFromCache(c, key('(uid=2)'), 3, late, signal, unavailable(() => (clock.now += 29_000)))).toMatchObject({ code: ResultCode.unavailable });
    expect(late.written).toEqual([]);
    expect(c.summary()).toMatchObject({ staleServed: 0 });
  });
});
