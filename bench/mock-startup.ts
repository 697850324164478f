// Start-up time and memory of `canopy mock` over generated AD-like forests: for each size, the
// LDIF written to a file and served by `canopy mock FILE` in a process of its own (the command
// itself, with its Node flags), measured from spawning it to its banner (Node's start, reading and
// parsing the file, loading, memberOf back links, the administrator's scrypt hash), the processor
// time it used by then (all its threads: on a machine shared with other work the elapsed time
// grows with the others' load, this much less), its RSS once serving, once settled (V8's memory
// reducer compacts the heap of an idle process 10–15 s after the load: the lowest RSS of the
// 20 s after the banner) and at its peak while loading (VmHWM). Each size is started `--runs`
// times (3 by default): the start-up time, the processor time and the RSS are the runs' medians,
// the others their last run's (on a shared virtual machine one start in several may take a
// third longer than the others).
// Run after a build: node bench/mock-startup.ts [--sizes 1000,20000,100000] [--runs 3]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMs, median, numberFlag, printTable, startMock, statusKiB, writeForest } from './load.ts';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000,20000,100000' }, runs: { type: 'string', default: '3' } } });
const sizes = values.sizes.split(',').map((size) => numberFlag('sizes', size));
const runs = numberFlag('runs', values.runs);
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** The lowest RSS of an idle process over the 20 s after its banner, read every second. */
async function settledRss(pid: number): Promise<number> {
  let lowest = statusKiB(pid, 'VmRSS');
  for (let second = 1; second <= SETTLE_SECONDS; second++) {
    await new Promise((done) => setTimeout(done, 1000));
    lowest = Math.min(lowest, statusKiB(pid, 'VmRSS'));
  }
  return lowest * 1024;
}
const SETTLE_SECONDS = 20;

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-mock-startup-'));
try {
  const rows: string[][] = [];
  for (const users of sizes) {
    const file = join(dir, `forest-${users}.ldif`);
    writeForest(file, { users, suffix: 'DC=bench,DC=test', seed: 1 });
    const starts: number[] = [];
    const cpus: number[] = [];
    const rsses: number[] = [];
    let entries = 0;
    let peak = 0;
    let settled = 0;
    for (let run = 1; run <= runs; run++) {
      const mock = await startMock(file, 'cn=admin', 'bench');
      rsses.push(statusKiB(mock.pid, 'VmRSS') * 1024);
      peak = statusKiB(mock.pid, 'VmHWM') * 1024;
      cpus.push(cpuMs(mock.pid) / 1000);
      starts.push(mock.startMs / 1000);
      entries = mock.entries;
      // The last run waits for the settled RSS: the others would only repeat it.
      if (run === runs) settled = await settledRss(mock.pid);
      await mock.stop();
      process.stderr.write(`${users} people, run ${run}: ${starts.at(-1)!.toFixed(2)} s, CPU ${cpus.at(-1)!.toFixed(2)} s\n`);
    }
    rows.push([String(users), String(entries), mib(statSync(file).size), `${median(starts).toFixed(1)} (${starts.map((s) => s.toFixed(1)).join(', ')})`, median(cpus).toFixed(1), mib(median(rsses)), mib(settled), mib(peak)]);
  }
  printTable(['people', 'entries', 'LDIF MiB', 'start-up s', 'CPU s', 'RSS MiB', 'settled MiB', 'peak MiB'], rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
