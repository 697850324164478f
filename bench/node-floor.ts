// Canopy against the least a Node proxy does (bench/node-relay.ts) over the same two slapd forests,
// in the same run, alternating: binds on kept connections and uncached lookups, with each server's
// user and system CPU and system calls per operation. What Canopy spends above the relay is its own
// work (access rules, DN handling, logging, metrics, its connection layer), not the machine's
// system calls. See bench/README.md.
// Run: node bench/node-floor.ts [--users 5000] [--seconds 5] [--warmup 10] [--rounds 2]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { numberFlag, pin, printTable, startCanopy, type Figures } from './load.ts';
import { canopySettings, FORESTS, runWorkload, startTwoForests, type TwoForestWorkload } from './two-forests.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
  },
});
const users = numberFlag('users', values.users);
const seconds = numberFlag('seconds', values.seconds, true);
const warmup = numberFlag('warmup', values.warmup, true);
const rounds = numberFlag('rounds', values.rounds);

/** User and system CPU (ms) and system calls so far: /proc/PID/stat and /proc/PID/io. */
function usage(pid: number): { user: number; system: number; calls: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const count = (name: string) => Number(new RegExp(`${name}: (\\d+)`).exec(io)?.[1] ?? 0);
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10, calls: count('syscr') + count('syscw') };
}

const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-floor-'));
const stops: (() => Promise<void>)[] = [];
try {
  const forests = await startTwoForests(dir, users, stops);
  const { slapds } = forests;

  const relayPort = 20_000 + Math.floor(Math.random() * 20_000);
  const relay = spawn(process.execPath, [join(import.meta.dirname, 'node-relay.ts'), String(relayPort), ...FORESTS.map((f, i) => `${f.mount}|${f.base}|${slapds[i].port}`)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  stops.push(async () => void relay.kill());
  await new Promise<void>((done, failed) => {
    relay.once('exit', (code) => failed(new Error(`node-relay exited with ${code}`)));
    createInterface({ input: relay.stdout! }).on('line', (line) => line.includes('listening') && done());
  });
  const canopy = await startCanopy(join(dir, 'canopy.yaml'), canopySettings(slapds));
  stops.push(() => canopy.stop());
  // As compare.ts's shared layout: the servers and the forests on core 0, the load generator on core 1.
  const pinned = [...slapds.map((s) => s.pid!), relay.pid!, canopy.pid].every((pid) => pin(pid, 0)) && pin(process.pid, 1);

  const workloads: readonly TwoForestWorkload[] = ['rebind', 'uncached-lookup'];
  const servers = [
    { name: 'Node relay', pid: relay.pid!, port: relayPort },
    { name: 'Canopy', pid: canopy.pid, port: canopy.port },
  ];
  const rows: string[][] = [];
  for (const workload of workloads) {
    const run = (port: number, span: number) => runWorkload(workload, forests, port, span);
    for (let round = 1; round <= rounds; round++) {
      for (const server of servers) {
        if (warmup > 0) await run(server.port, warmup);
        const before = usage(server.pid);
        const forestsBefore = slapds.map((s) => usage(s.pid!));
        const figures: Figures = await run(server.port, seconds);
        const after = usage(server.pid);
        const operations = figures.rate * seconds;
        const us = (ms: number) => ((ms * 1000) / operations).toFixed(1);
        const forestMs = slapds.reduce((n, s, i) => n + usage(s.pid!).user + usage(s.pid!).system - forestsBefore[i].user - forestsBefore[i].system, 0);
        rows.push([workload, String(round), server.name, Math.round(figures.rate).toLocaleString('en-US'), us(after.user - before.user), us(after.system - before.system), ((after.calls - before.calls) / operations).toFixed(2), us(forestMs)]);
        process.stderr.write(`${workload} round ${round}: ${server.name} ${figures.rate.toFixed(0)}/s\n`);
      }
    }
  }
  console.log(`\n2 forests × ${users} users; ${seconds} s per run after ${warmup} s of the same untimed; ${pinned ? 'servers and forests on core 0, load generator on core 1' : 'NOT pinned (no taskset)'}; Canopy: bindResolution native, cache off, access log on\n`);
  printTable(['workload', 'round', 'server', 'ops/s', 'user µs/op', 'system µs/op', 'reads+writes/op', "forests' µs/op"], rows);
} finally {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
}
