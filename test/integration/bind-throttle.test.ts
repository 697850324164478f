/**
 * Binds as an attacker would try them: guesses pipelined on one connection and spread over
 * parallel ones, every spelling of one name, an application's address past its limit, a rebind
 * over a search in flight, an upstream that is down, and the same sequence of binds for a name
 * that exists and one that does not (which must get the same answers). Over the default
 * configuration's two forests, served by the memory backend and by slapd alike; each test gets a
 * fresh Canopy, so its throttle starts empty.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client } from 'ldapts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../src/backends/memory/ldif.js';
import { securitySchema } from '../../src/config/auth-schema.js';
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js';
import type { Directory, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { RawLdapClient, type RawDone } from '../support/raw-ldap.js';
import type { Slapd } from '../support/slapd.js';
import { slapdForestsLike } from './ldap-helpers.js';

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
const defaults = loadConfigFile(DEFAULT_CONFIG, { ...process.env, CANOPY_HOST: '127.0.0.1', CANOPY_PORT: '0', CANOPY_HTTP_PORT: '0', CANOPY_LOG_LEVEL: 'silent' });
const SUFFIX = 'dc=corp,dc=example';
const SYNC = `cn=cucm-sync,ou=accounts,${SUFFIX}`;
const SYNC_PASSWORD = 'Cucm-Sync-Passw0rd!';
const WRONG = 'Not-The-Passw0rd!';
/** The limits, with a short delay so that slowed answers do not make the tests slow. */
const security = securitySchema.parse({ throttle: { windowSeconds: 300, slowAfter: 3, delayMs: 30, maxFailuresPerAccount: 10, maxFailuresPerAddress: 100 } });
const LIMIT = security.throttle.maxFailuresPerAccount;

/** avvid's jdoe in the virtual tree, as the fixture spells its DN. */
const AVVID_JDOE = (() => {
  const f = defaults.forests.find((x) => x.name === 'avvid')!;
  if (f.backend !== 'memory') throw new Error('the default forests are memory forests');
  const entry = parseLdif(readFileSync(f.ldif[0], 'utf8'), f.ldif[0]).find((r) => r.entry.get('sAMAccountName')?.values[0] === 'jdoe')!.entry;
  return entry.dn.rebase(Dn.parse(f.base), Dn.parse(f.mount!)).text;
})();

const INVALID = 'invalid credentials';
/** The operator's log line of a bind the throttle refused unchecked (the client hears INVALID, as for a wrong password). */
const THROTTLED = 'bind refused unchecked: too many failed binds';
const answer = (d: RawDone): string => `${d.code} ${d.message}`;

/** Whole-tree searches are answered one entry every few milliseconds, so that one is still running when a bind arrives. */
function trickle(directory: Directory): Directory {
  const slow = (request: SearchRequest): boolean => request.scope === 'sub' && request.filter.type === 'present';
  return new Proxy(directory, {
    get(target, property) {
      if (property === 'search') {
        return (request: SearchRequest, ctx: Parameters<Directory['search']>[1]) => {
          const stream = target.search(request, ctx);
          if (!slow(request)) return stream;
          return (async function* () {
            for await (const entry of stream) {
              await sleep(5);
              yield entry;
            }
          })();
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `localAccounts`: also try the sync account, whose check does not depend on the forests' backend. */
function describeBindSuite(title: string, config: () => LoadedConfig, { localAccounts }: { localAccounts: boolean }) {
  describe(title, () => {
    let server: RunningServer;
    let url: string;
    const log: string[] = [];
    const raws: RawLdapClient[] = [];
    const raw = async (localAddress?: string): Promise<RawLdapClient> => {
      const c = await RawLdapClient.connect(url, localAddress);
      raws.push(c);
      return c;
    };
    /** The suite's configuration with `throttle`, logging at info (a reload sets the level: the tests read the log). */
    const served = (throttle: LoadedConfig['security'] = security): LoadedConfig => ({ ...config(), logging: { ...config().logging, level: 'info' }, security: throttle });
    /** One bind on a connection of its own. */
    const bindOnce = async (name: string, password: string, localAddress?: string): Promise<RawDone> => (await raw(localAddress)).bind(name, password);
    /** How many binds the throttle refused (as the log says) while `run` ran. */
    const refusedDuring = async (run: () => Promise<unknown>): Promise<number> => {
      const count = () => log.filter((l) => (JSON.parse(l) as { msg?: string }).msg === THROTTLED).length;
      const before = count();
      await run();
      return count() - before;
    };

    beforeAll(async () => {
      const capture = new PassThrough();
      capture.on('data', (chunk: Buffer) => log.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
      server = await startServer(served(), { logger: createLogger('info', capture), wrapBackend: (_name, directory) => trickle(directory) });
      url = server.urls[0];
    });
    afterEach(async () => {
      for (const c of raws.splice(0)) c.close();
      // A fresh throttle for the next test: a reload builds a new authenticator.
      await server.reload(served());
    });
    afterAll(() => server?.close());

    it(`checks at most ${LIMIT} of 60 binds pipelined on one connection; a throttled right password is answered like a wrong one`, async () => {
      const names = [
        [AVVID_JDOE, USER_PASSWORD],
        [SYNC, SYNC_PASSWORD],
      ].slice(0, localAccounts ? 2 : 1);
      for (const [name, right] of names) {
        const c = await raw();
        let answers: RawDone[] = [];
        const refused = await refusedDuring(async () => {
          answers = await Promise.all(Array.from({ length: 60 }, (_, i) => c.bind(name, i === 30 || i === 59 ? right : WRONG)));
        });
        expect(refused).toBe(60 - LIMIT);
        expect(answers.map((a) => [a.code, a.message])).toEqual(Array(60).fill([49, INVALID]));
        expect(answer(answers[30])).toBe(answer(answers[29]));
        expect(answer(answers[59])).toBe(answer(answers[58]));
      }
    });

    it(`checks at most ${LIMIT} binds of one name sent over 30 parallel connections`, async () => {
      let answers: RawDone[] = [];
      expect(await refusedDuring(async () => (answers = await Promise.all(Array.from({ length: 30 }, () => bindOnce('jdoe@avvid.info', WRONG)))))).toBe(30 - LIMIT);
      expect(answers.map(answer)).toEqual(Array(30).fill(`49 ${INVALID}`));
      const [right, wrong] = await Promise.all([bindOnce('AVVID\\jdoe', USER_PASSWORD), bindOnce('AVVID\\jdoe', WRONG)]);
      expect(right.code).toBe(49);
      expect(answer(right)).toBe(answer(wrong));
    });

    it('counts every spelling of a name against the one account it names', async () => {
      // Names lead to an account; DNs in any case, spacing and spelling of their attribute types.
      const spaced = (dn: string): string => dn.replace(/,/g, ', ');
      const accounts = [
        {
          right: USER_PASSWORD,
          spellings: ['jdoe@avvid.info', 'JDoe@AVVID.INFO', 'AVVID\\jdoe', 'avvid\\JDOE', AVVID_JDOE, AVVID_JDOE.toUpperCase(), spaced(AVVID_JDOE.toLowerCase()), AVVID_JDOE.replace(/^CN=/i, 'commonName='), AVVID_JDOE.replace(/^CN=/i, '2.5.4.3=')],
        },
        { right: SYNC_PASSWORD, spellings: [SYNC, SYNC.toUpperCase(), spaced(SYNC), SYNC.replace(/^cn=/, 'commonName='), SYNC.replace(/^cn=/, '2.5.4.3=').replace(',ou=', ',organizationalUnitName=')] },
      ].slice(0, localAccounts ? 2 : 1);
      for (const { right, spellings } of accounts) {
        for (let i = 0; i < LIMIT; i++) expect(await bindOnce(spellings[i % spellings.length], WRONG)).toMatchObject({ code: 49, message: INVALID });
        const refused = await refusedDuring(async () => {
          for (const name of spellings) expect(await bindOnce(name, right)).toMatchObject({ code: 49, message: INVALID });
        });
        expect(refused).toBe(spellings.length);
      }
      // Another account with the same sAMAccountName is not this one.
      expect(await bindOnce('VSE\\jdoe', USER_PASSWORD)).toMatchObject({ code: 0 });
    });

    it('answers the same sequence of binds alike for a name that is an account and one that is none: code, message and delay', async () => {
      // A delay long enough to tell apart coarsely (fast < 500 ms, slow >= 900 ms); the next test's reload restores the suite's.
      await server.reload(served(securitySchema.parse({ throttle: { windowSeconds: 300, slowAfter: 3, delayMs: 1000, maxFailuresPerAccount: 5, maxFailuresPerAddress: 100 } })));
      const existing = ['AVVID\\jdoe', 'jdoe@avvid.info', AVVID_JDOE];
      const missing = ['AVVID\\nobody', 'nobody@avvid.info', AVVID_JDOE.replace(/^[^,]+/, 'CN=Nobody Here')];
      // [spelling, password, the answer's pace]: three failures by one spelling, then another spelling (the
      // auditor's probe, once slowed for accounts only), on past the account's limit of 5 (refused, right
      // password or not, for the account only), each spelling slowed past its own third failure.
      const steps: [number, string, 'fast' | 'slow'][] = [
        [0, WRONG, 'fast'],
        [0, WRONG, 'fast'],
        [0, WRONG, 'fast'],
        [1, WRONG, 'fast'],
        [1, WRONG, 'fast'],
        [2, USER_PASSWORD, 'fast'],
        [2, WRONG, 'fast'],
        [0, USER_PASSWORD, 'slow'],
        [1, WRONG, 'fast'],
        [1, WRONG, 'slow'],
      ];
      const run = async (names: string[]) => {
        const answers: { answer: string; pace: 'fast' | 'slow' | number }[] = [];
        const refused = await refusedDuring(async () => {
          for (const [spelling, password] of steps) {
            const started = performance.now();
            const done = await bindOnce(names[spelling], password);
            const ms = performance.now() - started;
            answers.push({ answer: answer(done), pace: ms < 500 ? 'fast' : ms >= 900 ? 'slow' : ms });
          }
        });
        return { answers, refused };
      };
      const account = await run(existing);
      const none = await run(missing);
      expect(account.answers).toEqual(steps.map(([, , pace]) => ({ answer: `49 ${INVALID}`, pace })));
      expect(none.answers).toEqual(account.answers);
      // Only the operator's log tells them apart: the account was refused unchecked from its limit on.
      expect([account.refused, none.refused]).toEqual([5, 0]);
    });

    it('an address past its limit still logs in accounts without failures, the sync account among them', async () => {
      for (let i = 0; i < 3; i++) expect((await bindOnce('AVVID\\jdoe', WRONG)).code).toBe(49);
      expect((await bindOnce('jdoe@vse.lab', WRONG)).code).toBe(49);
      // An application's login page under attack: 100 more failures from its address, over ten connections.
      const flood = await Promise.all(
        Array.from({ length: 10 }, async (_, c) => {
          const conn = await raw();
          return Promise.all(Array.from({ length: 10 }, (_, i) => conn.bind(`ghost${c * 10 + i}@avvid.info`, WRONG)));
        }),
      );
      expect(flood.flat().every((a) => a.code === 49 && a.message === INVALID)).toBe(true);
      // Accounts without failures, or with fewer than slowAfter, are still checked...
      expect(await bindOnce(SYNC, SYNC_PASSWORD)).toMatchObject({ code: 0 });
      expect(await bindOnce('cn=cucm-sync, ou=accounts, dc=corp, dc=example', SYNC_PASSWORD)).toMatchObject({ code: 0 });
      expect(await bindOnce('jdoe@vse.lab', USER_PASSWORD)).toMatchObject({ code: 0 });
      // ...one that failed slowAfter times is refused from this address, right password or not, but not from another.
      expect(await refusedDuring(async () => expect(await bindOnce('AVVID\\jdoe', USER_PASSWORD)).toMatchObject({ code: 49, message: INVALID }))).toBe(1);
      expect(await bindOnce('AVVID\\jdoe', USER_PASSWORD, '127.0.0.2')).toMatchObject({ code: 0 });
    });

    it('a bind abandons the searches in flight: nothing found for the old identity arrives after its answer', async () => {
      const c = await raw();
      expect((await c.bind(SYNC, SYNC_PASSWORD)).code).toBe(0);
      const searchId = 1000;
      void c.search(SUFFIX, [], searchId, ['*']);
      const entriesOfSearch = (): number => c.received.filter((m) => m.id === searchId).length;
      for (let i = 0; i < 200 && entriesOfSearch() < 5; i++) await sleep(10);
      expect(entriesOfSearch()).toBeGreaterThanOrEqual(5);
      expect(await c.bind('AVVID\\jdoe', USER_PASSWORD)).toMatchObject({ code: 0 });
      const bindAt = c.received.length - 1;
      await sleep(300); // the whole search would have taken about a second more
      const after = c.received.slice(bindAt + 1).filter((m) => m.id === searchId);
      expect(after).toEqual([]);
      expect(c.received.some((m) => m.id === searchId && m.tag === 0x65)).toBe(false); // abandoned: no SearchResultDone
      // The connection goes on as the new identity.
      expect((await c.search(AVVID_JDOE, [], 1001, ['cn'])).code).toBe(0);
    });

    // Local accounts only: the slapd suite has none, so it does not declare this test at all.
    if (localAccounts) {
      it('an unknown name and a wrong password of a local account cost about the same time', async () => {
        const median = async (names: string[]): Promise<number> => {
          const times: number[] = [];
          for (const name of names) {
            const started = performance.now();
            expect((await bindOnce(name, WRONG)).code).toBe(49);
            times.push(performance.now() - started);
          }
          return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
        };
        // Below slowAfter, so no answer is slowed on purpose.
        const wrong = await median([SYNC, SYNC, SYNC]);
        const unknown = await median(['cn=nobody1,ou=accounts,dc=corp,dc=example', 'cn=nobody2,ou=accounts,dc=corp,dc=example', 'cn=nobody3,dc=elsewhere']);
        expect(unknown / wrong).toBeGreaterThan(0.25); // scheduling noise on a loaded machine; an unchecked name answers about 100 times sooner
        expect(unknown / wrong).toBeLessThan(4);
      });
    }

    it('never logs a password', () => {
      expect(log.length).toBeGreaterThan(10);
      for (const secret of [USER_PASSWORD, SYNC_PASSWORD, WRONG]) expect(log.filter((l) => l.includes(secret))).toEqual([]);
    });
  });
}

describeBindSuite('binds against the throttle: memory forests', () => defaults, { localAccounts: true });

describe('binds against the throttle: ldap forests over slapd', () => {
  const slapds: Slapd[] = [];
  let config: LoadedConfig;
  beforeAll(async () => {
    const forests = await slapdForestsLike(defaults, slapds);
    config = { ...defaults, forests };
  });
  afterAll(() => Promise.all(slapds.map((s) => s.stop())));
  describeBindSuite('through canopy', () => config, { localAccounts: false });

  it('answers binds it cannot check without naming the upstream; empty passwords are refused before any upstream', async () => {
    const log: string[] = [];
    const capture = new PassThrough().on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
    const down = config.forests.map((f) => ({ ...f, servers: ['ldap://127.0.0.1:1'] }));
    const server = await startServer({ ...config, forests: down, security }, { logger: createLogger('info', capture) });
    try {
      for (const name of [AVVID_JDOE, 'jdoe@avvid.info', 'AVVID\\jdoe', 'jdoe']) {
        const c = new Client({ url: server.urls[0] });
        const err = await c.bind(name, USER_PASSWORD).then(
          () => ({ code: 0, message: 'succeeded' }),
          (e: { code: number; message: string }) => e,
        );
        expect(err.code).toBe(52);
        expect(err.message).not.toMatch(/127\.0\.0\.1|ldap:\/\/|:1\b|ECONNREFUSED|connect/i);
        await expect(c.bind(name, '')).rejects.toMatchObject({ code: 53 });
        await c.unbind();
      }
      // The operator's log has what the client was not told.
      const lines = log.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; err?: string });
      expect(lines.find((l) => l.msg === 'bind could not be checked')?.err).toContain('ldap://127.0.0.1:1');
    } finally {
      await server.close();
    }
  });
});
