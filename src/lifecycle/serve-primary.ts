import cluster, { type Worker } from 'node:cluster';
import { rmSync, writeFileSync } from 'node:fs';
import { AggregatorRegistry } from 'prom-client';
import { ThrottleHost } from '../auth/shared-bind-throttle.js';
import { ConfigErrors } from '../config/config-error.js';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import { startAdminServer, type AdminServer } from '../http/admin-server.js';
import type { Readiness } from '../http/check-readiness.js';
import type { Logger } from '../observability/logger.js';
import { SyncGuard } from '../router/sync-guard.js';
import type { ServeOptions } from './serve-process.js';
import { welcomeLines } from './welcome.js';
import { stopSignals } from './stop-signals.js';
import { isCanopyMessage, type ToPrimary, type ToWorker } from './worker-messages.js';

/** How long the primary waits for a worker's answer (an eviction, a readiness check) before going on without it. */
const ANSWER_MS = 10_000;
/** Pause before replacing a worker that ended, so that one failing at once cannot spin the machine. */
const REPLACE_DELAY_MS = 1000;

/**
 * `canopy serve` with serve.workers > 1: this process forks the workers, which accept LDAP and
 * LDAPS connections on the same ports (node:cluster hands each connection to the next worker in
 * turn), and keeps for itself the pid file, the signals (SIGHUP: every worker reloads; SIGTERM,
 * SIGINT: every worker drains, then this process exits), the HTTP endpoints (`/metrics` summed
 * over the workers, `/readyz` ready when every worker is), the relay of cache evictions, the
 * failed-bind counts and the sync guard's references (and its state file). A worker that ends on
 * its own is logged and replaced.
 */
export async function servePrimary(file: string, config: LoadedConfig, logger: Logger, count: number, options: ServeOptions): Promise<void> {
  const { pidFile } = options;
  const signals = stopSignals();

  // Round robin in the primary rather than SO_REUSEPORT in each worker: the kernel's reuseport hashes
  // each connection to a listener by its addresses, which leaves long-lived connections from a few
  // application hosts unevenly spread; round robin deals them out in turn.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const throttle = new ThrottleHost(config.security.throttle, (id, message) => {
    const w = cluster.workers?.[id];
    if (w) send(w, message);
  });
  // The references every worker decides against: a client's syncs may land on any worker.
  const guard = new SyncGuard(config.sync.guard, logger);
  const relay = new Relay(logger, throttle, guard);
  const aggregator = new AggregatorRegistry();
  let stopping = false;

  /** A new worker, once it listens, with the URLs it serves (the same for every worker). */
  const fork = (): Promise<{ readonly worker: Worker; readonly urls: readonly string[] }> => {
    const worker = cluster.fork();
    return new Promise((resolve, reject) => {
      const onMessage = (message: unknown): void => {
        if (!isCanopyMessage<ToPrimary>(message) || message.canopy !== 'listening') return;
        worker.off('exit', onExit);
        worker.off('message', onMessage);
        resolve({ worker, urls: message.urls });
      };
      const onExit = (code: number | null, signal: string | null): void => {
        worker.off('message', onMessage);
        reject(new Error(`worker ${worker.id} ended before listening (${signal ?? `exit code ${code}`})`));
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
    });
  };

  cluster.on('message', (worker, message: unknown) => {
    if (isCanopyMessage<ToPrimary>(message)) relay.received(worker, message);
  });

  let urls: readonly string[] = [];
  try {
    const started = await Promise.all(Array.from({ length: count }, () => fork()));
    urls = started[0].urls;
  } catch (err) {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    throw err;
  }

  cluster.on('exit', (worker, code, signal) => {
    relay.ended(worker);
    throttle.ended(worker.id);
    if (stopping) return;
    logger.warn({ worker: worker.id, pid: worker.process.pid, code, signal }, 'worker ended; its connections are closed; starting a replacement');
    setTimeout(() => replace(), REPLACE_DELAY_MS);
  });
  const replace = (): void => {
    if (stopping) return;
    fork().then(
      ({ worker: w }) => logger.info({ worker: w.id, pid: w.process.pid }, 'replacement worker listening'),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'replacement worker failed to start; trying again');
        setTimeout(() => replace(), REPLACE_DELAY_MS);
      },
    );
  };

  // In place before `canopy listening` is logged: a SIGHUP sent on seeing it must not find the default action (exit).
  process.on('SIGHUP', () => {
    try {
      const next = loadConfigFile(file);
      throttle.configure(next.security.throttle);
      guard.configure(next.sync.guard);
      relay.shareGuardState(); // the references of a new state file, if sync.guard.stateFile changed
    } catch (err) {
      const errors = err instanceof ConfigErrors ? err.message : (err as Error).message;
      logger.error({ source: file, errors }, 'reload refused: invalid configuration; the running one stays');
      return;
    }
    relay.reload().then((refused) => {
      if (refused === 0) logger.info({ source: file, workers: count }, 'every worker reloaded its configuration');
      else logger.error({ source: file, refused }, 'reload refused by some workers; they keep their running configuration');
    });
  });

  // `canopy guard accept` signals the pid file's process: this one, which holds the references.
  process.on('SIGUSR2', () => {
    guard.acceptFromFile();
    relay.shareGuardState();
  });
  let admin: AdminServer | undefined;
  if (config.http.enabled) {
    admin = await startAdminServer({
      host: config.http.host,
      port: config.http.port,
      registry: { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() },
      readiness: async () => combineReadiness(await relay.readiness(), count),
      logger,
    });
  }
  const memory = config.forests.filter((f) => f.backend === 'memory').map((f) => f.name);
  if (memory.length > 0) logger.warn({ forests: memory, workers: count }, 'memory forests are loaded into each worker: a write through one worker is not seen through the others');
  if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`);
  const pids = Object.values(cluster.workers ?? {}).map((w) => w?.process.pid);
  logger.info({ urls, ...(admin && { http: admin.url }), forests: config.forests.map((f) => f.name), workers: count, pids }, 'canopy listening');
  if (options.welcome) {
    process.stdout.write(`\n${welcomeLines(config, urls, options.embeddedDefault === true).join('\n')}\n\n`);
  }

  signals.onStop((signal) => {
    if (stopping) return;
    stopping = true;
    const graceSeconds = config.shutdown.graceSeconds;
    logger.info({ signal, graceSeconds, workers: count }, 'shutting down: no new connections; running operations may finish');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const ended = workers.map((w) => new Promise<boolean>((resolve) => w.once('exit', (code) => resolve(code === 0))));
    // A worker that does not end after its grace (stuck, or deaf to messages) is killed.
    const deadline = setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), (graceSeconds + 10) * 1000);
    for (const w of workers) send(w, { canopy: 'stop' });
    void Promise.all(ended).then(async (clean) => {
      clearTimeout(deadline);
      await admin?.close();
      guard.flush();
      if (pidFile !== undefined) rmSync(pidFile, { force: true });
      const ok = clean.every(Boolean);
      if (ok) logger.info('canopy stopped');
      else logger.error('canopy stopped; a worker did not stop cleanly');
      logger.flush();
      process.exit(ok ? 0 : 1);
    });
  });
}

function send(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message);
}

/** `/readyz` with workers: ready when all of them run and each is ready; a forest is ready when it is in every worker. */
function combineReadiness(answers: readonly Readiness[], count: number): Readiness {
  const forests = (answers[0]?.forests ?? []).map((f) => {
    const down = answers.map((a) => a.forests.find((g) => g.name === f.name)).find((g) => g !== undefined && !g.ready);
    return down ?? f;
  });
  const listening = answers.length === count && answers.every((a) => a.listening);
  return { ready: listening && answers.every((a) => a.ready), listening, forests };
}

/**
 * What passes between the workers through the primary: a write's evictions (answered to the writer
 * once every other worker has evicted), reload and readiness rounds, the shared throttle's requests,
 * the sync guard's decisions.
 */
class Relay {
  private next = 0;
  /** Per round: the workers yet to answer, and what to do once none is left. */
  private readonly rounds = new Map<number, { readonly waiting: Set<number>; readonly answers: unknown[]; readonly done: (answers: unknown[]) => void }>();
  private readonly reloads = new Map<number, (error: string | undefined) => void>();

  constructor(
    private readonly logger: Logger,
    private readonly throttle: ThrottleHost,
    private readonly guard: SyncGuard,
  ) {}

  received(worker: Worker, message: ToPrimary): void {
    switch (message.canopy) {
      case 'listening':
        break; // awaited by the primary's fork
      case 'wrote':
        this.round((w) => w !== worker, (id) => ({ canopy: 'evict', id, dns: message.dns }), 'evict').then(() =>
          send(worker, { canopy: 'evicted-everywhere', id: message.id }),
        );
        break;
      case 'evicted':
        this.answer(worker, message.id, undefined);
        break;
      case 'readiness':
        this.answer(worker, message.id, message.readiness);
        break;
      case 'reloaded':
        this.reloads.get(worker.id)?.(message.error);
        this.reloads.delete(worker.id);
        break;
      case 'throttle-attempt':
      case 'throttle-abort':
      case 'throttle-settle':
        this.throttle.received(worker.id, message);
        break;
      case 'guard-state-request':
        send(worker, { canopy: 'guard-state', state: this.guard.snapshot() });
        break;
      case 'guard-changed':
        // Kept here (and in the state file), then in every worker's copy, the decider's included:
        // each applies the changes in the primary's order, so all copies end up as the primary's.
        this.guard.merge(message.change);
        for (const w of liveWorkers()) send(w, { canopy: 'guard-changed', change: message.change });
        break;
    }
  }

  /** Every worker's copy of the sync guard's references becomes the primary's (after an accept or a new state file). */
  shareGuardState(): void {
    const state = this.guard.snapshot();
    for (const w of liveWorkers()) send(w, { canopy: 'guard-state', state });
  }

  /** Asks every worker for its readiness; those that do not answer in time count as not ready (left out). */
  async readiness(): Promise<Readiness[]> {
    return (await this.round(() => true, (id) => ({ canopy: 'readiness', id }), 'readiness')) as Readiness[];
  }

  /** Has every worker reload; resolves with how many refused. */
  async reload(): Promise<number> {
    const errors = await Promise.all(
      liveWorkers().map(
        (w) =>
          new Promise<string | undefined>((resolve) => {
            this.reloads.set(w.id, resolve);
            send(w, { canopy: 'reload' });
          }),
      ),
    );
    return errors.filter((e) => e !== undefined).length;
  }

  /** A worker ended: it answers nothing more, and holds no cache to evict from. */
  ended(worker: Worker): void {
    for (const [id, r] of this.rounds) if (r.waiting.has(worker.id)) this.answer(worker, id, undefined, false);
    this.reloads.get(worker.id)?.('the worker ended');
    this.reloads.delete(worker.id);
  }

  private round(to: (w: Worker) => boolean, request: (id: number) => ToWorker, what: string): Promise<unknown[]> {
    const id = this.next++;
    const targets = liveWorkers().filter(to);
    return new Promise((resolve) => {
      if (targets.length === 0) return resolve([]);
      const timer = setTimeout(() => {
        this.logger.warn({ workers: [...(this.rounds.get(id)?.waiting ?? [])], request: what }, 'workers did not answer in time; going on without them');
        this.rounds.delete(id);
        resolve(answers);
      }, ANSWER_MS);
      const answers: unknown[] = [];
      this.rounds.set(id, {
        waiting: new Set(targets.map((w) => w.id)),
        answers,
        done: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      });
      for (const w of targets) send(w, request(id));
    });
  }

  private answer(worker: Worker, id: number, value: unknown, answered = true): void {
    const r = this.rounds.get(id);
    if (!r || !r.waiting.delete(worker.id)) return;
    if (answered && value !== undefined) r.answers.push(value);
    if (r.waiting.size > 0) return;
    this.rounds.delete(id);
    r.done(r.answers);
  }
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
}
