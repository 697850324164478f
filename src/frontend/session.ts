import type { OperationContext } from '../core/directory.js';
import { ANONYMOUS, type Authenticator, type Identity } from '../core/identity.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { SessionResources } from '../core/session-resources.js';
import type { BindAuth } from '../protocol/decoder.js';

/** A connection's bound identity. A failed bind leaves it anonymous (RFC 4511 §4.2.1). */
export class Session {
  /** The bound DN as the client sent it; empty when anonymous. */
  boundDn = '';
  identity: Identity = ANONYMOUS;
  /**
   * What the bound identity holds (a forest user's own upstream connections): released with the
   * bind. Each bind fills a set of its own, installed together with its identity, so a connection
   * opened for one identity is never used under another (binds overlapping, a write in flight
   * across a rebind).
   */
  resources = new SessionResources();
  /** The bind in progress, whose outcome becomes the session's unless a later bind or the end replaced it. */
  private pending: SessionResources | undefined;

  /** Binds or throws the LdapError the client gets. Only a full name-and-password bind reaches the directory. */
  async bind(
    version: number,
    name: string,
    auth: BindAuth,
    authenticator: Authenticator,
    client: { readonly peer: string; readonly secure: boolean },
    ctx: OperationContext,
  ): Promise<void> {
    this.end();
    if (version !== 3) throw new LdapError(ResultCode.protocolError, `LDAP version ${version} is not supported`);
    if (auth.method === 'sasl') {
      throw new LdapError(ResultCode.authMethodNotSupported, `SASL mechanism ${auth.mechanism} is not supported`);
    }
    if (name === '' && auth.password.length === 0) return; // anonymous
    // An empty password with a name is an unauthenticated bind (RFC 4513 §5.1.2): a classic
    // authentication bypass in applications, so refused as slapd does, whatever the name's form,
    // and never forwarded.
    if (auth.password.length === 0) throw new LdapError(ResultCode.unwillingToPerform, 'unauthenticated bind (name with an empty password) refused');
    if (name === '') throw new LdapError(ResultCode.invalidCredentials, 'a password without a name is not valid');
    const resources = new SessionResources();
    this.pending = resources;
    const credentials = {
      name,
      password: auth.password,
      ...client,
      signal: ctx.signal,
      connectionId: ctx.connectionId,
      session: resources,
      ...(ctx.policy && { policy: ctx.policy }),
    };
    let identity: Identity;
    try {
      identity = await authenticator.authenticate(credentials);
    } catch (err) {
      resources.release(); // nothing may stay held for a bind that failed
      throw err;
    }
    if (this.pending !== resources) {
      resources.release();
      throw new LdapError(ResultCode.operationsError, 'a later bind or the end of the connection replaced this bind');
    }
    this.pending = undefined;
    this.identity = identity;
    this.resources = resources;
    this.boundDn = name;
  }

  /**
   * `changed` changed its own password: a reset password's restriction ends, if the session is
   * still bound as it (slapd lifts it on the connection the same way).
   */
  passwordChanged(changed: Identity | undefined): void {
    const identity = this.identity;
    if (identity !== changed || identity.kind !== 'user' || !identity.mustChangePassword) return;
    const { mustChangePassword: _, ...rest } = identity;
    this.identity = rest;
  }

  /** Back to anonymous, releasing what the old identity held (rebind, unbind, disconnect). */
  end(): void {
    this.boundDn = '';
    this.identity = ANONYMOUS;
    this.pending = undefined;
    this.resources.release();
    this.resources = new SessionResources();
  }
}
