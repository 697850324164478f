import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OperationContext, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { createLogger } from '../../src/observability/logger.js';
import { loadState, SyncGuard, type SyncGuardSettings } from '../../src/router/sync-guard.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';

const settings: SyncGuardSettings = { enabled: true, minEntries: 100, maxDropPercent: 10, maxDropCount: 500, maxShapes: 100 };
const silent = createLogger('silent');

function request(filter = '(objectClass=user)', extra: Partial<SearchRequest> = {}): SearchRequest {
  return { base: Dn.parse('dc=corp,dc=example'), scope: 'sub', filter: parseFilterString(filter), attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0, ...extra };
}
const ctx = (dn = 'cn=sync,dc=corp,dc=example'): OperationContext => ({
  signal: new AbortController().signal,
  connectionId: 1,
  boundDn: dn,
  identity: { kind: 'account', dn: Dn.parse(dn) },
});

describe('sync guard', () => {
  it('fails a complete result that drops past both thresholds, keeps it pending, and passes smaller drops and growth', () => {
    const guard = new SyncGuard(settings, silent);
    const search = guard.watch(request(), ctx())!;
    expect(guard.complete(search, 'avvid', 10_000)).toBeUndefined();
    // 10 % and 500 are both limits: 9,499 is 5.01 % down (over 500, under 10 %): passes and becomes the reference.
    expect(guard.complete(search, 'avvid', 9_499)).toBeUndefined();
    expect(guard.snapshot().shapes[search.key].forests.avvid.reference?.count).toBe(9_499);
    const err = guard.complete(search, 'avvid', 5_000);
    expect(err?.code).toBe(ResultCode.unavailable);
    expect(err?.message).toContain('forest "avvid" returned 5000 entries');
    expect(err?.message).toContain('had 9499');
    expect(err?.message).toContain('canopy guard accept --forest avvid');
    const record = guard.snapshot().shapes[search.key].forests.avvid;
    expect(record.reference?.count).toBe(9_499);
    expect(record.pending?.count).toBe(5_000);
    expect(record.trips).toBe(1);
    // Still failing until accepted; then the smaller count is the reference and passes.
    expect(guard.complete(search, 'avvid', 5_000)).toBeDefined();
    expect(guard.accept({ forest: 'vse' })).toBe(0);
    expect(guard.accept({ forest: 'avvid' })).toBe(1);
    expect(guard.complete(search, 'avvid', 5_000)).toBeUndefined();
    expect(guard.complete(search, 'avvid', 20_000)).toBeUndefined();
    expect(guard.snapshot().shapes[search.key].forests.avvid.reference?.count).toBe(20_000);
  });

  it('needs both thresholds: a small forest losing 40 % (under maxDropCount) passes', () => {
    const guard = new SyncGuard(settings, silent);
    const search = guard.watch(request(), ctx())!;
    expect(guard.complete(search, 'small', 1_000)).toBeUndefined();
    expect(guard.complete(search, 'small', 600)).toBeUndefined();
    // A drop to nothing is over both.
    expect(guard.complete(search, 'small', 0)).toBeDefined();
  });

  it('keeps references per forest, identity, base, scope and filter; ignores base scope, size-limited and small results', () => {
    const guard = new SyncGuard({ ...settings, maxDropCount: 10 }, silent);
    const a = guard.watch(request(), ctx())!;
    guard.complete(a, 'avvid', 1_000);
    guard.complete(a, 'vse', 50); // under minEntries: no reference for vse
    expect(guard.complete(a, 'vse', 0)).toBeUndefined();
    expect(guard.complete(guard.watch(request(), ctx('cn=other,dc=corp,dc=example'))!, 'avvid', 10)).toBeUndefined();
    expect(guard.complete(guard.watch(request('(objectClass=person)'), ctx())!, 'avvid', 10)).toBeUndefined();
    expect(guard.complete(guard.watch(request(undefined, { scope: 'one' }), ctx())!, 'avvid', 10)).toBeUndefined();
    expect(guard.watch(request(undefined, { scope: 'base' }), ctx())).toBeUndefined();
    expect(guard.watch(request(undefined, { sizeLimit: 10 }), ctx())).toBeUndefined();
    expect(guard.complete(a, 'avvid', 10)).toBeDefined();
    expect(new SyncGuard({ ...settings, enabled: false }, silent).watch(request(), ctx())).toBeUndefined();
  });

  it('trips on a drop to fewer than minEntries however its reference arrived: kept here, read from the file, merged or replaced from a primary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-guard-'));
    const stateFile = join(dir, 'guard.json');
    const kept = new SyncGuard({ ...settings, stateFile }, silent);
    expect(kept.complete(kept.watch(request(), ctx())!, 'avvid', 1_000)).toBeUndefined();
    kept.flush();
    const dropTo3 = (guard: SyncGuard, who = ctx()) => guard.complete(guard.watch(request(), who)!, 'avvid', 3)?.code;
    const fromFile = new SyncGuard({ ...settings, stateFile }, silent);
    const replaced = new SyncGuard(settings, silent, () => undefined);
    replaced.replace(kept.snapshot());
    const merged = new SyncGuard(settings, silent, () => undefined);
    const [key, shape] = Object.entries(kept.snapshot().shapes)[0];
    merged.merge({ key, description: shape.description, lastSeen: shape.lastSeen, forest: 'avvid', record: shape.forests.avvid });
    for (const guard of [kept, fromFile, replaced, merged]) expect(dropTo3(guard)).toBe(ResultCode.unavailable);
    // Another identity's search of the same shape has no reference: its few entries pass.
    expect(dropTo3(fromFile, ctx('cn=other,dc=corp,dc=example'))).toBeUndefined();
    // Once the shape is forgotten (past maxShapes), the identity's small searches pass again.
    const small = new SyncGuard({ ...settings, maxShapes: 1 }, silent);
    small.complete(small.watch(request(), ctx())!, 'avvid', 1_000);
    small.complete(small.watch(request('(cn=a*)'), ctx('cn=other,dc=corp,dc=example'))!, 'avvid', 1_000);
    small.complete(small.watch(request('(cn=b*)'), ctx('cn=other,dc=corp,dc=example'))!, 'avvid', 1_000);
    expect(dropTo3(small)).toBeUndefined();
  });

  it('masks password values and caps long filters in what it keeps', () => {
    const guard = new SyncGuard(settings, silent);
    const { filter } = guard.watch(request(`(&(userPassword=Secret-1)(|${'(cn=a)'.repeat(100)}))`), ctx())!.describe();
    expect(filter).not.toContain('Secret-1');
    expect(filter.length).toBeLessThan(300);
    expect(filter).toMatch(/… \(\d+ characters\)$/);
  });

  it('forgets the least recently seen shape past maxShapes', () => {
    const guard = new SyncGuard({ ...settings, minEntries: 1, maxShapes: 3 }, silent);
    for (let i = 0; i < 5; i++) guard.complete(guard.watch(request(`(cn=${i}*)`), ctx())!, 'avvid', 10);
    expect(Object.keys(guard.snapshot().shapes)).toHaveLength(3);
  });

  it("past maxShapes, the identity remembered most gives one up: another client's many searches never push out a sync's reference", () => {
    const guard = new SyncGuard({ ...settings, maxShapes: 10 }, silent);
    const sync = guard.watch(request(), ctx())!;
    expect(guard.complete(sync, 'avvid', 10_000)).toBeUndefined();
    // Later and many: an ordinary user's subtree searches of a hundred entries each, all different.
    const user = ctx('cn=user1,dc=corp,dc=example');
    for (let i = 0; i < 100; i++) guard.complete(guard.watch(request(`(&(telephoneNumber=+1 408*)(!(cn=zz${i})))`), user)!, 'avvid', 100);
    expect(Object.keys(guard.snapshot().shapes)).toHaveLength(10);
    expect(guard.snapshot().shapes[sync.key]?.forests.avvid.reference?.count).toBe(10_000);
    expect(guard.complete(sync, 'avvid', 64)?.code).toBe(ResultCode.unavailable);
  });

  it('keeps its state in a file written whole; a missing file starts empty, a corrupt one with a warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-guard-'));
    const stateFile = join(dir, 'guard.json');
    const guard = new SyncGuard({ ...settings, stateFile }, silent);
    const search = guard.watch(request(), ctx())!;
    guard.complete(search, 'avvid', 1_000);
    guard.flush();
    expect(loadState(stateFile).shapes[search.key].forests.avvid.reference?.count).toBe(1_000);
    // A new process reads it back and trips on the same drop.
    const again = new SyncGuard({ ...settings, maxDropCount: 100, stateFile }, silent);
    expect(again.complete(again.watch(request(), ctx())!, 'avvid', 100)).toBeDefined();

    writeFileSync(stateFile, '{ not json');
    const lines: string[] = [];
    const logger = createLogger('warn', { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream);
    const fresh = new SyncGuard({ ...settings, stateFile }, logger);
    expect(fresh.snapshot().shapes).toEqual({});
    expect(lines.join('')).toContain('the state file is corrupt');
    expect(readFileSync(stateFile, 'utf8')).toBe('{ not json'); // not overwritten until there is something to keep
  });

  it("as workers' copies of one primary's guard, decides every sync against the one baseline, kept in the primary's file alone", () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-guard-'));
    const stateFile = join(dir, 'guard.json');
    const primary = new SyncGuard({ ...settings, stateFile }, silent);
    // The primary's relay (serve-primary.ts), without the IPC channel between: keep, then pass on to every copy.
    const copies: SyncGuard[] = [];
    const copy = (): SyncGuard => {
      const worker = new SyncGuard({ ...settings, stateFile }, silent, (change) => {
        primary.merge(change);
        for (const c of copies) c.merge(change);
      });
      worker.replace(primary.snapshot());
      copies.push(worker);
      return worker;
    };
    const [a, b] = [copy(), copy()];
    expect(a.complete(a.watch(request(), ctx())!, 'avvid', 10_000)).toBeUndefined();
    const refused = b.complete(b.watch(request(), ctx())!, 'avvid', 5_000);
    expect(refused?.message).toContain('had 10000');
    for (const guard of [primary, a, b]) {
      const record = Object.values(guard.snapshot().shapes)[0].forests.avvid;
      expect(record).toMatchObject({ reference: { count: 10_000 }, pending: { count: 5_000 }, trips: 1 });
    }
    // Only the primary writes the file; a worker started later gets its references from the primary.
    for (const c of copies) c.flush();
    expect(readdirSync(dir)).toEqual([]);
    primary.flush();
    expect(Object.values(loadState(stateFile).shapes)[0].forests.avvid.pending?.count).toBe(5_000);
    const late = copy();
    expect(late.complete(late.watch(request(), ctx())!, 'avvid', 5_000)).toBeDefined();
    expect(primary.accept({ forest: 'avvid' })).toBe(1);
    late.replace(primary.snapshot());
    expect(late.complete(late.watch(request(), ctx())!, 'avvid', 5_000)).toBeUndefined();
  });
});
