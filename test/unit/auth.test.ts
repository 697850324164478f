import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BindThrottle } from '../../src/auth/bind-throttle.js';
import { ForestLogins, type LoginForest } from '../../src/auth/forest-logins.js';
import { parseLoginName, throttleKey } from '../../src/auth/login-name.js';
import { hashPassword, parseScryptHash, verifyPassword } from '../../src/auth/scrypt-hash.js';
import { parseConfig } from '../../src/config/load.js';
import type { Directory, OperationContext, SearchRequest } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
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
    expect(throttleKey(parseLoginName('VSE\\JDoe'))).toBe(throttleKey(parseLoginName('vse\\jdoe')));
  });
});

describe('BindThrottle', () => {
  const settings = { windowSeconds: 60, slowAfter: 2, delayMs: 500, maxFailuresPerAccount: 3, maxFailuresPerAddress: 5 };

  it('slows a name after slowAfter failures, refuses it at the maximum until the window passes', () => {
    let now = 0;
    const t = new BindThrottle(settings, () => now);
    expect([t.failed('a', 'x'), t.failed('a', 'x'), t.failed('a', 'x')]).toEqual([0, 0, 500]);
    expect(t.blockedFor('a', 'x')).toBe(60);
    expect(t.blockedFor('a', 'y')).toBe(0); // another name from the same address
    now = 59_000;
    expect(t.blockedFor('b', 'x')).toBe(1);
    now = 60_000;
    expect(t.blockedFor('b', 'x')).toBe(0);
  });

  it('refuses an address at its own maximum; a success clears the name only', () => {
    const t = new BindThrottle(settings, () => 0);
    for (const name of ['p', 'q', 'r', 's']) t.failed('a', name);
    t.succeeded('p');
    expect(t.blockedFor('a', 'p')).toBe(0);
    t.failed('a', 't');
    expect(t.blockedFor('a', 'p')).toBe(60);
    expect(t.blockedFor('b', 'p')).toBe(0);
  });
});

describe('ForestLogins', () => {
  const ctx: OperationContext = { signal: new AbortController().signal, connectionId: 1, boundDn: '' };
  const forest = (name: string, users: Entry[], extra: Partial<LoginForest> = {}): LoginForest & { binds: string[] } => {
    const binds: string[] = [];
    const directory = {
      async *search(request: SearchRequest) {
        const f = request.filter;
        if (f.type !== 'equality') return;
        yield* users.filter((u) => u.get(f.attribute)?.values.some((v) => String(v).toLowerCase() === f.value.toString().toLowerCase()));
      },
      async bind(dn: Dn) {
        binds.push(dn.text);
      },
    } as unknown as Directory;
    return { name, mount: Dn.parse(`ou=${name},dc=corp`), upnSuffixes: [`${name}.lab`], netbiosName: name.toUpperCase(), directory, binds, ...extra };
  };
  const user = (forestName: string, sam: string) =>
    new Entry(Dn.parse(`cn=${sam},ou=${forestName},dc=corp`), [
      { name: 'sAMAccountName', values: [sam] },
      { name: 'userPrincipalName', values: [`${sam}@${forestName}.lab`] },
    ]);

  it('binds with the UPN itself for native forests, then looks the DN up for Who Am I', async () => {
    const native: string[] = [];
    const a = forest('a', [user('a', 'jdoe')], { bindUpn: async (upn) => void native.push(upn) });
    const logins = new ForestLogins([a], createLogger('silent'));
    expect(await logins.login(parseLoginName('jdoe@a.lab'), Buffer.from('pw'), ctx)).toMatchObject({ kind: 'user', forest: 'a', login: 'jdoe@a.lab' });
    expect(native).toEqual(['jdoe@a.lab']);
    expect(a.binds).toEqual([]);
    const unseen = await logins.login(parseLoginName('ghost@a.lab'), Buffer.from('pw'), ctx);
    expect(unseen).toEqual({ kind: 'user', forest: 'a', login: 'ghost@a.lab' });
  });

  it('refuses names that reach no forest or several entries, and disabled users', async () => {
    const disabled = user('b', 'off');
    disabled.set('msDS-UserAccountDisabled', ['TRUE']);
    const a = forest('a', [user('a', 'jdoe')]);
    const b = forest('b', [user('b', 'jdoe'), disabled]);
    const logins = new ForestLogins([a, b], createLogger('silent'));
    const pw = Buffer.from('pw');
    for (const name of ['jdoe', 'jdoe@c.lab', 'C\\jdoe', 'B\\off', 'cn=x,dc=elsewhere']) {
      await expect(logins.login(parseLoginName(name), pw, ctx)).rejects.toMatchObject({ code: 49, message: 'invalid credentials' });
    }
    expect(await logins.login(parseLoginName('b\\JDOE'), pw, ctx)).toMatchObject({ forest: 'b', dn: Dn.parse('cn=jdoe,ou=b,dc=corp') });
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
