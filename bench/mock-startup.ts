// Start-up time and memory of the mock directory (startMockDirectory) over generated AD-like forests.
// Run after a build: node --expose-gc bench/mock-startup.ts [--sizes 1000,20000,100000]
// Start-up is measured from LDIF text in memory to a listening server (parsing, loading, memberOf
// back links, the administrator's scrypt hash); memory is the heap the loaded directory holds.
import { parseArgs } from 'node:util';
import { generateForest, startMockDirectory } from '../dist/index.js';
import { numberFlag, printTable } from './load.ts';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000,20000,100000' } } });
const sizes = values.sizes.split(',').map((size) => numberFlag('sizes', size));
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.log('(run with node --expose-gc for exact memory figures)');

const heap = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed;
};
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

const rows: string[][] = [];
for (const users of sizes) {
  const ldif = generateForest({ suffix: 'DC=bench,DC=test', users, seed: 1 });
  const before = heap();
  const started = performance.now();
  const dir = await startMockDirectory({ ldif, adminPassword: 'bench' });
  const ms = performance.now() - started;
  const held = heap() - before;
  rows.push([String(users), String(dir.loaded), ms.toFixed(0), mib(held), mib(Buffer.byteLength(ldif))]);
  await dir.close();
}
printTable(['people', 'entries', 'start-up ms', 'heap MiB', 'LDIF MiB'], rows);
