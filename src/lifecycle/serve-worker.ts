import { releaseLoadGarbage } from '../backends/memory/release-load-garbage.js';
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { ThrottleClient } from '../auth/shared-bind-throttle.js';
import type { CachePeers } from '../cache/cache-invalidation.js';
import { ConfigErrors } from '../config/config-error.js';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import { Dn } from '../core/dn.js';
import type { Logger } from '../observability/logger.js';
import { registry } from '../observability/metrics.js';
import { SyncGuard } from '../router/sync-guard.js';
import { startServer, type RunningServer } from '../server.js';
import type { DisconnectNotice } from '../frontend/connection.js';
import { SERVER_SHUTTING_DOWN, WORKER_FAILED, WORKER_SHUTTING_DOWN } from './disconnect-notices.js';
import { failOnUncaughtException } from './uncaught-failure.js';
import { isCanopyMessage, type ToPrimary, type ToWorker } from './worker-messages.js';

/** How long a failed worker may take to tell its clients before it exits anyway. */
/**
 * A worker of `canopy serve` with serve.workers > 1: serves LDAP and LDAPS on the listeners the
 * primary shares out, and nothing else (the primary owns the HTTP endpoints, the pid file and
 * the signals). It starts from the same configuration file as the primary and re-reads it when
 * the primary says so. A worker that goes down on its own (a signal sent to it alone, an uncaught
 * exception, its primary gone) sends its clients a Notice of Disconnection first.
 */
export async function serveWorker(file: string, config: LoadedConfig, processLogger: Logger): Promise<void> {
  const worker = cluster.worker!;
  const logger = processLogger.child({ worker: worker.id, pid: process.pid });
  const send = (message: ToPrimary): void => void worker.send(message);
  // The primary's /metrics asks each worker for this registry (prom-client's cluster aggregation);
  // constructing an AggregatorRegistry is what installs the worker's answering side.
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();

  // The primary stops workers by message. A signal is an operator stopping this worker alone (the
  // primary replaces it), or a Ctrl-C at a terminal reaching the whole process group: either way
  // it drains. A SIGHUP to the process group is left to the primary, which reloads every worker.
  let server: RunningServer | undefined;
  let stopAsked: DisconnectNotice | undefined;
  const stop = (notice: DisconnectNotice): void => {
    if (stopAsked) return;
    stopAsked = notice;
    if (server) drain(server, logger, notice);
  };
  process.on('SIGINT', () => stop(WORKER_SHUTTING_DOWN));
  process.on('SIGTERM', () => stop(WORKER_SHUTTING_DOWN));
  process.on('SIGHUP', () => undefined);
  // The clients are told, and the primary starts a replacement.
  failOnUncaughtException(logger, 'worker failed: uncaught exception; its connections are closed and it exits', (notice) => server?.close(0, notice) ?? Promise.resolve(), WORKER_FAILED);
  // The primary gone (killed), Node ends this worker as soon as its channel closes (node:cluster),
  // a drain under way included; the clients are told first: the notices leave in this turn.
  worker.on('disconnect', () => {
    if (!server) return;
    logger.warn('the primary is gone: this worker closes its connections and exits');
    void server.close(0, SERVER_SHUTTING_DOWN);
  });

  const peers = new PrimaryEvictions(send);
  const throttle = new ThrottleClient(send);
  // A copy of the primary's references: decided on here (a search cannot wait for the primary at its
  // end), each decision sent to the primary, every worker's decisions received back from it.
  const guard = new SyncGuard(config.sync.guard, logger, (change) => send({ canopy: 'guard-changed', change }));
  let guardReceived!: () => void;
  const guardReady = new Promise<void>((resolve) => (guardReceived = resolve));
  // The primary may speak to this worker before it listens (it is one of the workers): evictions
  // and a reload asked for while starting are carried out once started, since the configuration
  // read at start may predate the reload, and a search may be kept before start-up returns.
  let early: { evicted: Dn[]; reload: boolean } | undefined = { evicted: [], reload: false };
  const answerReload = (s: RunningServer): void =>
    void reload(s, file, logger).then((error) => send({ canopy: 'reloaded', ...(error !== undefined && { error }) }));
  process.on('message', (message: unknown) => {
    if (!isCanopyMessage<ToWorker>(message)) return;
    switch (message.canopy) {
      case 'reload':
        if (early) early.reload = true;
        else answerReload(server!);
        break;
      case 'stop':
        stop(SERVER_SHUTTING_DOWN);
        break;
      case 'evict':
        for (const dn of message.dns) {
          if (early) early.evicted.push(Dn.parse(dn));
          else server!.evict(Dn.parse(dn));
        }
        send({ canopy: 'evicted', id: message.id });
        break;
      case 'evicted-everywhere':
        peers.answered(message.id);
        break;
      case 'readiness':
        if (server && !early) void server.readiness().then((readiness) => send({ canopy: 'readiness', id: message.id, readiness }));
        else send({ canopy: 'readiness', id: message.id, readiness: { ready: false, listening: false, forests: [] } });
        break;
      case 'guard-state':
        guard.replace(message.state);
        guardReceived();
        break;
      case 'guard-changed':
        guard.merge(message.change);
        break;
      case 'throttle-granted':
      case 'throttle-refused':
      case 'throttle-failed':
        throttle.received(message);
        break;
    }
  });
  // Serving before the references arrive would take the first sync here for a new baseline.
  send({ canopy: 'guard-state-request' });
  await guardReady;
  try {
    server = await startServer(withoutHttp(config), { logger, cachePeers: peers, bindThrottle: throttle, syncGuard: guard, listeningMessage: 'worker listening' });
  } catch (err) {
    // Closing the channel lets this process end once the error is printed; the primary sees it exit.
    worker.disconnect();
    throw err;
  }
  if (config.forests.some((f) => f.backend === 'memory')) releaseLoadGarbage();
  for (const dn of early.evicted) server.evict(dn);
  if (early.reload) answerReload(server);
  early = undefined;
  send({ canopy: 'listening', urls: server.urls });
  if (stopAsked) drain(server, logger, stopAsked);
}

/** The configuration as a worker serves it: without the HTTP listener, which is the primary's. */
function withoutHttp(config: LoadedConfig): LoadedConfig {
  return { ...config, http: { ...config.http, enabled: false } };
}

/** Re-reads the file and serves it; the error text when it is refused (the running configuration stays). */
async function reload(server: RunningServer, file: string, logger: Logger): Promise<string | undefined> {
  try {
    await server.reload(withoutHttp(loadConfigFile(file)));
    return undefined;
  } catch (err) {
    const errors = err instanceof ConfigErrors ? err.message : (err as Error).message;
    logger.error({ source: file, errors }, 'reload refused; the running configuration stays');
    return errors;
  }
}

function drain(server: RunningServer, logger: Logger, notice: DisconnectNotice): void {
  server.close(server.config.shutdown.graceSeconds * 1000, notice).then(
    () => {
      logger.info('worker stopped');
      exitNow(logger, 0);
    },
    (err: unknown) => {
      logger.error({ err }, 'worker shutdown failed');
      exitNow(logger, 1);
    },
  );
}

function exitNow(logger: Logger, code: number): never {
  logger.flush();
  process.exit(code);
}

/** A write's evictions in every other worker, asked of the primary; resolved by its answer. */
class PrimaryEvictions implements CachePeers {
  private next = 0;
  private readonly waiting = new Map<number, () => void>();

  constructor(private readonly send: (message: ToPrimary) => void) {}

  evict(dns: readonly Dn[]): Promise<void> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ canopy: 'wrote', id, dns: dns.map((dn) => dn.text) });
    });
  }

  answered(id: number): void {
    this.waiting.get(id)?.();
    this.waiting.delete(id);
  }
}
