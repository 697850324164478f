import { describe, expect, it } from 'vitest';
import { MemoryDirectory } from '../../src/backends/memory/memory-directory.js';
import type { Directory, Scope, SearchContext, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { SyncGuard } from '../../src/router/sync-guard.js';
import type { Filter } from '../../src/core/filter.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { createLogger } from '../../src/observability/logger.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { ForestRouter, type RoutedForest } from '../../src/router/forest-router.js';
import { searchCtx } from '../support/search-context.js';

const ctx = (): SearchContext => searchCtx();

function forestLdif(base: string, people: string[]): string {
  const rdn = base.split(',')[0];
  const [type, value] = rdn.split('=');
  const head = `dn: ${base}\nobjectClass: top\nobjectClass: organizationalUnit\n${type}: ${value}\n`;
  return [head, ...people.map((p) => `dn: CN=${p},${base}\nobjectClass: user\ncn: ${p}\nsAMAccountName: ${p.toLowerCase()}\n`)].join('\n');
}

function memoryForest(name: string, mount: string, people: string[], priority = 100): RoutedForest {
  const dn = Dn.parse(mount);
  return { name, mount: dn, priority, directory: MemoryDirectory.fromLdif({ suffix: dn, sources: [{ name, text: forestLdif(mount, people) }] }) };
}

/** Counts searches, so tests can assert which forests were asked. */
function counting(forest: RoutedForest): RoutedForest & { calls: number } {
  const counted = { ...forest, calls: 0 };
  const inner = forest.directory;
  counted.directory = Object.assign(Object.create(inner) as Directory, {
    search: (r: SearchRequest, c: SearchContext) => {
      counted.calls++;
      return inner.search(r, c);
    },
  });
  return counted;
}

function failing(name: string, mount: string, afterEntries: number, error = new LdapError(ResultCode.unavailable, 'no server reachable')): RoutedForest {
  const dn = Dn.parse(mount);
  return {
    name,
    mount: dn,
    priority: 100,
    directory: {
      namingContexts: () => [dn],
      async *search() {
        for (let i = 0; i < afterEntries; i++) yield new Entry(dn.child(`cn=x${i}`), [{ name: 'objectClass', values: ['user'] }]);
        throw error;
      },
    } as unknown as Directory,
  };
}

const suffix = Dn.parse('dc=corp,dc=example');
const logger = createLogger('silent');

function router(forests: RoutedForest[], onDuplicate: 'all' | 'priority' = 'all') {
  return new ForestRouter(forests, { suffix, uniqueAttributes: ['sAMAccountName'], onDuplicate, logger });
}

async function search(dir: Directory, base: string, scope: Scope, filter = '(objectClass=*)'): Promise<string[]> {
  const out: string[] = [];
  const f: Filter = parseFilterString(filter);
  for await (const e of dir.search({ base: Dn.parse(base), scope, filter: f, attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 }, ctx())) {
    out.push(e.dn.text);
  }
  return out.sort();
}

describe('ForestRouter', () => {
  const avvid = () => memoryForest('avvid', 'ou=avvid,dc=corp,dc=example', ['Ann', 'JDoe']);
  const vse = () => memoryForest('vse', 'ou=vse,ou=labs,dc=corp,dc=example', ['Bob', 'JDoe'], 1);

  it.each<[string, Scope, string[]]>([
    ['dc=corp,dc=example', 'base', ['dc=corp,dc=example']],
    ['dc=corp,dc=example', 'one', ['ou=avvid,dc=corp,dc=example', 'ou=labs,dc=corp,dc=example']],
    ['ou=labs,dc=corp,dc=example', 'base', ['ou=labs,dc=corp,dc=example']],
    ['ou=labs,dc=corp,dc=example', 'one', ['ou=vse,ou=labs,dc=corp,dc=example']],
    ['ou=labs,dc=corp,dc=example', 'sub', ['CN=Bob,ou=vse,ou=labs,dc=corp,dc=example', 'CN=JDoe,ou=vse,ou=labs,dc=corp,dc=example', 'ou=labs,dc=corp,dc=example', 'ou=vse,ou=labs,dc=corp,dc=example']],
    ['ou=avvid,dc=corp,dc=example', 'base', ['ou=avvid,dc=corp,dc=example']],
    ['ou=avvid,dc=corp,dc=example', 'one', ['CN=Ann,ou=avvid,dc=corp,dc=example', 'CN=JDoe,ou=avvid,dc=corp,dc=example']],
    ['CN=Ann,ou=avvid,dc=corp,dc=example', 'sub', ['CN=Ann,ou=avvid,dc=corp,dc=example']],
  ])('%s scope %s is exact', async (base, scope, expected) => {
    expect(await search(router([avvid(), vse()]), base, scope)).toEqual(expected);
  });

  it('a subtree search at the suffix merges every forest and the synthetic containers', async () => {
    const found = await search(router([avvid(), vse()]), 'dc=corp,dc=example', 'sub');
    expect(found).toHaveLength(3 + 3 + 2);
    expect(await search(router([avvid(), vse()]), 'dc=corp,dc=example', 'sub', '(sAMAccountName=jdoe)')).toEqual([
      'CN=JDoe,ou=avvid,dc=corp,dc=example',
      'CN=JDoe,ou=vse,ou=labs,dc=corp,dc=example',
    ]);
  });

  it('filters synthetic entries like any other', async () => {
    expect(await search(router([avvid(), vse()]), 'dc=corp,dc=example', 'sub', '(objectClass=organizationalUnit)')).toEqual([
      'ou=avvid,dc=corp,dc=example',
      'ou=labs,dc=corp,dc=example',
      'ou=vse,ou=labs,dc=corp,dc=example',
    ]);
  });

  it('asks only the forests whose mount lies in scope', async () => {
    const a = counting(avvid());
    const v = counting(vse());
    await search(router([a, v]), 'ou=labs,dc=corp,dc=example', 'sub');
    await search(router([a, v]), 'CN=Ann,ou=avvid,dc=corp,dc=example', 'base');
    expect([a.calls, v.calls]).toEqual([1, 1]);
  });

  it.each([
    ['ou=missing,dc=corp,dc=example', 'dc=corp,dc=example'],
    ['cn=x,ou=missing,ou=labs,dc=corp,dc=example', 'ou=labs,dc=corp,dc=example'],
    ['dc=elsewhere', ''],
  ])('a base %s outside the mounts is noSuchObject with matchedDN %j', async (base, matched) => {
    await expect(search(router([avvid(), vse()]), base, 'sub')).rejects.toMatchObject({ code: ResultCode.noSuchObject, matchedDn: matched });
  });

  it('an outage in one forest ends the merged search with unavailable naming the forest', async () => {
    const r = router([avvid(), failing('vse', 'ou=vse,dc=corp,dc=example', 2)]);
    await expect(search(r, 'dc=corp,dc=example', 'sub')).rejects.toMatchObject({
      code: ResultCode.unavailable,
      message: expect.stringContaining('forest "vse"'),
    });
  });

  it('names the failed forest once: by the forest the error says it comes from, not by what its text happens to contain', async () => {
    const named = new LdapError(ResultCode.unavailable, 'forest "vse": no server reachable (ldap://a: refused)', '', 'vse');
    await expect(search(router([avvid(), failing('vse', 'ou=vse,dc=corp,dc=example', 0, named)]), 'dc=corp,dc=example', 'sub')).rejects.toMatchObject({
      message: 'forest "vse": no server reachable (ldap://a: refused)',
    });
    // An upstream's own text that mentions the forest is still the upstream's: the router says which forest failed.
    const quoted = new LdapError(ResultCode.busy, 'busy serving forest "vse" replicas');
    await expect(search(router([avvid(), failing('vse', 'ou=vse,dc=corp,dc=example', 0, quoted)]), 'dc=corp,dc=example', 'sub')).rejects.toMatchObject({
      code: ResultCode.unavailable,
      message: 'forest "vse": busy serving forest "vse" replicas',
    });
  });

  it('onDuplicate: priority keeps the lower priority number and returns other entries', async () => {
    const found = await search(router([avvid(), vse()], 'priority'), 'dc=corp,dc=example', 'sub', '(objectClass=user)');
    expect(found).toEqual(['CN=Ann,ou=avvid,dc=corp,dc=example', 'CN=Bob,ou=vse,ou=labs,dc=corp,dc=example', 'CN=JDoe,ou=vse,ou=labs,dc=corp,dc=example']);
  });

  it('onDuplicate: priority lets only an entry the client may see claim a unique value', async () => {
    // vse's JDoe comes first (priority 1); a client that may not see it gets avvid's, as if vse held none.
    const hiddenVse = (e: Entry) => !e.dn.text.startsWith('CN=JDoe,ou=vse');
    const request = { base: suffix, scope: 'sub' as const, filter: parseFilterString('(sAMAccountName=jdoe)'), attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0, sees: hiddenVse };
    const found: string[] = [];
    for await (const e of router([avvid(), vse()], 'priority').search(request, ctx())) found.push(e.dn.text);
    expect(found).toEqual(['CN=JDoe,ou=avvid,dc=corp,dc=example']);
  });

  it("the sync guard counts what the client may see: hidden entries deleted tell nothing, and change nothing it gets", async () => {
    const people = (n: number) => Array.from({ length: n }, (_, i) => `P${i}`);
    const guard = new SyncGuard({ enabled: true, minEntries: 5, maxDropPercent: 10, maxDropCount: 2, maxShapes: 10 }, logger);
    const sees = (e: Entry) => !/^CN=P(1\d|[2-9]\d)/.test(e.dn.text); // P0–P9 visible, the rest hidden
    const run = async (n: number) => {
      const forest = memoryForest('avvid', 'ou=avvid,dc=corp,dc=example', people(n));
      const routed = new ForestRouter([forest], { suffix, uniqueAttributes: [], onDuplicate: 'all', logger, guard });
      const request = { base: suffix, scope: 'sub' as const, filter: parseFilterString('(objectClass=user)'), attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0, sees };
      const account = { ...ctx(), boundDn: 'cn=sync', identity: { kind: 'account' as const, dn: Dn.parse('cn=sync') } };
      let visible = 0;
      for await (const e of routed.search(request, account)) if (sees(e)) visible++;
      return visible;
    };
    expect(await run(40)).toBe(10);
    // 30 hidden entries gone: the client's own count did not move, so its search is not refused.
    expect(await run(10)).toBe(10);
  });

  it('routes writes by DN and refuses them on virtual containers', async () => {
    const r = router([avvid(), vse()]);
    await r.modify(Dn.parse('CN=Ann,ou=avvid,dc=corp,dc=example'), [{ operation: 'replace', attribute: { name: 'ipPhone', values: ['1234'] } }], ctx());
    expect(await search(r, 'dc=corp,dc=example', 'sub', '(ipPhone=1234)')).toEqual(['CN=Ann,ou=avvid,dc=corp,dc=example']);
    await expect(r.delete(Dn.parse('ou=labs,dc=corp,dc=example'), ctx())).rejects.toMatchObject({ code: ResultCode.unwillingToPerform });
    await expect(
      r.modifyDn({ dn: Dn.parse('CN=Ann,ou=avvid,dc=corp,dc=example'), newRdn: 'cn=Ann', deleteOldRdn: true, newSuperior: Dn.parse('ou=vse,ou=labs,dc=corp,dc=example') }, ctx()),
    ).rejects.toMatchObject({ code: ResultCode.affectsMultipleDSAs });
    await expect(r.bind(Dn.parse('cn=nobody,dc=corp,dc=example'), Buffer.from('x'), ctx())).rejects.toMatchObject({ code: ResultCode.invalidCredentials });
    expect(await r.compare(Dn.parse('ou=labs,dc=corp,dc=example'), 'ou', 'LABS', ctx())).toBe(true);
  });

  it('lists the suffix as its naming context, or every mount without one', () => {
    expect(router([avvid(), vse()]).namingContexts().map((d) => d.text)).toEqual(['dc=corp,dc=example']);
    const plain = new ForestRouter([avvid(), vse()], { uniqueAttributes: [], onDuplicate: 'all', logger });
    expect(plain.namingContexts().map((d) => d.text)).toEqual(['ou=avvid,dc=corp,dc=example', 'ou=vse,ou=labs,dc=corp,dc=example']);
  });
});
