import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BindThrottle, MAX_WINDOWS, type BindAttempt, type BindKeys, type Reservation } from '../../src/auth/bind-throttle.js';
import { bindFailureReason } from '../../src/auth/bind-failure-reason.js';
import { ForestLogins, type LoginForest } from '../../src/auth/forest-logins.js';
import { LocalAccounts } from '../../src/auth/local-accounts.js';
import { parseLoginName, spellingKey } from '../../src/auth/login-name.js';
import { hashPassword, MIN_COST_LN, parseScryptHash, verifyPassword } from '../../src/core/scrypt-hash.js';
import { parseConfig } from '../../src/config/load.js';
import type { Directory, OperationContext, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { createLogger } from '../../src/observability/logger.js';
import { runHashPassword } from '../../src/tools/hash-password.js';

describe('scrypt password hashes', () => {
  it('round-trips and rejects other passwords and malformed hashes', async () => {
    const hash = await hashPassword('Sync-Secret');
    expect(hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    const parsed = parseScryptHash(hash)!;
    expect(await verifyPassword(parsed, Buffer.from('Sync-Secret'))).toBe(true);
    expect(await verifyPassword(parsed, Buffer.from('sync-secret'))).toBe(false);
    expect(parseScryptHash('{SSHA}abc')).toBeUndefined();
    expect(parseScryptHash(hash.replace('ln=15', 'ln=40'))).toBeUndefined();
  });

  it('hashes at a lower cost when asked (the mock administrator), down to the lowest accepted', async () => {
    const cheap = await hashPassword('Adm1n', MIN_COST_LN);
    expect(cheap).toMatch(new RegExp(`^\\$scrypt\\$ln=${MIN_COST_LN},r=8,p=1\\$`));
    expect(await verifyPassword(parseScryptHash(cheap)!, Buffer.from('Adm1n'))).toBe(true);
    expect(parseScryptHash(cheap.replace(`ln=${MIN_COST_LN}`, `ln=${MIN_COST_LN - 1}`))).toBeUndefined();
  });
});

describe('canopy hash-password', () => {
  it('hashes the password read from standard input, without its trailing newline', async () => {
    let printed = '';
    const output = new PassThrough().on('data', (d: Buffer) => (printed += d.toString()));
    expect(await runHashPassword(Readable.from([Buffer.from('Sync-Secret\n')]), output)).toBe(true);
    expect(await verifyPassword(parseScryptHash(printed.trim())!, Buffer.from('Sync-Secret'))).toBe(true);
    expect(await runHashPassword(Readable.from([]), output)).toBe(false);
  });
});

describe('login names', () => {
  it('tells DNs, UPNs, down-level and bare names apart', () => {
    expect(parseLoginName('CN=John Doe,OU=Users,dc=corp')).toMatchObject({ kind: 'dn' });
    expect(parseLoginName('jdoe@VSE.lab')).toEqual({ kind: 'upn', upn: 'jdoe@VSE.lab', suffix: 'vse.lab' });
    expect(parseLoginName('VSE\\jdoe')).toEqual({ kind: 'downLevel', domain: 'VSE', user: 'jdoe' });
    expect(parseLoginName('jdoe')).toEqual({ kind: 'bare', user: 'jdoe' });
    expect(() => parseLoginName('cn=x,,=')).toThrow();
    expect(() => parseLoginName('jdoe@')).toThrow(expect.objectContaining({ code: 49 }));
    expect(spellingKey(parseLoginName('VSE\\JDoe'))).toBe(spellingKey(parseLoginName('vse\\jdoe')));
  });
});

describe('LocalAccounts', () => {
  it('resolves a DN in any case or spacing to its account; an unknown DN never logs in', async () => {
    const accounts = new LocalAccounts([{ dn: 'cn=svc,ou=accounts,dc=x', passwordHash: await hashPassword('Sync-Secret') }]);
    const svc = accounts.resolve(Dn.parse('CN=SVC, OU=Accounts, DC=X'));
    expect(svc.key).toBe(accounts.resolve(Dn.parse('cn=svc,ou=accounts,dc=x')).key);
    expect(await svc.verify(Buffer.from('Sync-Secret'))).toEqual({ kind: 'account', dn: Dn.parse('cn=svc,ou=accounts,dc=x') });
    const wrong = await svc.verify(Buffer.from('wrong')).catch((e: unknown) => e);
    expect([wrong, bindFailureReason(wrong)]).toEqual([expect.objectContaining({ code: 49 }), 'wrong_password']);
    const unknown = await accounts.resolve(Dn.parse('cn=other,ou=accounts,dc=x')).verify(Buffer.from('Sync-Secret')).catch((e: unknown) => e);
    expect([unknown, bindFailureReason(unknown)]).toEqual([expect.objectContaining({ code: 49 }), 'unknown_user']);
    await expect(new LocalAccounts([]).resolve(Dn.parse('cn=svc,dc=x')).verify(Buffer.from('x'))).rejects.toMatchObject({ code: 49 });
  });
});

describe('BindThrottle', () => {
  const settings = { windowSeconds: 60, slowAfter: 2, delayMs: 500, maxFailuresPerAccount: 3, maxFailuresPerAddress: 5 };
  const signal = new AbortController().signal;
  /** A name that resolves to an account (`account`), spelled `spelling`; a name that resolves to nothing is keyed by its spelling alone. */
  const keys = (account: string, spelling: string = account): BindKeys => ({ account, spelling });
  /** The attempt a reservation grants (the test fails if it was refused). */
  const granted = async (r: Promise<Reservation<BindAttempt>>): Promise<BindAttempt> => {
    const { granted: attempt, refused } = await r;
    if (!attempt) throw new Error(`refused: ${JSON.stringify(refused)}`);
    return attempt;
  };
  /** Settles as soon as it can: what is still pending afterwards is waiting for a turn. */
  const track = <T>(p: Promise<T>) => {
    const t = { value: undefined as T | undefined, error: undefined as { code?: number; message: string } | undefined };
    p.then(
      (v) => (t.value = v),
      (e: { code?: number; message: string }) => (t.error = e),
    );
    return t;
  };
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it('counts an attempt before it is checked: concurrent binds beyond the limit wait, then are refused unchecked, each counted and slowed as a failure of its spelling', async () => {
    const t = new BindThrottle(settings, () => 0);
    const attempts = Array.from({ length: 6 }, () => track(t.attempt('a', keys('x'), signal)));
    await tick();
    expect(attempts.map((a) => a.value?.granted !== undefined)).toEqual([true, true, true, false, false, false]);
    expect(attempts.slice(0, 3).map((a) => a.value!.granted!.failed().delayMs)).toEqual([0, 0, 500]);
    await tick();
    for (const a of attempts.slice(3)) expect(a.value).toEqual({ refused: { delayMs: 500, retryInSeconds: 60 } });
    expect(await t.attempt('b', keys('x'), signal)).toMatchObject({ refused: { delayMs: 500 } }); // from any address
    // Another account, from an address not past its maximum (this one is now, refusals counted).
    expect((await granted(t.attempt('c', keys('y'), signal))).failed()).toEqual({ delayMs: 0, limitReached: false });
  });

  it('holds a bounded number of windows however many fresh names and addresses fail within one window', async () => {
    const t = new BindThrottle({ ...settings, maxFailuresPerAddress: 1_000_000 }, () => 0);
    const victim = await granted(t.attempt('a', keys('victim'), signal));
    victim.failed();
    for (let i = 0; i < MAX_WINDOWS + 5_000; i++) (await granted(t.attempt(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, keys(`fresh-${i}`, `spelled-${i}`), signal))).failed();
    expect(t.size.accounts).toBeLessThanOrEqual(MAX_WINDOWS);
    expect(t.size.addresses).toBeLessThanOrEqual(MAX_WINDOWS);
    expect(t.size.spellings).toBeLessThanOrEqual(MAX_WINDOWS);
  });

  it('lets a waiting bind go on when an attempt succeeds (clearing the failures) or checked nothing', async () => {
    const t = new BindThrottle(settings, () => 0);
    const [first, second] = [await granted(t.attempt('a', keys('x'), signal)), await granted(t.attempt('a', keys('x'), signal))];
    (await granted(t.attempt('a', keys('x'), signal))).failed();
    const waiting = track(t.attempt('a', keys('x'), signal));
    await tick();
    expect(waiting.value).toBeUndefined();
    first.undecided();
    await tick();
    expect(waiting.value?.granted).toBeDefined();
    second.succeeded();
    waiting.value!.granted!.failed();
    for (let i = 0; i < 2; i++) (await granted(t.attempt('a', keys('x'), signal))).failed();
    expect((await t.attempt('a', keys('x'), signal)).refused).toBeDefined();
  });

  it('gives a waiting bind up when its operation is abandoned', async () => {
    const t = new BindThrottle(settings, () => 0);
    for (let i = 0; i < 3; i++) await t.attempt('a', keys('x'), signal);
    const abandon = new AbortController();
    const waiting = track(t.attempt('a', keys('x'), abandon.signal));
    abandon.abort(new Error('abandoned'));
    await tick();
    expect(waiting.error?.message).toBe('abandoned');
  });

  it('refuses an account until its window passes', async () => {
    let now = 0;
    const t = new BindThrottle(settings, () => now);
    for (let i = 0; i < 3; i++) (await granted(t.attempt('a', keys('x'), signal))).failed();
    now = 59_500;
    expect((await t.attempt('a', keys('x'), signal)).refused).toMatchObject({ retryInSeconds: 1 });
    now = 60_000;
    expect((await granted(t.attempt('a', keys('x'), signal))).failed().delayMs).toBe(0);
  });

  it('an address past its maximum never refuses an account without failures; failed ones get fewer tries, slowly', async () => {
    const t = new BindThrottle(settings, () => 0);
    for (const name of ['p', 'q', 'r', 's', 't']) (await granted(t.attempt('a', keys(name), signal))).failed();
    // p has one failure (below slowAfter = 2): still checked, its failure slowed, then refused from this address only.
    expect((await granted(t.attempt('a', keys('p'), signal))).failed()).toEqual({ delayMs: 500, limitReached: true });
    expect((await t.attempt('a', keys('p'), signal)).refused).toMatchObject({ delayMs: 500 });
    (await granted(t.attempt('b', keys('p'), signal))).succeeded();
    // A clean account, as often as it likes, and its success is never slowed or refused.
    for (let i = 0; i < 20; i++) (await granted(t.attempt('a', keys('sync'), signal))).succeeded();
  });

  it('slows by the name as spelled: failures of one spelling do not slow another spelling of the same account', async () => {
    const t = new BindThrottle({ ...settings, maxFailuresPerAccount: 10, maxFailuresPerAddress: 100 }, () => 0);
    const delays = async (account: string, spelling: string, n: number): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await granted(t.attempt('a', keys(account, spelling), signal))).failed().delayMs);
      return out;
    };
    expect(await delays('user:jdoe', 'nt:vse\\jdoe', 3)).toEqual([0, 0, 500]);
    // The fourth failure of the account, under another spelling: answered at once, as for a name that is no account.
    expect(await delays('user:jdoe', 'upn:jdoe@vse.lab', 1)).toEqual([0]);
    // The account's count is the account's all the same: its limit (10) is reached by failures of any spelling.
    expect(await delays('user:jdoe', 'upn:jdoe@vse.lab', 6)).toEqual([0, 500, 500, 500, 500, 500]);
    expect((await t.attempt('a', keys('user:jdoe', 'nt:jdoe'), signal)).refused).toEqual({ delayMs: 0, retryInSeconds: 60 });
    // A success clears its spelling's count as it clears the account's.
    const other = new BindThrottle(settings, () => 0);
    for (let i = 0; i < 2; i++) (await granted(other.attempt('a', keys('user:egreen', 'nt:egreen'), signal))).failed();
    (await granted(other.attempt('a', keys('user:egreen', 'nt:egreen'), signal))).succeeded();
    expect((await granted(other.attempt('a', keys('user:egreen', 'nt:egreen'), signal))).failed().delayMs).toBe(0);
  });

  it('answers a name that is an account and one that is none alike: a refusal waits what a failure of its spelling would', async () => {
    // The auditor's sequences: three failures by one spelling, one by another, then on past the account's limit by a third.
    const spellings = ['nt:vse\\x', 'nt:vse\\x', 'nt:vse\\x', 'upn:x@vse.lab', 'dn:cn=x', 'dn:cn=x', 'dn:cn=x', 'dn:cn=x', 'nt:x', 'upn:x@vse.lab', 'upn:x@vse.lab'];
    /** Each answer's delay, and whether it was refused (which the authenticator answers as a failure). */
    const run = async (accountOf: (spelling: string) => string) => {
      const t = new BindThrottle({ ...settings, maxFailuresPerAccount: 5, maxFailuresPerAddress: 100 }, () => 0);
      const out: { delayMs: number; refused: boolean }[] = [];
      for (const spelling of spellings) {
        const { granted: attempt, refused } = await t.attempt('a', keys(accountOf(spelling), spelling), signal);
        out.push(refused ? { delayMs: refused.delayMs, refused: true } : { delayMs: attempt!.failed().delayMs, refused: false });
      }
      return out;
    };
    const existing = await run(() => 'user:x');
    const missing = await run((spelling) => spelling);
    expect(existing.map((o) => o.delayMs)).toEqual(missing.map((o) => o.delayMs));
    expect(existing.map((o) => o.delayMs)).toEqual([0, 0, 500, 0, 0, 0, 500, 500, 0, 0, 500]);
    // The existing name was refused past its limit (5): only the log tells.
    expect(existing.map((o) => o.refused)).toEqual([false, false, false, false, false, true, true, true, true, true, true]);
    expect(missing.some((o) => o.refused)).toBe(false);
  });

  it('counts a refusal against its address as a failure, so the address reaches its maximum alike for names that are accounts and names that are not', async () => {
    const t = new BindThrottle(settings, () => 0);
    for (const spelling of ['nt:a', 'nt:b', 'nt:c']) (await granted(t.attempt('a', keys('user:x', spelling), signal))).failed();
    // Two refusals: the address's fourth and fifth failures, its maximum.
    for (const spelling of ['nt:d', 'nt:e']) expect((await t.attempt('a', keys('user:x', spelling), signal)).refused?.delayMs).toBe(spelling === 'nt:e' ? 500 : 0);
    expect((await granted(t.attempt('a', keys('nt:fresh'), signal))).failed().delayMs).toBe(500);
  });
});

describe('ForestLogins', () => {
  const ctx: OperationContext = { signal: new AbortController().signal, connectionId: 1, boundDn: '' };
  const forest = (name: string, users: Entry[], extra: Partial<LoginForest> = {}): LoginForest & { binds: string[] } => {
    const binds: string[] = [];
    const directory = {
      async *search(request: SearchRequest) {
        const f = request.filter;
        if (request.scope === 'base') yield* users.filter((u) => u.dn.equals(request.base));
        if (f.type !== 'equality') return;
        yield* users.filter((u) => u.get(f.attribute)?.values.some((v) => String(v).toLowerCase() === f.value.toString().toLowerCase()));
      },
      async bind(dn: Dn) {
        binds.push(dn.text);
      },
    } as unknown as Directory;
    return { name, mount: Dn.parse(`ou=${name},dc=corp`), upnSuffixes: [`${name}.lab`], netbiosName: name.toUpperCase(), directory, diagnostics: 'generic', checksAccountState: false, binds, ...extra };
  };
  const user = (forestName: string, sam: string) =>
    new Entry(Dn.parse(`cn=${sam},ou=${forestName},dc=corp`), [
      { name: 'sAMAccountName', values: [sam] },
      { name: 'userPrincipalName', values: [`${sam}@${forestName}.lab`] },
    ]);
  const pw = Buffer.from('pw');

  it('resolves every spelling of an account to one key', async () => {
    const logins = new ForestLogins([forest('a', [user('a', 'jdoe')])], createLogger('silent'));
    const keys = await Promise.all(['jdoe@A.LAB', 'a\\JDOE', 'A\\jdoe', 'jdoe', 'CN=JDOE, OU=a,DC=corp', 'cn=jdoe,ou=a,dc=corp'].map(async (n) => (await logins.resolve(parseLoginName(n), ctx)).key));
    expect(new Set(keys).size).toBe(1);
    expect((await logins.resolve(parseLoginName('ghost@a.lab'), ctx)).key).not.toBe(keys[0]);
  });

  it('binds with the UPN itself for native forests, its DN looked up first for the throttle and Who Am I', async () => {
    const native: string[] = [];
    const a = forest('a', [user('a', 'jdoe')], { bindUpn: async (upn) => void native.push(upn) });
    const logins = new ForestLogins([a], createLogger('silent'));
    const jdoe = await logins.resolve(parseLoginName('jdoe@a.lab'), ctx);
    expect(jdoe.key).toBe((await logins.resolve(parseLoginName('A\\jdoe'), ctx)).key);
    expect(await jdoe.verify(pw)).toMatchObject({ kind: 'user', forest: 'a', login: 'jdoe@a.lab', dn: Dn.parse('cn=jdoe,ou=a,dc=corp') });
    expect(native).toEqual(['jdoe@a.lab']);
    expect(a.binds).toEqual([]);
    const unseen = await (await logins.resolve(parseLoginName('ghost@a.lab'), ctx)).verify(pw);
    expect(unseen).toEqual({ kind: 'user', forest: 'a', login: 'ghost@a.lab' });
  });

  it('sends a native forest DN logins straight to its bind, without a lookup, under the account`s key', async () => {
    let searches = 0;
    const a = forest('a', [user('a', 'jdoe')], { bindUpn: async () => undefined, checksAccountState: true });
    const search = a.directory.search.bind(a.directory);
    a.directory.search = (request, c) => (searches++, search(request, c));
    const logins = new ForestLogins([a], createLogger('silent'));
    const byDn = await logins.resolve(parseLoginName('CN=JDOE, OU=a,DC=corp'), ctx);
    expect(searches).toBe(0);
    expect(byDn.key).toBe((await logins.resolve(parseLoginName('jdoe@a.lab'), ctx)).key);
    const identity = await byDn.verify(pw);
    expect(identity).toMatchObject({ kind: 'user', forest: 'a' });
    expect(identity.kind === 'user' && identity.dn?.equals(Dn.parse('cn=jdoe,ou=a,dc=corp'))).toBe(true);
    expect(a.binds).toEqual(['CN=JDOE,OU=a,DC=corp']);
    // The forest's refusal (AD's 533 for a disabled account, 52e for a wrong password) is the login's.
    a.directory.bind = () => Promise.reject(new LdapError(ResultCode.invalidCredentials, '80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 533, v4563'));
    await expect((await logins.resolve(parseLoginName('cn=jdoe,ou=a,dc=corp'), ctx)).verify(pw)).rejects.toMatchObject({ code: 49 });
  });

  it('refuses names that reach no forest or several entries, and disabled users, each with its reason for the metric', async () => {
    const disabled = user('b', 'off');
    disabled.set('msDS-UserAccountDisabled', ['TRUE']);
    const a = forest('a', [user('a', 'jdoe')]);
    const b = forest('b', [user('b', 'jdoe'), disabled]);
    const logins = new ForestLogins([a, b], createLogger('silent'));
    const refusals = await Promise.all(
      ['jdoe', 'jdoe@c.lab', 'C\\jdoe', 'B\\off', 'cn=x,dc=elsewhere', 'cn=ghost,ou=a,dc=corp'].map(async (name) => {
        const account = await logins.resolve(parseLoginName(name), ctx);
        const err = await account.verify(pw).catch((e: unknown) => e);
        return [name, (err as { code?: number }).code, account.forest, bindFailureReason(err)];
      }),
    );
    expect(refusals).toEqual([
      ['jdoe', 49, undefined, 'unknown_user'],
      ['jdoe@c.lab', 49, undefined, 'unknown_user'],
      ['C\\jdoe', 49, undefined, 'unknown_user'],
      ['B\\off', 49, 'b', 'disabled'],
      ['cn=x,dc=elsewhere', 49, undefined, 'unknown_user'],
      ['cn=ghost,ou=a,dc=corp', 49, undefined, 'unknown_user'],
    ]);
    expect(await (await logins.resolve(parseLoginName('b\\JDOE'), ctx)).verify(pw)).toMatchObject({ forest: 'b', dn: Dn.parse('cn=jdoe,ou=b,dc=corp') });
    expect([...a.binds, ...b.binds]).toEqual(['cn=jdoe,ou=b,dc=corp']);
  });
});

describe('configuration of accounts, access and security', () => {
  const errorsOf = (yaml: string): string[] => {
    try {
      parseConfig(yaml, { source: 'test.yaml', baseDir: '/' });
      return [];
    } catch (err) {
      return (err as Error).message.split('\n');
    }
  };
  const forests = 'forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x] }\n';

  it('names the key of every mistake and never prints a hash', () => {
    expect(
      errorsOf(`${forests}accounts:\n  - { dn: "cn=svc,dc=a", passwordHash: "plain-secret" }\n  - { dn: "cn=s,dc=x", passwordHash: "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }\n  - { dn: "CN=S,dc=x", passwordHash: "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }\n`),
    ).toEqual([
      'accounts[0].passwordHash: (secret) is not a scrypt hash printed by `canopy hash-password`',
      'accounts[0].dn: "cn=svc,dc=a" lies within the forest mounted at "dc=a"',
      'accounts[2].dn: "CN=S,dc=x" is used by another account',
    ]);
    expect(errorsOf(`${forests}access:\n  - { who: somebody, what: { dn: "dc=a" }, allow: read }\n`)[0]).toMatch(/^access\[0\]\.who: /);
    expect(errorsOf(`${forests}access:\n  - { who: anonymous, what: { dn: "dc=a", scope: sub }, allow: read }\n`)[0]).toMatch(/^access\[0\]\.what\.scope: /);
    expect(errorsOf(`${forests}security: { requireTlsForBind: yes-please }\n`)[0]).toMatch(/^security\.requireTlsForBind: /);
    expect(errorsOf(`${forests}security: { throttle: { delayMs: -1 } }\n`)[0]).toMatch(/^security\.throttle\.delayMs: /);
    expect(errorsOf(`forests:\n  - { name: a, backend: ldap, base: "dc=a", servers: ["ldap://dc1"], bindResolution: guess }\n`)[0]).toMatch(/^forests\[0\]\.bindResolution: /);
  });
});
