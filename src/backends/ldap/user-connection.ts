import type { SessionResource } from '../../core/session-resources.js';
import type { UpstreamConnection } from './upstream-connection.js';

/**
 * A forest user's own authenticated upstream connection, held in the client's session from its
 * bind until the client binds again, unbinds or disconnects. Writes the user sends run on it, so
 * the forest's own permissions decide. One operation at a time: an UpstreamConnection reads each
 * result it sees as the current operation's.
 */
export class UserConnection implements SessionResource {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly connection: UpstreamConnection,
    /** Told when the connection is closed (the forest forgets it). */
    private readonly onClose: () => void = () => undefined,
  ) {}

  run<T>(operation: (connection: UpstreamConnection) => Promise<T>): Promise<T> {
    const result = this.tail.then(() => operation(this.connection));
    this.tail = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.connection.close();
    this.onClose();
  }
}
