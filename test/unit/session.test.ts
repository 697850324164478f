import { describe, expect, it } from 'vitest';
import type { OperationContext } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import type { Authenticator, BindCredentials, Identity } from '../../src/core/identity.js';
import type { SessionResource } from '../../src/core/session-resources.js';
import { Session } from '../../src/frontend/session.js';

/** Stands for a forest backend: what it holds in a session is keyed by it. */
const forest = {};

class Held implements SessionResource {
  closed = false;
  constructor(readonly login: string) {}
  close(): void {
    this.closed = true;
  }
}

/**
 * Authenticates any name, holding a resource for it in the bind's session first (as an ldap forest
 * holds the user's connection), then waiting for `release(name)` before answering (as a native UPN
 * bind looks the entry up afterwards).
 */
function slowAuthenticator() {
  const held = new Map<string, Held>();
  const waiting = new Map<string, () => void>();
  const authenticator: Authenticator = {
    async authenticate(request: BindCredentials): Promise<Identity> {
      const resource = new Held(request.name);
      held.set(request.name, resource);
      request.session?.hold(forest, resource);
      await new Promise<void>((resolve) => waiting.set(request.name, resolve));
      return { kind: 'user', forest: 'a', dn: Dn.parse(request.name), login: request.name };
    },
    authenticateCertificate: () => Promise.reject(new Error('these tests bind with passwords')),
    provePassword: () => Promise.reject(new Error('not used by these tests')),
  };
  return { authenticator, held, release: (name: string) => waiting.get(name)!() };
}

const ctx = (): OperationContext => ({ signal: new AbortController().signal, connectionId: 1, boundDn: '' });
const simple = (password: string) => ({ method: 'simple' as const, password: Buffer.from(password) });
const client = { peer: '127.0.0.1', secure: false };
const settled = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: number }) => e.code);
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Session', () => {
  it('never pairs an identity with what another bind holds: an overlapped bind fails and releases its own', async () => {
    const { authenticator, held, release } = slowAuthenticator();
    const session = new Session();
    const first = settled(session.bind(3, 'cn=a', simple('pa'), authenticator, client, ctx()));
    await tick();
    const second = settled(session.bind(3, 'cn=b', simple('pb'), authenticator, client, ctx()));
    await tick();
    release('cn=b');
    expect(await second).toBe('ok');
    release('cn=a');
    expect(await first).toBe(1); // operationsError: a later bind replaced it
    expect(session.identity).toMatchObject({ kind: 'user', login: 'cn=b' });
    expect(session.resources.get(forest)).toBe(held.get('cn=b'));
    expect([held.get('cn=a')!.closed, held.get('cn=b')!.closed]).toEqual([true, false]);
  });

  it('a bind that completes after the connection ended leaves nothing held', async () => {
    const { authenticator, held, release } = slowAuthenticator();
    const session = new Session();
    const bind = settled(session.bind(3, 'cn=a', simple('pa'), authenticator, client, ctx()));
    await tick();
    session.end();
    release('cn=a');
    expect(await bind).toBe(1);
    expect(session.identity.kind).toBe('anonymous');
    expect(held.get('cn=a')!.closed).toBe(true);
    expect(session.resources.get(forest)).toBeUndefined();
  });

  it('a reload during a bind judges the bind when it ends: revoked, it fails with invalidCredentials and leaves the session anonymous', async () => {
    const { authenticator, held, release } = slowAuthenticator();
    const session = new Session();
    const revokeA = (identity: Identity) => identity.kind !== 'anonymous' && identity.dn?.text === 'cn=a';
    const bindA = settled(session.bind(3, 'cn=a', simple('pa'), authenticator, client, ctx()));
    await tick();
    expect(session.revokedBy(revokeA)).toBe(false); // not bound yet
    release('cn=a');
    expect(await bindA).toBe(49);
    expect(session.identity.kind).toBe('anonymous');
    expect(held.get('cn=a')!.closed).toBe(true);

    // A bind the reload does not revoke succeeds; the verdict of a later reload applies to it once bound.
    const bindB = settled(session.bind(3, 'cn=b', simple('pb'), authenticator, client, ctx()));
    await tick();
    expect(session.revokedBy(revokeA)).toBe(false);
    release('cn=b');
    expect(await bindB).toBe('ok');
    expect(session.revokedBy(revokeA)).toBe(false);
    expect(session.revokedBy((identity, proof) => identity.kind === 'user' && proof.method === 'simple')).toBe(true);
  });
});
