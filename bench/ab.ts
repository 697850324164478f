// Two builds of Canopy side by side over the same two slapd forests, the load alternating between
// them in short slices, each server pinned with the forests to core 0: their CPU per operation is
// compared where the machine's drift (a third, over minutes, on this project's VM) hits both alike.
// For measuring a change before and after; bench/compare.ts measures Canopy against slapd's proxies.
// Run: node bench/ab.ts --base DIR [--workload lookup|rebind] [--slices 20] [--seconds 2] [--users 20000]
// DIR holds another checkout, built: git worktree add /tmp/base HEAD~1 && ln -s "$PWD/node_modules" /tmp/base/ && (cd /tmp/base && npm run build)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median, numberFlag, onCpuMs, pin, startCanopy, type Canopy } from './load.ts';
import { canopySettings, runWorkload, startTwoForests } from './two-forests.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    workload: { type: 'string', default: 'lookup' },
    slices: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '2' },
    users: { type: 'string', default: '20000' },
  },
});
const baseCli = values.base === undefined ? undefined : join(resolve(values.base), 'dist/cli.js');
if (!baseCli || !existsSync(baseCli)) {
  console.error(`--base: give a directory holding another checkout of Canopy, built (${baseCli ?? 'none given'} does not exist)`);
  process.exit(2);
}
const workload = values.workload;
if (workload !== 'lookup' && workload !== 'rebind') {
  console.error(`--workload: "${workload}" is neither lookup nor rebind`);
  process.exit(2);
}
const slices = numberFlag('slices', values.slices);
const seconds = numberFlag('seconds', values.seconds, true);
const users = numberFlag('users', values.users);

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-ab-'));
const stops: (() => Promise<void>)[] = [];
try {
  const forests = await startTwoForests(dir, users, stops);
  const { slapds } = forests;
  const settings = canopySettings(slapds);
  const builds: { readonly name: string; readonly canopy: Canopy }[] = [
    { name: `A ${values.base}`, canopy: await startCanopy(join(dir, 'a.yaml'), settings, true, baseCli) },
    { name: 'B this checkout', canopy: await startCanopy(join(dir, 'b.yaml'), settings) },
  ];
  for (const b of builds) stops.push(() => b.canopy.stop());
  for (const pid of [...slapds.map((s) => s.pid!), ...builds.map((b) => b.canopy.pid)]) pin(pid, 0);
  pin(process.pid, 1);

  const run = (port: number, span: number) => runWorkload(workload === 'rebind' ? 'rebind' : 'uncached-lookup', forests, port, span);
  for (const b of builds) await run(b.canopy.port, 5); // warm: V8 compiles the hot path in the first seconds

  const forestsMs = () => slapds.reduce((sum, s) => sum + onCpuMs(s.pid!), 0);
  const totals = builds.map(() => ({ operations: 0, ownMs: 0, forestsMs: 0 }));
  const ratios: number[] = [];
  for (let slice = 0; slice < slices; slice++) {
    const own: number[] = [];
    // Each goes first in every other slice: neither always runs right after the other.
    for (const i of slice % 2 === 0 ? [0, 1] : [1, 0]) {
      const { pid, port } = builds[i].canopy;
      const [ownBefore, forestsBefore] = [onCpuMs(pid), forestsMs()];
      const figures = await run(port, seconds);
      const operations = figures.rate * seconds;
      own[i] = (onCpuMs(pid) - ownBefore) / operations;
      totals[i].operations += operations;
      totals[i].ownMs += onCpuMs(pid) - ownBefore;
      totals[i].forestsMs += forestsMs() - forestsBefore;
    }
    ratios.push(own[1] / own[0]);
  }
  const us = (ms: number, operations: number) => ((ms * 1000) / operations).toFixed(1);
  console.log(`${workload}: ${slices} slices of ${seconds} s each, alternating; CPU per operation, µs (on CPU, every thread)`);
  for (const [i, b] of builds.entries()) {
    const t = totals[i];
    console.log(`${b.name}: ${(t.operations / slices / seconds).toFixed(0)}/s, own ${us(t.ownMs, t.operations)}, forests ${us(t.forestsMs, t.operations)}`);
  }
  const [a, b] = totals;
  console.log(`B ÷ A, own CPU per operation: ${(b.ownMs / b.operations / (a.ownMs / a.operations)).toFixed(3)} over all slices, ${median(ratios).toFixed(3)} the median slice`);
  console.log(`slices, sorted: ${[...ratios].sort((x, y) => x - y).map((r) => r.toFixed(2)).join(' ')}`);
} finally {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
}
