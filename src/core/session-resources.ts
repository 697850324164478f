/** Something a client session holds until its bind ends: closed, never awaited. */
export interface SessionResource {
  close(): void;
}

/**
 * What a client connection holds for as long as its bind lasts, by owner (a forest user's own
 * authenticated upstream connection, held by that forest's backend). The front end releases it
 * when the client binds again, unbinds or disconnects, so nothing outlives the identity it was
 * opened for.
 */
export class SessionResources {
  private readonly held = new Map<object, SessionResource>();

  /** The resource `owner` holds in this session, if any. */
  get<T extends SessionResource>(owner: object): T | undefined {
    return this.held.get(owner) as T | undefined;
  }

  /** Holds `resource` for `owner`, closing the one it replaces. */
  hold(owner: object, resource: SessionResource): void {
    const previous = this.held.get(owner);
    this.held.set(owner, resource);
    if (previous && previous !== resource) previous.close();
  }

  /** Closes and forgets everything held. */
  release(): void {
    const resources = [...this.held.values()];
    this.held.clear();
    for (const r of resources) r.close();
  }
}
