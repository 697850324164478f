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
