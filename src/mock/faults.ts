import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type {
  Directory,
  Modification,
  ModifyDnRequest,
  OperationContext,
  PasswordModifyRequest,
  SearchContext,
  SearchRequest,
  SearchStream,
} from '../core/directory.js';
import type { Dn } from '../core/dn.js';
import type { AttributeValue, Entry } from '../core/entry.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';
import type { SearchTrailer } from '../core/search-trailer.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';

const forest = z.string().min(1).optional();
const count = z.number().int().min(1).optional();

/** A fault to inject, as the API, the `canopy mock` flags and the admin HTTP endpoint take it. */
export const faultSchema = z.discriminatedUnion('kind', [
  /** Operations fail with unavailable (52) or busy (51): the next `count`, or all until cleared. */
  z.strictObject({ kind: z.enum(['unavailable', 'busy']), forest, count }),
  /** Every operation, or every entry of a search, waits `ms` first. */
  z.strictObject({ kind: z.literal('latency'), forest, ms: z.number().int().min(0), per: z.enum(['operation', 'entry']).default('operation') }),
  /**
   * `afterEntries`: a search's upstream connection drops after that many of the forest's entries
   * (the client's search ends with unavailable; its connection stays). `afterPages`: the client's
   * own connection is dropped once that many pages of a paged search were answered. The next
   * `count` searches it breaks, or all.
   */
  z
    .strictObject({
      kind: z.literal('drop'),
      forest,
      afterEntries: z.number().int().min(0).optional(),
      afterPages: z.number().int().min(1).optional(),
      count,
    })
    .refine((f) => (f.afterEntries === undefined) !== (f.afterPages === undefined), {
      message: 'a drop fault takes exactly one of afterEntries and afterPages',
      path: ['afterPages'],
    }),
  /** Operations never answer (until cleared, or the client's time limit or abandon ends them). */
  z.strictObject({ kind: z.literal('hang'), forest, count }),
]);

export type FaultSpec = z.input<typeof faultSchema>;
type Fault = z.output<typeof faultSchema>;
export type FaultKind = Fault['kind'];

export interface ActiveFault {
  readonly id: number;
  readonly fault: Fault;
  /** Operations (or searches) it still applies to; undefined = until cleared. */
  readonly remaining?: number;
}

interface Slot {
  readonly id: number;
  readonly fault: Fault;
  remaining: number | undefined;
}

/**
 * The fault switches of a mock directory: faults are injected and cleared at any time and apply
 * to the forests they name (all when none), each time an operation starts and each time a search
 * is about to return an entry, so a fault switched on mid-search breaks that search. A drop after
 * pages is armed when a paged search reaches the forest and fires through the front end's
 * `dropAfterPage` hook.
 */
export class FaultSwitches {
  private slots: Slot[] = [];
  private nextId = 1;
  /** Paged searches under a drop-after-pages fault, by the trailer that identifies each to the front end. */
  private readonly pageDrops = new WeakMap<SearchTrailer, { readonly slot: Slot; readonly forest: string }>();
  /** Released when faults are cleared, so hanging operations re-check. */
  private cleared = released();
  /** Times each kind of fault was injected and took effect. */
  readonly counts = { injected: {} as Record<string, number>, triggered: {} as Record<string, number> };

  constructor(private readonly logger?: Logger) {}

  /** Switches a fault on; returns its id. Throws a ZodError naming the bad field of an invalid spec. */
  inject(spec: FaultSpec): number {
    const fault = faultSchema.parse(spec);
    const id = this.nextId++;
    this.slots.push({ id, fault, remaining: 'count' in fault ? fault.count : undefined });
    bump(this.counts.injected, fault.kind);
    metrics.mockFaultsInjected.inc({ kind: fault.kind });
    this.logger?.warn({ fault, id }, 'mock fault injected');
    return id;
  }

  /** Clears one fault by id, or every fault. */
  clear(id?: number): void {
    const before = this.slots.length;
    this.slots = id === undefined ? [] : this.slots.filter((s) => s.id !== id);
    if (this.slots.length !== before) this.logger?.warn({ id: id ?? 'all' }, 'mock fault cleared');
    this.cleared.release();
    this.cleared = released();
  }

  list(): ActiveFault[] {
    return this.slots.map((s) => ({ id: s.id, fault: s.fault, ...(s.remaining !== undefined && { remaining: s.remaining }) }));
  }

  /** The forest's backend behind the fault switches. */
  wrap(forestName: string, directory: Directory): Directory {
    return new FaultyDirectory(forestName, directory, this);
  }

  /** Applies the faults due when an operation starts (`entry` false) or a search returns an entry. */
  async before(forestName: string, signal: AbortSignal, entry: boolean): Promise<void> {
    for (;;) {
      const slot = this.find(forestName, (f) => f.kind === 'hang' || f.kind === 'unavailable' || f.kind === 'busy');
      if (!slot) break;
      this.trigger(slot, forestName);
      if (slot.fault.kind !== 'hang') {
        const code = slot.fault.kind === 'busy' ? ResultCode.busy : ResultCode.unavailable;
        throw new LdapError(code, `forest "${forestName}" is ${slot.fault.kind} (injected fault)`, '', forestName);
      }
      await this.hang(signal);
    }
    const latency = this.find(forestName, (f) => f.kind === 'latency' && (f.per === 'entry') === entry);
    if (latency?.fault.kind === 'latency') {
      bump(this.counts.triggered, 'latency');
      metrics.mockFaultsTriggered.inc({ forest: forestName });
      await sleep(latency.fault.ms, undefined, { signal });
    }
  }

  /** The drop-after-entries fault a search starting now is subject to, counted as triggered when it fires. */
  dropFor(forestName: string): { afterEntries: number; fire(): LdapError } | undefined {
    const slot = this.find(forestName, (f) => f.kind === 'drop' && f.afterEntries !== undefined);
    if (slot?.fault.kind !== 'drop' || slot.fault.afterEntries === undefined) return undefined;
    return {
      afterEntries: slot.fault.afterEntries,
      fire: () => {
        this.trigger(slot, forestName);
        return new LdapError(ResultCode.unavailable, `forest "${forestName}": connection dropped (injected fault)`, '', forestName);
      },
    };
  }

  /** Subjects a search starting now in the forest to its drop-after-pages fault, if any. */
  armPageDrop(forestName: string, trailer: SearchTrailer): void {
    if (this.pageDrops.has(trailer)) return;
    const slot = this.find(forestName, (f) => f.kind === 'drop' && f.afterPages !== undefined);
    if (slot) this.pageDrops.set(trailer, { slot, forest: forestName });
  }

  /** The front end's `DropAfterPage` hook (`ServerOptions.dropAfterPage`): true drops the client's connection now. */
  readonly dropAfterPage = (trailer: SearchTrailer, pages: number): boolean => {
    const armed = this.pageDrops.get(trailer);
    if (armed?.slot.fault.kind !== 'drop' || pages < (armed.slot.fault.afterPages ?? Infinity)) return false;
    this.pageDrops.delete(trailer);
    if (!this.slots.includes(armed.slot)) return false; // cleared (or used up) since the search started
    this.trigger(armed.slot, armed.forest);
    return true;
  };

  private find(forestName: string, kind: (f: Fault) => boolean): Slot | undefined {
    return this.slots.find((s) => (s.fault.forest === undefined || s.fault.forest === forestName) && kind(s.fault));
  }

  private trigger(slot: Slot, forestName: string): void {
    bump(this.counts.triggered, slot.fault.kind);
    metrics.mockFaultsTriggered.inc({ forest: forestName });
    this.logger?.info({ fault: slot.fault.kind, id: slot.id, forest: forestName }, 'mock fault triggered');
    if (slot.remaining !== undefined && --slot.remaining <= 0) this.slots = this.slots.filter((s) => s !== slot);
  }

  /** Waits until faults are cleared; an abandoned or timed-out operation ends with its signal. */
  private async hang(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    await Promise.race([this.cleared.promise, aborted]);
  }
}

/** A promise and the function that resolves it. */
function released(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

function bump(counts: Record<string, number>, kind: string): void {
  counts[kind] = (counts[kind] ?? 0) + 1;
}

/** One forest's backend behind the fault switches: every operation asks them first. */
class FaultyDirectory implements Directory {
  constructor(
    private readonly forest: string,
    private readonly inner: Directory,
    private readonly switches: FaultSwitches,
  ) {}

  namingContexts(): readonly Dn[] {
    return this.inner.namingContexts();
  }

  search(request: SearchRequest, ctx: SearchContext): SearchStream {
    return this.faultySearch(request, ctx);
  }

  private async *faultySearch(request: SearchRequest, ctx: SearchContext): AsyncGenerator<Entry, void, undefined> {
    await this.switches.before(this.forest, ctx.signal, false);
    this.switches.armPageDrop(this.forest, ctx.trailer);
    const drop = this.switches.dropFor(this.forest);
    let sent = 0;
    for await (const entry of this.inner.search(request, ctx)) {
      if (drop && sent === drop.afterEntries) throw drop.fire();
      await this.switches.before(this.forest, ctx.signal, true);
      sent++;
      yield entry;
    }
  }

  async bind(dn: Dn, password: Buffer, ctx: OperationContext): Promise<void> {
    await this.switches.before(this.forest, ctx.signal, false);
    return this.inner.bind(dn, password, ctx);
  }

  async add(entry: Entry, ctx: OperationContext): Promise<void> {
    await this.switches.before(this.forest, ctx.signal, false);
    return this.inner.add(entry, ctx);
  }

  async modify(dn: Dn, changes: readonly Modification[], ctx: OperationContext): Promise<void> {
    await this.switches.before(this.forest, ctx.signal, false);
    return this.inner.modify(dn, changes, ctx);
  }

  async delete(dn: Dn, ctx: OperationContext): Promise<void> {
    await this.switches.before(this.forest, ctx.signal, false);
    return this.inner.delete(dn, ctx);
  }

  async modifyDn(request: ModifyDnRequest, ctx: OperationContext): Promise<void> {
    await this.switches.before(this.forest, ctx.signal, false);
    return this.inner.modifyDn(request, ctx);
  }

  async compare(dn: Dn, attribute: string, value: AttributeValue, ctx: OperationContext): Promise<boolean> {
    await this.switches.before(this.forest, ctx.signal, false);
    return this.inner.compare(dn, attribute, value, ctx);
  }

  async passwordModify(request: PasswordModifyRequest, ctx: OperationContext): Promise<void> {
    await this.switches.before(this.forest, ctx.signal, false);
    return this.inner.passwordModify(request, ctx);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
