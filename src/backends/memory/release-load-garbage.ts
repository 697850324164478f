import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One full garbage collection, run by the `serve` and `mock` commands once memory forests have
 * loaded and start-up has let go of the LDIF. Parsing it leaves tens of MiB of garbage per 20,000
 * entries, and an idle mock allocates too little for V8 to collect it soon on its own: the RSS
 * would hold it until V8's memory reducer ran, 10–15 s later. (Not in startMockDirectory: a test
 * process pays for its own heap.) Node exposes `gc` only under --expose-gc, which can be turned on
 * at run time for a new context.
 *
 * A regular collection, not the memory-reducing 'last-resort' one: that marks the whole heap
 * twice (0.5 s at 100,000 entries, against 0.2 s), and the compaction it adds (a sixth of the RSS)
 * V8's memory reducer does anyway once the process idles, in steps of a few milliseconds
 * (bench/mock-startup.ts reports the RSS at the banner and once settled).
 */
export function releaseLoadGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as (options: object) => void)({ type: 'major', execution: 'sync' });
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
