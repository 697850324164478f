// Preloaded into `canopy serve` by a test (NODE_OPTIONS=--import): SIGWINCH, which a server ignores,
// makes the process throw an exception nothing catches, as a bug would. With workers, only a worker
// does (the primary must live to replace it); CANOPY_TEST_FAULT=process puts it in a one-process serve.
import cluster from 'node:cluster';
import process from 'node:process';
import { setImmediate } from 'node:timers';

if (cluster.isWorker || process.env.CANOPY_TEST_FAULT === 'process') {
  process.on('SIGWINCH', () => {
    setImmediate(() => {
      throw new Error('fault injected by the test (SIGWINCH)');
    });
  });
}
