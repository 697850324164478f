// Preloaded into `canopy serve` by a test (NODE_OPTIONS=--import): SIGWINCH, which a server ignores,
// makes a worker process throw an exception nothing catches, as a bug would.
import cluster from 'node:cluster';
import process from 'node:process';
import { setImmediate } from 'node:timers';

if (cluster.isWorker) {
  process.on('SIGWINCH', () => {
    setImmediate(() => {
      throw new Error('fault injected by the test (SIGWINCH)');
    });
  });
}
