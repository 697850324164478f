import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One full garbage collection, run by the `serve` and `mock` commands once memory forests have
 * loaded and start-up has let go of the LDIF. Parsing it leaves tens of MiB of garbage per 20,000
 * entries, and an idle mock allocates too little for V8 to collect it on its own: it would stay in
 * the process's RSS for good. (Not in startMockDirectory: a test process pays for its own heap.)
 * Node exposes `gc` only under --expose-gc, which can be turned on at run time for a new context.
 */
export function releaseLoadGarbage(): void {
  setFlagsFromString('--expose-gc');
  // 'last-resort': V8's memory-reducing collection, which also gives the freed pages back.
  (runInNewContext('gc') as (options: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/**
 * Runs a load of memory forests with V8's own heap growth. `canopy` starts Node with a small
 * --heap-growing-percent, so that a serving process's heap stays close to its live data; while a
 * large forest loads (hundreds of MiB, nearly all of it live) that setting has V8 mark the whole
 * heap again at every few per cent of growth, a fifth of a 100,000-entry load. The configured
 * setting is back once the load ends; `releaseLoadGarbage` then collects what it left.
 */
export async function withLoadHeapGrowth<T>(load: () => Promise<T>): Promise<T> {
  const configured = process.execArgv.find((a) => a.startsWith('--heap-growing-percent='));
  if (configured === undefined) return load();
  setFlagsFromString('--heap-growing-percent=0'); // 0: V8 chooses, as without the flag
  try {
    return await load();
  } finally {
    setFlagsFromString(configured);
  }
}
