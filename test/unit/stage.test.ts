import { describe, expect, it } from 'vitest';
import type { Directory, OperationContext } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { Stage, stack } from '../../src/core/stage.js';
import { searchCtx } from '../support/search-context.js';

/** A directory that records which operations reach it, and from whom. */
function recorder(name: string, log: string[]): Directory {
  const reached = (op: string) => (log.push(`${name}.${op}`), Promise.resolve());
  return {
    namingContexts: () => (log.push(`${name}.namingContexts`), [Dn.parse('dc=t')]),
    search: () => (log.push(`${name}.search`), { [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }) }),
    bind: () => reached('bind'),
    add: () => reached('add'),
    modify: () => reached('modify'),
    delete: () => reached('delete'),
    modifyDn: () => reached('modifyDn'),
    compare: () => (log.push(`${name}.compare`), Promise.resolve(true)),
    passwordModify: () => reached('passwordModify'),
    close: () => reached('close'),
  };
}

class Tagging extends Stage {
  constructor(
    private readonly name: string,
    private readonly log: string[],
    next: Directory,
  ) {
    super(next);
  }

  override delete(dn: Dn, ctx: OperationContext): Promise<void> {
    this.log.push(`${this.name}.delete`);
    return this.next.delete(dn, ctx);
  }
}

describe('pipeline stages', () => {
  const ctx = searchCtx();

  it('pass every operation a stage does not change to the stage below, unchanged', async () => {
    const log: string[] = [];
    const top = stack([(next) => new Tagging('a', log, next), undefined, (next) => new Tagging('b', log, next)], recorder('bottom', log));
    const dn = Dn.parse('cn=x,dc=t');
    await top.delete(dn, ctx);
    expect(log).toEqual(['a.delete', 'b.delete', 'bottom.delete']);
    log.length = 0;
    expect(await top.compare(dn, 'cn', 'x', ctx)).toBe(true);
    await top.bind(dn, Buffer.from('secret'), ctx);
    await top.modify(dn, [], ctx);
    await top.add(new Entry(dn), ctx);
    await top.modifyDn({ dn, newRdn: 'cn=y', deleteOldRdn: true }, ctx);
    await top.passwordModify({ user: dn, newPassword: Buffer.from('n') }, ctx);
    top.search({ base: dn, scope: 'base', filter: { type: 'present', attribute: 'objectClass' }, attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 }, ctx);
    expect(top.namingContexts().map((d) => d.text)).toEqual(['dc=t']);
    await top.close();
    expect(log).toEqual(['bottom.compare', 'bottom.bind', 'bottom.modify', 'bottom.add', 'bottom.modifyDn', 'bottom.passwordModify', 'bottom.search', 'bottom.namingContexts', 'bottom.close']);
  });
});
