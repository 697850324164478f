// What the benchmarks share: number flags, generated forests, Canopy in its own process, pinning
// servers to one core, the pipelined search load and the result tables. Needs a build (dist/).
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import ldapMessages from '@ldapjs/messages';
import { ResultCode, resultName } from '../dist/core/result-codes.js';
import { BerReader } from '../dist/protocol/ber-reader.js';
import { berInt, berOctets, berTlv } from '../dist/protocol/ber-writer.js';
import { decodePagedResults } from '../dist/protocol/controls/paged-results.js';
import { encodeEnvelopes, protocolOpStart } from '../dist/protocol/encoder.js';
import { MessageFramer } from '../dist/protocol/framing.js';
import { Op } from '../dist/protocol/tags.js';
import { formatTable } from '../dist/tools/text-table.js';
import { parseLdif } from '../dist/backends/memory/ldif.js';
import { SERVICE_ACCOUNT } from '../dist/tools/fixture-generator.js';

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
  execFileSync(process.execPath, [join(root, 'dist/tools/fixtures-command.js'), ...args]);
}

/** A person of a forest as the LDIF has them. */
export interface Person {
  readonly dn: string;
  readonly sam: string;
  readonly enabled: boolean;
}

/** The people of a generated forest's LDIF (not its service account), and how many entries Cisco's sync filter selects. */
export function readForest(file: string): { people: Person[]; synced: number } {
  const people: Person[] = [];
  let synced = 0;
  for (const { entry } of parseLdif(readFileSync(file, 'utf8'), file)) {
    const classes = (entry.get('objectClass')?.values ?? []).map((v) => String(v).toLowerCase());
    if (!classes.includes('user')) continue;
    const enabled = (Number(entry.get('userAccountControl')?.values[0] ?? 0) & 2) === 0;
    if (enabled && !classes.includes('computer')) synced++;
    const sam = String(entry.get('sAMAccountName')?.values[0]);
    if (classes.includes('person') && !classes.includes('computer') && sam !== SERVICE_ACCOUNT) people.push({ dn: entry.dn.toString(), sam, enabled });
  }
  return { people, synced };
}

export interface Canopy {
  /** The LDAP URL it listens on, and its port. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** The one generated forest the single-forest benchmarks serve, and its service account. */
export const BENCH_SUFFIX = 'DC=bench,DC=example';
export const BENCH_SERVICE = { dn: `CN=svc-canopy,OU=ServiceAccounts,${BENCH_SUFFIX}`, password: 'Svc-Canopy-Passw0rd!' };

/** Canopy settings serving that forest from `slapdUrl`, readable by every client, after `extra` settings. */
export function benchForestSettings(slapdUrl: string, extra: string): string {
  return `${extra}
forests:
  - name: bench
    backend: ldap
    base: "${BENCH_SUFFIX}"
    servers: ["${slapdUrl}"]
    bind: { dn: "${BENCH_SERVICE.dn}", password: "${BENCH_SERVICE.password}" }
access:
  - { who: "*", what: { dn: "", scope: subtree }, allow: read }
`;
}

/**
 * Writes `configFile`, `settings` (YAML) after what every benchmark's Canopy shares: a free
 * loopback port, logging at info as in production, and no HTTP listener (its fixed default port
 * would clash with other servers). Then starts `canopy serve` (`cli`: this checkout's dist/cli.js unless given, run as the command
 * itself so its Node flags apply) in a process of its own, and resolves once it logs "canopy listening". Its
 * log (a line per operation) is then drained unread: test/support's spawnCanopy keeps every line.
 */
export function startCanopy(configFile: string, settings: string, accessLog = true, cli = join(root, 'dist/cli.js')): Promise<Canopy> {
  writeFileSync(configFile, `listen: { ldap: "ldap://127.0.0.1:0" }\nlogging: { level: info, accessLog: ${accessLog} }\nhttp: { enabled: false }\n${settings}`);
  const child = spawn(cli, ['serve', '--config', configFile], {
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

/** `canopy mock` in a process of its own, once it listens: how long that took, and how many entries it loaded. */
export interface Mock extends Canopy {
  readonly entries: number;
  readonly startMs: number;
}

/**
 * Starts `canopy mock FILE` (dist/cli.js run as the command itself, so its Node flags apply) on a
 * free port with the administrator `adminDn`/`password`, and resolves once it prints its banner.
 */
export function startMock(file: string, adminDn: string, password: string): Promise<Mock> {
  const started = performance.now();
  const child = spawn(join(root, 'dist/cli.js'), ['mock', file, '-p', '0', '--admin-dn', adminDn, '--admin-password', password], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((done, fail) => {
    child.once('exit', (code) => fail(new Error(`canopy mock ${file} exited with ${code} before listening`)));
    let banner = '';
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      banner += `${line}\n`;
      if (!line.trim().startsWith('password:')) return;
      const startMs = performance.now() - started;
      lines.close();
      child.stdout!.resume();
      const url = /listening on (ldap:\/\/\S+)/.exec(banner)![1];
      const entries = Number(/entries:\s+(\d+)/.exec(banner)![1]);
      const stop = () => (child.exitCode === null && child.kill('SIGTERM') ? exited : Promise.resolve());
      done({ url, port: Number(new URL(url).port), pid: child.pid!, entries, startMs, stop });
    });
  });
}

/** Pins a process, all its threads, to `core` (0 by default) when taskset exists, so figures compare across machines; false if not pinned. */
export function pin(pid: number, core = 0): boolean {
  try {
    execFileSync('taskset', ['-a', '-pc', String(core), String(pid)], { stdio: 'ignore' });
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
  /** Requests per second, and latency percentiles in milliseconds. */
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
}

/** A SearchRequest's protocolOp (subtree scope), encoded once and sent again under new message IDs. */
export function searchOp(base: string, filter: string, attributes: readonly string[]): Buffer {
  const message = Buffer.from(new SearchRequest({ messageId: 1, baseObject: base, scope: 'subtree', filter, attributes }).toBer().buffer);
  return message.subarray(protocolOpStart(message));
}

/** A simple BindRequest's protocolOp (LDAPv3). */
export function bindOp(dn: string, password: string): Buffer {
  return berTlv(Op.bindRequest, berInt(3), berOctets(dn), berOctets(password, 0x80));
}

/** What one connection of a pipelined load sends. */
export interface Session {
  readonly port: number;
  /** Requests sent one at a time before the load starts, e.g. the bind its searches run as. */
  readonly setup?: readonly Buffer[];
  /** The protocolOp of the connection's n-th request. */
  next(n: number): Buffer;
}

/** A server silent this long on a connection with requests outstanding fails the run instead of hanging it. */
const SILENCE_MS = 60_000;

/** Responses that end a request; entries and references before a SearchResultDone are skipped. */
const FINAL = new Set<number>([Op.bindResponse, Op.searchResultDone, Op.extendedResponse]);

/** Latencies (ms) as figures for a run of `seconds`. */
function figures(name: string, latencies: number[], seconds: number): Figures {
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { name, rate: latencies.length / seconds, p50: at(0.5), p99: at(0.99) };
}

/**
 * Runs `connections` connections, connection c sending what `session(c)` gives, `depth` requests
 * in flight on each (1 for binds: RFC 4511 §4.2.1 forbids sending more while one is pending), for
 * `seconds` or until `requests` requests in all were answered. Every request must end in success,
 * or the run fails.
 */
export async function pipelined(
  name: string,
  load: { readonly seconds: number; readonly connections: number; readonly depth: number; readonly requests?: number },
  session: (c: number) => Session,
): Promise<Figures> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + load.seconds * 1000;
  const budget = load.requests ?? Infinity;
  let issued = 0;
  const sockets: net.Socket[] = [];
  const connection = (c: number) =>
    new Promise<void>((done, fail) => {
      const { port, setup = [], next } = session(c);
      const socket = net.connect(port, '127.0.0.1');
      sockets.push(socket);
      socket.setNoDelay(true);
      socket.setTimeout(SILENCE_MS, () => socket.destroy(new Error(`${name}: no response for ${SILENCE_MS / 1000} s`)));
      const framer = new MessageFramer(1 << 24);
      const sent = new Map<number, number>();
      let id = 0;
      let n = 0;
      let setupLeft = setup.length;
      const send = (op: Buffer) => {
        id = (id % 0x7fffffff) + 1;
        sent.set(id, performance.now());
        socket.write(encodeEnvelopes(id, op));
      };
      const more = () => performance.now() < deadline && issued < budget;
      const sendNext = () => {
        issued++;
        send(next(n++));
      };
      const answered = (messageId: number, code: number) => {
        if (code !== ResultCode.success) {
          socket.destroy(new Error(`${name}: a request ended with ${resultName(code)} (${code})`));
          return;
        }
        const at = sent.get(messageId)!;
        sent.delete(messageId);
        if (setupLeft > 0) {
          setupLeft--;
          if (setupLeft > 0) send(setup[setup.length - setupLeft]);
          else for (let k = 0; k < load.depth && more(); k++) sendNext();
        } else {
          latencies.push(performance.now() - at);
          if (more()) sendNext();
        }
        if (sent.size === 0 && setupLeft === 0) socket.end(done);
      };
      socket.on('connect', () => {
        if (setup.length > 0) send(setup[0]);
        else for (let k = 0; k < load.depth && more(); k++) sendNext();
      });
      socket.on('error', fail);
      socket.on('close', () => fail(new Error(`${name}: the server closed a connection during the run`)));
      socket.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        try {
          for (let m = framer.next(); m && !socket.destroyed; m = framer.next()) {
            const message = new BerReader(m).child(0x30);
            const messageId = message.int();
            const tag = message.peek();
            if (FINAL.has(tag)) answered(messageId, message.child(tag).enumerated());
          }
        } catch (error) {
          socket.destroy(error as Error); // a malformed response
        }
      });
    });
  await Promise.all(Array.from({ length: load.connections }, (_, c) => connection(c))).catch((error: unknown) => {
    for (const socket of sockets) socket.destroy(); // a failed run stops at once, not loading the next one
    throw error;
  });
  return figures(name, latencies, (performance.now() - started) / 1000);
}

/**
 * Sends searches with the filter `filter(i)` for the i-th request, `depth` deep on each
 * connection, for `seconds`. Every search must end in success, or the run fails.
 */
export function measure(name: string, load: Load, filter: (i: number) => string): Promise<Figures> {
  let seq = 0;
  return pipelined(name, load, () => ({ port: load.port, next: () => searchOp(load.base, filter(seq++), load.attributes) }));
}

/**
 * Logins on fresh connections: `concurrency` loops, each connecting to `port(c)`, sending the
 * bind `bind(i)`, and on its success unbinding and closing, for `seconds`. A login's latency runs
 * from the connect to the BindResponse.
 */
export async function freshBinds(
  name: string,
  load: { readonly seconds: number; readonly concurrency: number },
  port: (c: number) => number,
  bind: (c: number, i: number) => Buffer,
): Promise<Figures> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + load.seconds * 1000;
  const unbind = encodeEnvelopes(2, berTlv(Op.unbindRequest));
  const login = (c: number, i: number) =>
    new Promise<void>((done, fail) => {
      const t0 = performance.now();
      const socket = net.connect(port(c), '127.0.0.1');
      socket.setNoDelay(true);
      socket.setTimeout(SILENCE_MS, () => socket.destroy(new Error(`${name}: no response for ${SILENCE_MS / 1000} s`)));
      const framer = new MessageFramer(1 << 20);
      socket.on('connect', () => socket.write(encodeEnvelopes(1, bind(c, i))));
      socket.on('error', fail);
      socket.on('close', () => fail(new Error(`${name}: the server closed a connection before answering its bind`)));
      socket.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        try {
          const m = framer.next();
          if (!m) return;
          const message = new BerReader(m).child(0x30);
          message.int();
          const code = message.child(Op.bindResponse).enumerated();
          if (code !== ResultCode.success) throw new Error(`${name}: a bind ended with ${resultName(code)} (${code})`);
          latencies.push(performance.now() - t0);
          socket.end(unbind);
          done();
        } catch (error) {
          socket.destroy(error as Error);
        }
      });
    });
  let seq = 0;
  let failed = false;
  const loop = async (c: number) => {
    while (!failed && performance.now() < deadline) await login(c, seq++);
  };
  await Promise.all(Array.from({ length: load.concurrency }, (_, c) => loop(c))).catch((error: unknown) => {
    failed = true;
    throw error;
  });
  return figures(name, latencies, (performance.now() - started) / 1000);
}

const PAGED_RESULTS = '1.2.840.113556.1.4.319';

/**
 * A DirSync-style full read on one connection: binds with `bind`, then pages through the search
 * `search` (a protocolOp) `pageSize` entries at a time until the server's cookie is empty.
 * Entries are counted, not decoded, so this client is not what limits the rate.
 */
export function pagedRead(port: number, bind: Buffer, search: Buffer, pageSize: number): Promise<{ entries: number; pages: number }> {
  return new Promise((done, fail) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.setTimeout(SILENCE_MS, () => socket.destroy(new Error(`paged read: no response for ${SILENCE_MS / 1000} s`)));
    const framer = new MessageFramer(1 << 26);
    let id = 1;
    let entries = 0;
    let pages = 0;
    const page = (cookie: Buffer) => {
      const value = berTlv(0x30, berInt(pageSize), berOctets(cookie));
      const control = berTlv(0x30, berOctets(PAGED_RESULTS), berOctets(value));
      socket.write(berTlv(0x30, berInt(++id), search, berTlv(0xa0, control)));
    };
    socket.on('connect', () => socket.write(encodeEnvelopes(1, bind)));
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('paged read: the server closed the connection before the last page')));
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      try {
        for (let m = framer.next(); m; m = framer.next()) {
          const message = new BerReader(m).child(0x30);
          message.int();
          const tag = message.peek();
          if (tag === Op.searchResultEntry) {
            entries++;
            continue;
          }
          if (tag !== Op.bindResponse && tag !== Op.searchResultDone) continue;
          const code = message.child(tag).enumerated();
          if (code !== ResultCode.success) throw new Error(`paged read: ${tag === Op.bindResponse ? 'bind' : 'search'} ended with ${resultName(code)} (${code})`);
          if (tag === Op.bindResponse) {
            page(Buffer.alloc(0));
            continue;
          }
          pages++;
          const cookie = responseCookie(message);
          if (cookie.length > 0) page(cookie);
          else socket.end(() => done({ entries, pages }));
        }
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
  });
}

/** The paged-results cookie of a SearchResultDone's controls (past its protocolOp); empty when none. */
function responseCookie(message: BerReader): Buffer {
  if (message.atEnd || message.peek() !== 0xa0) return Buffer.alloc(0);
  const controls = message.child(0xa0);
  while (!controls.atEnd) {
    const control = controls.child(0x30);
    const oid = control.string();
    if (!control.atEnd && control.peek() === 0x01) control.bool();
    if (oid === PAGED_RESULTS && !control.atEnd) return decodePagedResults({ oid, critical: false, value: control.octets() }).cookie;
  }
  return Buffer.alloc(0);
}

/** Memory and file descriptors of a server (its processes' sums), as /proc reports them. */
export interface Footprint {
  /** Peak resident set (VmHWM) since the last `resetPeak`, and resident now, in KiB. */
  readonly peakRssKiB: number;
  readonly rssKiB: number;
  /** Open file descriptors now, and the most seen while sampling. */
  readonly fds: number;
  readonly peakFds: number;
  /** CPU time (user + system, every thread) the processes used while watched, in milliseconds. */
  readonly cpuMs: number;
}

/** CPU time (user + system, all threads) a process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * Time on a CPU of every thread of a process so far, in milliseconds, from the scheduler's
 * nanosecond account (/proc/PID/task/T/schedstat): /proc/PID/stat counts in 10 ms ticks, too coarse
 * for runs of a few seconds. Threads that ended are not counted (Node's stay for the process's life).
 */
export function onCpuMs(pid: number): number {
  let ns = 0;
  for (const thread of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

/** The middle of some figures (the upper one of an even count): what repeated runs on a noisy machine report. */
export function median(figures: readonly number[]): number {
  return [...figures].sort((a, b) => a - b)[Math.floor(figures.length / 2)];
}

/** Linux's USER_HZ, in which /proc reports CPU time. */
const CLOCK_TICKS = 100;

export function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/**
 * Watches processes during a workload: resets their peak RSS (writing 5 to /proc/PID/clear_refs,
 * so VmHWM is this workload's peak, not the process's lifetime's) and samples their descriptors.
 */
export function watch(pids: readonly number[]): { stop(): Footprint; abandon(): void } {
  for (const pid of pids) writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const sum = (f: (pid: number) => number) => pids.reduce((total, pid) => total + f(pid), 0);
  const cpuBefore = sum(cpuMs);
  let peakFds = sum(fdCount);
  const sampler = setInterval(() => (peakFds = Math.max(peakFds, sum(fdCount))), 100);
  return {
    stop: () => {
      clearInterval(sampler);
      const fds = sum(fdCount);
      return {
        peakRssKiB: sum((pid) => statusKiB(pid, 'VmHWM')),
        rssKiB: sum((pid) => statusKiB(pid, 'VmRSS')),
        fds,
        peakFds: Math.max(peakFds, fds),
        cpuMs: sum(cpuMs) - cpuBefore,
      };
    },
    abandon: () => clearInterval(sampler),
  };
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
