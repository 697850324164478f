import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enablePrivateCompileCache } from '../../src/lifecycle/compile-cache.js';

const folders: string[] = [];
const temp = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-compile-cache-'));
  folders.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** What the cache was turned on with, if it was. */
function attempt(env: NodeJS.ProcessEnv): { used?: string; enabled: string[] } {
  const enabled: string[] = [];
  const used = enablePrivateCompileCache(env, (dir) => enabled.push(dir));
  return { used, enabled };
}

describe('enablePrivateCompileCache', () => {
  it('keeps the cache in a folder of its own account, made private', () => {
    const home = temp();
    const { used, enabled } = attempt({ XDG_CACHE_HOME: home });
    const expected = join(home, 'canopy', 'node-compile-cache');
    expect(used).toBe(expected);
    expect(enabled).toEqual([expected]);
    expect(statSync(expected).mode & 0o777).toBe(0o700);
    // Again: the folder is there already, still its own.
    expect(attempt({ XDG_CACHE_HOME: home }).enabled).toEqual([expected]);
  });

  it('leaves the cache off where another account could change what it reads', () => {
    const writable = temp();
    mkdirSync(join(writable, 'canopy', 'node-compile-cache'), { recursive: true });
    chmodSync(join(writable, 'canopy', 'node-compile-cache'), 0o777);
    expect(attempt({ XDG_CACHE_HOME: writable })).toEqual({ used: undefined, enabled: [] });

    const parentWritable = temp();
    mkdirSync(join(parentWritable, 'canopy', 'node-compile-cache'), { recursive: true, mode: 0o700 });
    chmodSync(join(parentWritable, 'canopy'), 0o777);
    expect(attempt({ XDG_CACHE_HOME: parentWritable })).toEqual({ used: undefined, enabled: [] });

    // A cache home others may write to, not sticky: they could rename the private folder away.
    const open = temp();
    chmodSync(open, 0o777);
    expect(attempt({ XDG_CACHE_HOME: open })).toEqual({ used: undefined, enabled: [] });
    chmodSync(open, 0o1777); // sticky, as /tmp: what is in it stays its owner's
    expect(attempt({ XDG_CACHE_HOME: open }).used).toBe(join(open, 'canopy', 'node-compile-cache'));

    const linked = temp();
    const elsewhere = temp();
    mkdirSync(join(linked, 'canopy'), { mode: 0o700 });
    symlinkSync(elsewhere, join(linked, 'canopy', 'node-compile-cache'));
    expect(attempt({ XDG_CACHE_HOME: linked })).toEqual({ used: undefined, enabled: [] });
  });

  it('leaves the cache off when it cannot be made, and to Node when its own variables decide', () => {
    const file = join(temp(), 'not-a-folder');
    writeFileSync(file, '');
    expect(attempt({ XDG_CACHE_HOME: file })).toEqual({ used: undefined, enabled: [] });
    const home = temp();
    expect(attempt({ XDG_CACHE_HOME: home, NODE_COMPILE_CACHE: join(home, 'x') })).toEqual({ used: undefined, enabled: [] });
    expect(attempt({ XDG_CACHE_HOME: home, NODE_DISABLE_COMPILE_CACHE: '1' })).toEqual({ used: undefined, enabled: [] });
  });
});
