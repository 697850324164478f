import { describe, expect, it } from 'vitest';
import type { SearchStream } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { arrayStream, HookedSearch } from '../../src/core/search-stream.js';

const entry = (cn: string) => new Entry(Dn.parse(`cn=${cn},dc=t`), [{ name: 'cn', values: [cn] }]);
const names = async (stream: SearchStream) => {
  const out: string[] = [];
  for await (const e of stream) out.push(String(e.get('cn')!.values[0]));
  return out;
};
/** A source that counts its pulls and fails after `n` entries when told to. */
function source(cns: string[], failWith?: Error) {
  const state = { pulls: 0, returned: 0 };
  const stream: SearchStream = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        const i = state.pulls++;
        if (i < cns.length) return Promise.resolve({ done: false, value: entry(cns[i]) });
        return failWith ? Promise.reject(failWith) : Promise.resolve({ done: true, value: undefined });
      },
      return: () => {
        state.returned++;
        return Promise.resolve({ done: true, value: undefined });
      },
    }),
  };
  return { stream, state };
}

describe('stage hooks over a search', () => {
  it('applies each stage hook in order, innermost first, in one pull of the source per entry', async () => {
    const { stream, state } = source(['a', 'b', 'c']);
    const inner = HookedSearch.of(stream, { entry: (e) => new Entry(e.dn, [{ name: 'cn', values: [`${String(e.get('cn')!.values[0])}1`] }]) });
    const outer = HookedSearch.of(inner, { entry: (e) => new Entry(e.dn, [{ name: 'cn', values: [`${String(e.get('cn')!.values[0])}2`] }]) });
    expect(await names(outer)).toEqual(['a12', 'b12', 'c12']);
    expect(state.pulls).toBe(4); // three entries and the end: no pull per stage
  });

  it('leaves out what a hook drops, and the next hooks never see it', async () => {
    const seen: string[] = [];
    const stream = HookedSearch.of(
      HookedSearch.of(arrayStream(['a', 'b', 'c', 'd'].map(entry)), { entry: (e) => (['b', 'c'].includes(String(e.get('cn')!.values[0])) ? undefined : e) }),
      { entry: (e) => (seen.push(String(e.get('cn')!.values[0])), e) },
    );
    expect(await names(stream)).toEqual(['a', 'd']);
    expect(seen).toEqual(['a', 'd']);
  });

  it('reports a failure through the error hooks of the stages above where it happened, and closes the source', async () => {
    const { stream, state } = source(['a'], new LdapError(ResultCode.unavailable, 'down at dc=forest'));
    const hooked = HookedSearch.of(HookedSearch.of(stream, { error: (err) => new LdapError((err as LdapError).code, `${(err as Error).message} (inner)`) }), {
      error: (err) => new LdapError((err as LdapError).code, `${(err as Error).message} (outer)`),
    });
    await expect(names(hooked)).rejects.toThrow('down at dc=forest (inner) (outer)');
    expect(state.returned).toBe(1);

    // A hook's own failure goes only through the hooks above it.
    const thrower = HookedSearch.of(
      HookedSearch.of(arrayStream([entry('a')]), {
        entry: () => {
          throw new LdapError(ResultCode.other, 'hook');
        },
        error: (err) => new LdapError(ResultCode.other, `${(err as Error).message} (own)`),
      }),
      { error: (err) => new LdapError(ResultCode.other, `${(err as Error).message} (above)`) },
    );
    await expect(names(thrower)).rejects.toThrow(/^hook \(above\)$/);
  });

  it('lets a stage end a complete search with an error (done), and tells each stage once when the stream opens and ends', async () => {
    const events: string[] = [];
    const hooked = HookedSearch.of(arrayStream([entry('a')]), {
      opened: () => events.push('opened'),
      closed: () => events.push('closed'),
      done: () => {
        throw new LdapError(ResultCode.unavailable, 'the guard says no');
      },
    });
    await expect(names(hooked)).rejects.toThrow('the guard says no');
    expect(events).toEqual(['opened', 'closed']);
  });

  it('closes the source and every stage once when the consumer stops early', async () => {
    const { stream, state } = source(['a', 'b', 'c']);
    let closed = 0;
    const hooked = HookedSearch.of(stream, { closed: () => closed++ });
    for await (const e of hooked) {
      expect(e.dn.text).toBe('cn=a,dc=t');
      break;
    }
    expect(state.returned).toBe(1);
    expect(closed).toBe(1);
  });

  it('turns a stage whose search throws at once into a stream that fails when pulled', async () => {
    const hooked = HookedSearch.over(() => {
      throw new LdapError(ResultCode.noSuchObject, 'not here');
    }, {});
    await expect(names(hooked)).rejects.toThrow('not here');
  });
});
