import type { OperationContext } from '../core/directory.js';
import { ANONYMOUS, type Authenticator, type BindProof, type Identity, type Revocation } from '../core/identity.js';
import { Dn } from '../core/dn.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import { SessionResources } from '../core/session-resources.js';
import type { BindAuth } from '../protocol/decoder.js';
import type { ClientCertificate } from './client-certificate.js';

/** What a bind needs to know about the client. */
export interface BindClient {
  /** Its address, for throttling. */
  readonly peer: string;
  /** Whether TLS (LDAPS or StartTLS) protects the connection. */
  readonly secure: boolean;
  /** What its TLS handshake proved; absent without TLS. */
  readonly certificate?: ClientCertificate;
}

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
  /** How the bound identity proved itself; undefined when anonymous. */
  private proof: BindProof | undefined;
  /**
   * The bind in progress, whose outcome becomes the session's unless a later bind or the end
   * replaced it, with the verdicts of reloads made while it was checked (against a configuration
   * they replaced): its identity must pass them too.
   */
  private pending: { readonly resources: SessionResources; readonly reloads: Revocation[] } | undefined;

  /**
   * Binds or throws the LdapError the client gets. Only a full name-and-password bind, or SASL
   * EXTERNAL on a verified client certificate, reaches the authenticator.
   */
  async bind(version: number, name: string, auth: BindAuth, authenticator: Authenticator, client: BindClient, ctx: OperationContext): Promise<void> {
    this.end();
    if (version !== 3) throw new LdapError(ResultCode.protocolError, `LDAP version ${version} is not supported`);
    if (auth.method === 'sasl') {
      // SASL mechanism names are upper case (RFC 4422 §3.1); clients' spelling is not relied on.
      if (auth.mechanism.toUpperCase() !== 'EXTERNAL') {
        throw new LdapError(ResultCode.authMethodNotSupported, `SASL mechanism ${auth.mechanism} is not supported`);
      }
      const subject = verifiedSubject(client);
      const authorization = authorizationDn(auth.credentials);
      await this.establish(
        (session) => authenticator.authenticateCertificate({ subject, authorization, peer: client.peer, signal: ctx.signal, connectionId: ctx.connectionId, session }),
        { method: 'external', subject },
      );
      return;
    }
    if (name === '' && auth.password.length === 0) return; // anonymous
    // An empty password with a name is an unauthenticated bind (RFC 4513 §5.1.2): a classic
    // authentication bypass in applications, so refused as slapd does, whatever the name's form,
    // and never forwarded.
    if (auth.password.length === 0) throw new LdapError(ResultCode.unwillingToPerform, 'unauthenticated bind (name with an empty password) refused');
    if (name === '') throw new LdapError(ResultCode.invalidCredentials, 'a password without a name is not valid');
    await this.establish(
      (session) =>
        authenticator.authenticate({
          name,
          password: auth.password,
          peer: client.peer,
          secure: client.secure,
          signal: ctx.signal,
          connectionId: ctx.connectionId,
          session,
          ...(ctx.policy && { policy: ctx.policy }),
        }),
      { method: 'simple' },
      name,
    );
  }

  /**
   * Runs a bind's check with resources of its own and makes its identity the session's, unless a
   * later bind or the end of the connection replaced it meanwhile. `name` is the bound DN as the
   * client sent it; a bind without a name (SASL EXTERNAL) is known by its identity's DN.
   */
  private async establish(check: (session: SessionResources) => Promise<Identity>, proof: BindProof, name?: string): Promise<void> {
    const pending = { resources: new SessionResources(), reloads: [] as Revocation[] };
    // Set before the check starts, in the same turn: a reload that swaps the configuration after
    // this sees the bind as pending, one before it served the check with the new configuration.
    this.pending = pending;
    const { resources } = pending;
    let identity: Identity;
    try {
      identity = await check(resources);
    } catch (err) {
      resources.release(); // nothing may stay held for a bind that failed
      throw err;
    }
    if (this.pending !== pending) {
      resources.release();
      throw new LdapError(ResultCode.operationsError, 'a later bind or the end of the connection replaced this bind');
    }
    this.pending = undefined;
    if (pending.reloads.some((revoked) => revoked(identity, proof))) {
      // Checked against a configuration a reload replaced, which removed the account or changed its credentials.
      resources.release();
      throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials (the configuration was reloaded during the bind)');
    }
    this.identity = identity;
    this.resources = resources;
    this.proof = proof;
    this.boundDn = name ?? (identity.kind === 'anonymous' ? '' : (identity.dn?.text ?? ''));
  }

  /**
   * A reload's verdict (`revoked`) on this session: true when the identity it is bound as no longer
   * stands, for the connection to end. A bind in progress, checked against the replaced
   * configuration, is judged when it ends (refused with invalidCredentials).
   */
  revokedBy(revoked: Revocation): boolean {
    this.pending?.reloads.push(revoked);
    return this.proof !== undefined && this.identity.kind !== 'anonymous' && revoked(this.identity, this.proof);
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
    this.proof = undefined;
    this.pending = undefined;
    this.resources.release();
    this.resources = new SessionResources();
  }
}

/**
 * The subject of the client certificate a SASL EXTERNAL bind stands on. Without one established
 * by TLS the bind fails with inappropriateAuthentication (RFC 4513 §5.2.3).
 */
function verifiedSubject(client: BindClient): string {
  const refuse = (why: string) => new LdapError(ResultCode.inappropriateAuthentication, `SASL EXTERNAL: ${why}`);
  const certificate = client.certificate;
  if (!client.secure || !certificate) throw refuse('the connection has no TLS (use LDAPS or StartTLS with a client certificate)');
  if (certificate.state === 'none') throw refuse('no client certificate was presented in the TLS handshake');
  if (certificate.state === 'unverified') throw refuse(`the client certificate was not verified (${certificate.reason})`);
  return certificate.subject;
}

/**
 * The authorization identity a SASL EXTERNAL bind asserts (RFC 4513 §5.2.3.2): none (absent or
 * empty credentials: the certificate's own), or `dn:<DN>`. Anything else is an identity the
 * certificate cannot be authorized as: invalidCredentials, as for a DN that is not its own.
 */
function authorizationDn(credentials: Buffer | undefined): Dn | undefined {
  const text = credentials?.toString('utf8') ?? '';
  if (text === '') return undefined;
  const refused = new LdapError(ResultCode.invalidCredentials, 'SASL EXTERNAL: only the certificate\'s own identity may be asserted (empty, or dn:<its DN>)');
  if (!text.startsWith('dn:')) throw refused;
  try {
    return Dn.parse(text.slice(3));
  } catch {
    throw refused;
  }
}
