// A process that logs through Canopy's logger (dist/) to standard output, as `canopy serve` does,
// then exits: after 300 ms, or with `on-stdin-end` at once when its standard input ends.
// `fill` first writes more than a pipe holds; `nonblocking` has Node open standard output as a
// stream, which makes a pipe non-blocking (as the welcome text of `canopy serve` does).
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { URL } from 'node:url';

const { createLogger } = await import(new URL('../../dist/observability/logger.js', import.meta.url).href);
const logger = createLogger('info');
if (process.argv.includes('nonblocking')) void process.stdout;
if (process.argv.includes('fill')) for (let i = 0; i < 3000; i++) logger.info({ i, pad: 'x'.repeat(100) }, 'filling the pipe');
const exit = () => {
  logger.info('a line still waiting in its batch at exit');
  process.exit(0);
};
if (process.argv.includes('on-stdin-end')) {
  process.stdin.on('end', exit).resume();
} else {
  setTimeout(exit, 300);
}
