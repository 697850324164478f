// What the benchmarks share: number flags, generated forests, Canopy in its own process, pinning
// servers to one core, the pipelined search load and the result tables. Needs a build (dist/).
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import ldapMessages from '@ldapjs/messages';
import { ResultCode, resultName } from '../dist/core/result-codes.js';
import { BerReader } from '../dist/protocol/ber-reader.js';
import { MessageFramer } from '../dist/protocol/framing.js';
import { Op } from '../dist/protocol/tags.js';
import { formatTable } from '../dist/tools/text-table.js';

const { SearchRequest } = ldapMessages;
const root = resolve(import.meta.dirname, '..');

/** The value of a `--name` number flag: a positive integer, or with `fractions` any positive number; else exits. */
export function numberFlag(name: string, text: string, fractions = false): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n) || (!fractions && !Number.isInteger(n))) {
    console.error(`--${name} must be a positive ${fractions ? 'number' : 'integer'}, not "${text}"`);
    process.exit(2);
  }
  return n;
}

/** Writes an AD-like forest of `users` people under `suffix` to the LDIF `file`; the same seed gives the same forest. */
export function writeForest(file: string, forest: { users: number; suffix: string; seed: number }): void {
  const args = ['--users', String(forest.users), '--suffix', forest.suffix, '--seed', String(forest.seed), '--out', file];
  execFileSync(process.execPath, [join(root, 'dist/tools/generate-fixtures.js'), ...args]);
}

export interface Canopy {
  /** The LDAP URL it listens on, and its port. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Writes `configFile`, `settings` (YAML) after what every benchmark's Canopy shares: a free
 * loopback port, logging at info as in production, and no HTTP listener (its fixed default port
 * would clash with other servers). Then starts `canopy serve` (dist/cli.js) on it in a process
 * of its own, `nodeFlags` given to its Node, and resolves once it logs "canopy listening". Its
 * log (a line per operation) is then drained unread: test/support's spawnCanopy keeps every line.
 */
export function startCanopy(configFile: string, settings: string, nodeFlags: readonly string[] = []): Promise<Canopy> {
  writeFileSync(configFile, `listen: { ldap: "ldap://127.0.0.1:0" }\nlogging: { level: info }\nhttp: { enabled: false }\n${settings}`);
  const child = spawn(process.execPath, [...nodeFlags, join(root, 'dist/cli.js'), 'serve', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((done, fail) => {
    child.once('exit', (code) => fail(new Error(`canopy (${configFile}) exited with ${code} before listening`)));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.includes('canopy listening')) return;
      lines.close();
      child.stdout!.resume();
      const url = (JSON.parse(line) as { urls: string[] }).urls[0];
      const stop = () => (child.exitCode === null && child.kill('SIGTERM') ? exited : Promise.resolve());
      done({ url, port: Number(new URL(url).port), pid: child.pid!, stop });
    });
  });
}

/** Pins a process, all its threads, to core 0 when taskset exists, so figures compare across machines; false if not pinned. */
export function pin(pid: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-pc', '0', String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Where a load goes and how hard. */
export interface Load {
  readonly port: number;
  /** Base of the subtree searches, and the attributes they ask for. */
  readonly base: string;
  readonly attributes: readonly string[];
  readonly seconds: number;
  readonly connections: number;
  /** Requests in flight on each connection. */
  readonly depth: number;
}

/** The command-line options of a load, for parseArgs; `loadFlags` reads their values. */
export const LOAD_OPTIONS = {
  seconds: { type: 'string', default: '5' },
  connections: { type: 'string', default: '4' },
  depth: { type: 'string', default: '16' },
} as const;

export function loadFlags(values: { seconds: string; connections: string; depth: string }): Pick<Load, 'seconds' | 'connections' | 'depth'> {
  return {
    seconds: numberFlag('seconds', values.seconds, true),
    connections: numberFlag('connections', values.connections),
    depth: numberFlag('depth', values.depth),
  };
}

export interface Figures {
  readonly name: string;
  /** Searches per second, and latency percentiles in milliseconds. */
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * Sends searches with the filter `filter(i)` for the i-th request, `depth` deep on each
 * connection, for `seconds`. Every search must end in success, or the run fails.
 */
export async function measure(name: string, load: Load, filter: (i: number) => string): Promise<Figures> {
  const latencies: number[] = [];
  const deadline = performance.now() + load.seconds * 1000;
  let seq = 0;
  const connection = () =>
    new Promise<void>((done, fail) => {
      const socket = net.connect(load.port, '127.0.0.1');
      const framer = new MessageFramer(1 << 24);
      const sent = new Map<number, number>();
      let id = 0;
      const send = () => {
        id = (id % 0x7fffffff) + 1;
        const request = new SearchRequest({ messageId: id, baseObject: load.base, scope: 'subtree', filter: filter(seq++), attributes: load.attributes });
        sent.set(id, performance.now());
        socket.write(request.toBer().buffer);
      };
      const searchDone = (messageId: number, code: number) => {
        if (code !== ResultCode.success) {
          socket.destroy(new Error(`${name}: a search ended with ${resultName(code)} (${code})`));
          return;
        }
        latencies.push(performance.now() - sent.get(messageId)!);
        sent.delete(messageId);
        if (performance.now() < deadline) send();
        else if (sent.size === 0) socket.end(done);
      };
      socket.on('connect', () => {
        for (let k = 0; k < load.depth; k++) send();
      });
      socket.on('error', fail);
      socket.on('close', () => fail(new Error(`${name}: the server closed a connection during the run`)));
      socket.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        try {
          for (let m = framer.next(); m && !socket.destroyed; m = framer.next()) {
            const message = new BerReader(m).child(0x30);
            const messageId = message.int();
            // Entries are skipped: a search's latency ends with its SearchResultDone.
            if (message.peek() === Op.searchResultDone) searchDone(messageId, message.child(Op.searchResultDone).enumerated());
          }
        } catch (error) {
          socket.destroy(error as Error); // a malformed response
        }
      });
    });
  await Promise.all(Array.from({ length: load.connections }, connection));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { name, rate: latencies.length / load.seconds, p50: at(0.5), p99: at(0.99) };
}

/** Prints the header row and the rows aligned, figures (every column but the first) to the right. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  process.stdout.write(formatTable([header, ...rows], 1));
}

/** Prints figures as a table, each run's rate also as a multiple of the first run's. */
export function printFigures(what: string, results: readonly Figures[], versus: string): void {
  const [first] = results;
  printTable(
    [what, 'req/s', 'p50 ms', 'p99 ms', versus],
    results.map((r) => [r.name, r.rate.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), `${Number((r.rate / first.rate).toPrecision(3))}×`]),
  );
}
