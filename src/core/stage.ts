import type { Directory, Modification, ModifyDnRequest, OperationContext, PasswordModifyRequest, SearchContext, SearchRequest, SearchStream } from './directory.js';
import type { Dn } from './dn.js';
import type { AttributeValue, Entry } from './entry.js';

/**
 * A pipeline stage, shaped like an slapd overlay: it implements only the operations it changes,
 * and every other one continues to the stage below (`next`) unchanged. A stage that changes a
 * search's entries does it with hooks (HookedSearch), not by wrapping the stream.
 */
export abstract class Stage implements Directory {
  constructor(protected readonly next: Directory) {}

  namingContexts(): readonly Dn[] {
    return this.next.namingContexts();
  }

  search(request: SearchRequest, ctx: SearchContext): SearchStream {
    return this.next.search(request, ctx);
  }

  bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    return this.next.bind(dn, password, ctx);
  }

  add(entry: Entry, ctx: OperationContext): Promise<void> {
    return this.next.add(entry, ctx);
  }

  modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    return this.next.modify(dn, changes, ctx);
  }

  delete(dn: Dn, ctx: OperationContext): Promise<void> {
    return this.next.delete(dn, ctx);
  }

  modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    return this.next.modifyDn(request, ctx);
  }

  compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    return this.next.compare(dn, attribute, value, ctx);
  }

  passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    return this.next.passwordModify(request, ctx);
  }

  close(): Promise<void> {
    return this.next.close();
  }
}

/** Makes a stage over the directory below it. */
export type StageFactory = (next: Directory) => Directory;

/**
 * The stages listed top to bottom over `bottom`, as they are read: the first is what the caller
 * talks to. Absent ones (a stage a configuration turns off) are skipped.
 */
export function stack(stages: readonly (StageFactory | undefined)[], bottom: Directory): Directory {
  let directory = bottom;
  for (let i = stages.length - 1; i >= 0; i--) directory = stages[i]?.(directory) ?? directory;
  return directory;
}
