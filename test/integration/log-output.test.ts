import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/server.js';

// Standard output that nobody reads must not keep a Canopy process from ending: a worker whose
// primary was killed, or any process at exit. The logger of dist/ in a real child process.

const writer = join(repoRoot, 'test/support/log-writer.mjs');

/** The log writer with its standard output a pipe (and its standard input, which may tell it to exit). */
function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [writer, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
}

/** Its exit code, or 'hung' (then killed) when it has not exited within `limitMs`. */
function exited(child: ChildProcess, limitMs: number): Promise<number | null | 'hung'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('hung');
    }, limitMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('log output nobody reads', () => {
  it('a process whose output pipe loses its reader (EPIPE) just before it exits, lines pending, exits', async () => {
    const child = start(['on-stdin-end']);
    // As when the primary is killed and its pipe goes with it: the worker exits at once, lines still batched.
    child.stdout!.destroy();
    await once(child.stdout!, 'close');
    child.stdin!.end();
    expect(await exited(child, 5_000)).toBe(0);
  });

  it('a process whose output pipe has had no reader for a while exits, its lines dropped', async () => {
    const child = start(['fill']);
    child.stdout!.destroy();
    expect(await exited(child, 5_000)).toBe(0);
  });

  it('a process whose (non-blocking) output pipe is full and not read exits after 2 s of retries', async () => {
    const started = performance.now();
    const child = start(['fill', 'nonblocking']);
    child.stdout!.pause();
    expect(await exited(child, 8_000)).toBe(0);
    expect(performance.now() - started).toBeGreaterThan(2_000);
  });
});
