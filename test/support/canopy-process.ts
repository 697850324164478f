import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';

export interface CanopyProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly logLines: string[];
  stop(): Promise<number | null>;
}

/**
 * Starts `canopy serve` as a separate process (command and args given) and resolves with the URL
 * it printed in its "canopy listening" log line; rejects with its output if it exits first.
 */
export function spawnCanopy(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; startMs?: number } = {}) {
  return new Promise<CanopyProcess>((resolve, reject) => {
    // The default configuration's HTTP port is fixed (9389): tests running side by side take any free one.
    const env = { CANOPY_HTTP_PORT: '0', ...process.env, ...options.env };
    const child = spawn(command, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const logLines: string[] = [];
    let stderr = '';
    const startMs = options.startMs ?? 20_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`canopy did not start within ${startMs / 1000} s:\n${logLines.join('\n')}\n${stderr}`));
    }, startMs);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      logLines.push(line);
      if (!line.includes('canopy listening')) return;
      clearTimeout(timer);
      const { urls } = JSON.parse(line) as { urls: string[] };
      resolve({
        url: urls[0],
        child,
        logLines,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode); // already ended (a test killed it)
            child.once('exit', (code) => done(code));
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`canopy exited with ${code} before listening:\n${logLines.join('\n')}\n${stderr}`));
    });
  });
}

/** The process's JSON log lines from line `from` on. */
export function logRecords(p: CanopyProcess, from = 0): Record<string, unknown>[] {
  return p.logLines.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits until `count` lines with `message` have been logged since line `from` (lines come out in batches), and returns them. */
export async function logged(p: CanopyProcess, message: string, from: number, count = 1): Promise<Record<string, unknown>[]> {
  let found: Record<string, unknown>[] = [];
  await expect.poll(() => (found = logRecords(p, from).filter((l) => l.msg === message)).length >= count, { timeout: 15_000 }).toBe(true);
  return found;
}
