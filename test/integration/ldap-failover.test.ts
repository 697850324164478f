/**
 * One forest served by two slapds with the same data: the first dies during a stream of
 * searches, the second serves them, and the first is preferred again once it is back.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLdapForest, type LdapDirectory } from '../../src/backends/ldap/ldap-directory.js';
import { Dn } from '../../src/core/dn.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeUpstream } from '../support/fake-upstream.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { collect, context, ldapForestConfig, searchRequest } from './ldap-helpers.js';

const SUFFIX = 'DC=avvid,DC=info';
const FIXTURE = fileURLToPath(new URL('../../fixtures/avvid.info.ldif', import.meta.url));
const BACKOFF_MS = 300;

describe('ldap forest failover', () => {
  let first: Slapd;
  let second: Slapd;
  let forest: LdapDirectory;
  let total: number;

  const searchAll = async () => (await collect(forest.search(searchRequest(SUFFIX, '(objectClass=*)', 'sub', ['1.1']), context()))).length;

  beforeAll(async () => {
    [first, second] = await Promise.all([startSlapd({ suffix: SUFFIX, ldif: [FIXTURE] }), startSlapd({ suffix: SUFFIX, ldif: [FIXTURE] })]);
    forest = openLdapForest(ldapForestConfig(SUFFIX, [first.url, second.url], { pageSize: 10, pool: { size: 2 } }), createLogger('silent'), {
      backoff: { initialMs: BACKOFF_MS, maxMs: BACKOFF_MS },
    });
    total = await searchAll();
  });

  afterAll(async () => {
    await forest?.close();
    await Promise.all([first?.stop(), second?.stop()]);
  });

  it('serves from the first server while it answers', async () => {
    expect(total).toBeGreaterThan(50);
    expect(forest.poolStats().idleServers).toEqual([first.url]);
  });

  it('keeps searches succeeding through the second server when the first dies, never with a partial result', async () => {
    let stop = false;
    const outcomes: (number | LdapError)[] = [];
    const stream = (async () => {
      while (!stop) outcomes.push(await searchAll().catch((e: LdapError) => e));
    })();
    await new Promise((r) => setTimeout(r, 50));
    await first.kill();
    for (let i = 0; i < 5; i++) expect(await searchAll()).toBe(total);
    stop = true;
    await stream;
    expect(outcomes.length).toBeGreaterThan(1);
    for (const o of outcomes) {
      // A search cut mid-stream fails with unavailable; one that completes is complete.
      if (o instanceof LdapError) expect(o.code).toBe(52);
      else expect(o).toBe(total);
    }
    expect(forest.poolStats().idleServers.every((s) => s === second.url)).toBe(true);
  });

  it('goes back to the first server after its backoff once it answers again', async () => {
    await first.restart();
    await new Promise((r) => setTimeout(r, BACKOFF_MS + 50));
    expect(await searchAll()).toBe(total);
    expect(forest.poolStats().idleServers).toContain(first.url);
    expect(await searchAll()).toBe(total);
    expect(forest.poolStats().idleServers).toEqual([first.url]);
  });

  it('fails with unavailable naming the forest when none answers; every server and its error go to the log only', async () => {
    await Promise.all([first.kill(), second.kill()]);
    const err = await searchAll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LdapError);
    expect((err as LdapError).code).toBe(52);
    expect((err as LdapError).message).toMatch(/^forest "avvid": /);
    await new Promise((r) => setTimeout(r, BACKOFF_MS + 50));
    const again = (await searchAll().catch((e: unknown) => e)) as LdapError;
    expect(again.message).toBe('forest "avvid": no server reachable');
    expect(again.detail).toContain(first.url);
    expect(again.detail).toContain(second.url);
    expect((await forest.bind(Dn.parse(`CN=John Doe,OU=Users,${SUFFIX}`), Buffer.from('x'), context()).catch((e: LdapError) => e))?.code).toBe(52);
  });

  it('a server answering busy (51) or unavailable (52) to a search is marked down and the search retried on the next', async () => {
    const answering = await startSlapd({ suffix: SUFFIX, ldif: [FIXTURE] });
    for (const code of [ResultCode.busy, ResultCode.unavailable]) {
      const refusing = await startFakeUpstream({ searches: code });
      const pair = openLdapForest(ldapForestConfig(SUFFIX, [refusing.url, answering.url], { pageSize: 10 }), createLogger('silent'), {
        backoff: { initialMs: 60_000, maxMs: 60_000 },
      });
      try {
        const [base] = await collect(pair.search(searchRequest(SUFFIX, '(objectClass=*)', 'base'), context()));
        expect(base.dn.equals(Dn.parse(SUFFIX))).toBe(true);
        expect(refusing.searches).toBe(1);
        await collect(pair.search(searchRequest(SUFFIX, '(objectClass=*)', 'base'), context()));
        expect(refusing.searches).toBe(1); // marked down: not asked again
      } finally {
        await pair.close();
        await refusing.close();
      }
    }
    await answering.stop();
  });
});
