import { LdapError } from '../../core/ldap-error.js';
import { ResultCode } from '../../core/result-codes.js';
import type { SessionResource } from '../../core/session-resources.js';
import type { UpstreamConnection } from './upstream-connection.js';

/**
 * A forest user's own authenticated upstream connection, for the writes it sends as itself (so
 * the forest's own permissions decide). Held in the client's session from its bind until the
 * client binds again, unbinds or disconnects; opened at the first write, not at login, so logins
 * cost no connection each. It keeps the login's password until then (never logged), and wipes it
 * when closed.
 */
export class UserConnection implements SessionResource {
  private connection: Promise<UpstreamConnection> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** A write was asked for: most logins never write. */
  private used = false;
  private finish!: () => void;
  /** Resolves once the login ended and its connection closed, after the write under way then. */
  readonly ended = new Promise<void>((resolve) => (this.finish = resolve));

  constructor(
    readonly name: string,
    /** The login's account however its name was spelled (LdapDirectory counts ended logins by it). */
    readonly account: string,
    private readonly password: Buffer,
    /** Opens and binds a connection as this user. */
    private readonly open: (name: string, password: Buffer) => Promise<UpstreamConnection>,
    /** Told when the connection is closed (the forest forgets it). */
    private readonly onClose: () => void = () => undefined,
  ) {}

  /**
   * Runs one write on the user's connection, one at a time, opening it first when needed. A write
   * still waiting for its turn when the login ends is refused unsent: a client that leaves holds
   * the connection for the one write under way at most.
   */
  run<T>(operation: (connection: UpstreamConnection) => Promise<T>): Promise<T> {
    this.used = true;
    const result = this.tail.then(async () => operation(await this.connect()));
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * The login ended (a rebind, an unbind, the client gone): the write under way finishes on the
   * connection first, since its outcome must be known (cutting it off would look like the server
   * failing, and mark it down); then the connection closes and the password is wiped. Writes not
   * yet sent are refused (connect), as nothing was sent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    if (!this.used) {
      // Nothing was opened or sent: only the password to wipe.
      this.password.fill(0);
      this.finish();
      return;
    }
    this.tail = this.tail
      .then(() => {
        this.password.fill(0);
        const open = this.connection;
        this.connection = undefined;
        return open?.then((c) => c.close(), () => undefined);
      })
      .finally(() => this.finish());
  }

  /** Whether the login asked for a write (its connection may be open, or a write under way). */
  get wrote(): boolean {
    return this.used;
  }

  private connect(): Promise<UpstreamConnection> {
    if (this.closed) return Promise.reject(new LdapError(ResultCode.unavailable, 'this login ended before the write was sent: bind again to write'));
    const current = this.connection;
    if (current) {
      // A connection that was lost is opened again with the login's credentials.
      return current.then(
        (c) => {
          if (c.reusable) return c;
          c.close();
          return this.reopen();
        },
        () => this.reopen(),
      );
    }
    return this.reopen();
  }

  private reopen(): Promise<UpstreamConnection> {
    this.connection = this.open(this.name, this.password);
    return this.connection;
  }
}
