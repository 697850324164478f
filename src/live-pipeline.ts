import type {
  Directory,
  Modification,
  ModifyDnRequest,
  OperationContext,
  PasswordModifyRequest,
  SearchContext,
  SearchRequest,
  SearchStream,
} from './core/directory.js';
import type { Dn } from './core/dn.js';
import type { AttributeValue, Entry } from './core/entry.js';
import { HookedSearch } from './core/search-stream.js';
import type { Authenticator, BindCredentials, CertificateCredentials, Identity, PasswordProof } from './core/identity.js';

/** One assembled pipeline: what a configuration turns into below the front end. */
export interface Pipeline {
  readonly directory: Directory;
  readonly authenticator: Authenticator;
  /** Releases what this pipeline alone holds (backends not handed on to a newer one). */
  close(): Promise<void>;
}

/** A pipeline and the operations and searches still running on it. */
class Generation<P extends Pipeline> {
  private users = 0;
  private retired?: () => void;

  constructor(readonly pipeline: P) {}

  enter(): void {
    this.users++;
  }

  leave(): void {
    if (--this.users === 0) this.retired?.();
  }

  /** Resolves once nothing runs on this generation any more. */
  drained(): Promise<void> {
    if (this.users === 0) return Promise.resolve();
    return new Promise((resolve) => (this.retired = resolve));
  }
}

/**
 * The pipeline the front end talks to, replaceable while clients stay connected (reload). Each
 * operation and each search stream runs to its end on the pipeline it started on; a replaced
 * pipeline is closed once the last of them ends, so a paged sync spanning a reload finishes on
 * the configuration it began with, unless the server ends it first (a reload that changed the
 * access rules or hidden attributes: server.ts).
 */
export class LivePipeline<P extends Pipeline = Pipeline> implements Directory, Authenticator {
  private current: Generation<P>;

  constructor(pipeline: P) {
    this.current = new Generation(pipeline);
  }

  get pipeline(): P {
    return this.current.pipeline;
  }

  /** Serves new operations from `next`; resolves when the replaced pipeline has been closed. */
  async replace(next: P): Promise<void> {
    const old = this.current;
    this.current = new Generation(next);
    await old.drained();
    await old.pipeline.close();
  }

  namingContexts(): readonly Dn[] {
    return this.current.pipeline.directory.namingContexts();
  }

  search(request: SearchRequest, ctx: SearchContext): SearchStream {
    const generation = this.current;
    return HookedSearch.over(() => generation.pipeline.directory.search(request, ctx), {
      opened: () => generation.enter(),
      closed: () => generation.leave(),
    });
  }

  authenticate(request: BindCredentials): Promise<Identity> {
    return this.run((p) => p.authenticator.authenticate(request));
  }

  authenticateCertificate(request: CertificateCredentials): Promise<Identity> {
    return this.run((p) => p.authenticator.authenticateCertificate(request));
  }

  provePassword(request: BindCredentials): Promise<PasswordProof> {
    return this.run((p) => p.authenticator.provePassword(request));
  }

  bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    return this.run((p) => p.directory.bind(dn, password, ctx));
  }

  add(entry: Entry, ctx: OperationContext): Promise<void> {
    return this.run((p) => p.directory.add(entry, ctx));
  }

  modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    return this.run((p) => p.directory.modify(dn, changes, ctx));
  }

  delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.run((p) => p.directory.delete(dn, ctx));
  }

  modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    return this.run((p) => p.directory.modifyDn(request, ctx));
  }

  compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    return this.run((p) => p.directory.compare(dn, attribute, value, ctx));
  }

  passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    return this.run((p) => p.directory.passwordModify(request, ctx));
  }

  /** Closes the current pipeline: server shutdown, once the front end has ended every connection. */
  close(): Promise<void> {
    return this.current.pipeline.close();
  }

  private async run<T>(operation: (pipeline: P) => Promise<T>): Promise<T> {
    const generation = this.current;
    generation.enter();
    try {
      return await operation(generation.pipeline);
    } finally {
      generation.leave();
    }
  }
}
