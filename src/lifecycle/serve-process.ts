import cluster from 'node:cluster';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigErrors } from '../config/config-error.js';
import { MAX_WORKERS } from '../config/schema.js';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import type { Logger } from '../observability/logger.js';
import { startServer } from '../server.js';
import { stopSignals } from './stop-signals.js';
import { releaseLoadGarbage } from '../backends/memory/release-load-garbage.js';
import { SERVER_FAILED, SERVER_SHUTTING_DOWN } from './disconnect-notices.js';
import { servePrimary } from './serve-primary.js';
import { failOnUncaughtException } from './uncaught-failure.js';
import { serveWorker } from './serve-worker.js';
import { welcomeLines } from './welcome.js';

export interface ServeOptions {
  /** Write the process id there (removed on exit). */
  readonly pidFile?: string;
  /** A person is watching (a terminal): say where Canopy listens and how to start. */
  readonly welcome?: boolean;
  /** The configuration is the embedded default (mock forests from fixtures/). */
  readonly embeddedDefault?: boolean;
}

/**
 * `canopy serve` as a process: SIGHUP re-reads the configuration file (an invalid one is refused
 * and the running configuration stays), SIGTERM and SIGINT stop accepting, let operations in
 * flight finish for `shutdown.graceSeconds`, end the connections left with a Notice of
 * Disconnection, close the forests and exit 0; an uncaught exception ends the connections with a
 * notice (other, 80) and exits 1, for its supervisor to restart it. With serve.workers > 1
 * this process becomes the primary of that many workers (serve-primary.ts), and each worker, started
 * by it with the same command line, serves here too (serve-worker.ts).
 */
export async function serveProcess(file: string, config: LoadedConfig, logger: Logger, options: ServeOptions = {}): Promise<void> {
  if (cluster.isWorker) return serveWorker(file, config, logger);
  const memory = config.forests.filter((f) => f.backend === 'memory').map((f) => f.name);
  const workers = workerCount(config.serve.workers, memory.length > 0);
  if (config.serve.workers === 'auto' && memory.length > 0) {
    logger.info({ forests: memory }, 'serve.workers auto: one process, since each worker would load its own copy of a memory forest and not see writes through the others');
  }
  if (workers > 1) return servePrimary(file, config, logger, workers, options);
  const { pidFile } = options;
  const signals = stopSignals();
  const server = await startServer(config, { logger });
  if (config.forests.some((f) => f.backend === 'memory')) releaseLoadGarbage();
  if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`);
  const removePidFile = (): void => {
    if (pidFile !== undefined) rmSync(pidFile, { force: true });
  };
  failOnUncaughtException(
    logger,
    'canopy failed: uncaught exception; its connections are closed and it exits',
    (notice) => server.close(0, notice).finally(removePidFile),
    SERVER_FAILED,
  );
  if (options.welcome) {
    process.stdout.write(`\n${welcomeLines(server.config, server.urls, options.embeddedDefault === true).join('\n')}\n\n`);
  }

  process.on('SIGHUP', () => {
    let next: LoadedConfig;
    try {
      next = loadConfigFile(file);
    } catch (err) {
      const errors = err instanceof ConfigErrors ? err.message : (err as Error).message;
      logger.error({ source: file, errors }, 'reload refused: invalid configuration; the running one stays');
      return;
    }
    server.reload(next).catch((err: unknown) => {
      logger.error({ source: file, errors: (err as Error).message }, 'reload refused; the running configuration stays');
    });
  });

  // `canopy guard accept` leaves its request beside the state file and signals.
  process.on('SIGUSR2', () => server.syncGuard.acceptFromFile());

  let stopping = false;
  signals.onStop((signal) => {
    if (stopping) return;
    stopping = true;
    const graceSeconds = server.config.shutdown.graceSeconds;
    logger.info({ signal, graceSeconds }, 'shutting down: no new connections; running operations may finish');
    server.close(graceSeconds * 1000, SERVER_SHUTTING_DOWN).then(
      () => {
        removePidFile();
        logger.info('canopy stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  });
}

/**
 * The worker processes `serve.workers` asks for: `auto` is the cores this process may use, at most
 * MAX_WORKERS, but one when a memory forest is served: each worker would load its own copy, and a
 * write through one would not be seen through the others.
 */
export function workerCount(setting: number | 'auto', memoryForests: boolean, cores: number = availableParallelism()): number {
  if (setting !== 'auto') return setting;
  return memoryForests ? 1 : Math.min(cores, MAX_WORKERS);
}

/**
 * `canopy reload`: checks the configuration file when one is named (an invalid file is reported
 * here and never signalled), then sends SIGHUP to the server whose pid file is given.
 */
export function reloadCommand(pidFile: string, configFile: string | undefined, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  if (configFile !== undefined) {
    try {
      loadConfigFile(configFile);
    } catch (e) {
      if (!(e instanceof ConfigErrors)) throw e;
      err.write(`canopy: ${e.report(configFile)}\nnot reloaded\n`);
      return 1;
    }
  }
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch (e) {
    err.write(`canopy: cannot read pid file ${pidFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}\n`);
    return 1;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    err.write(`canopy: pid file ${pidFile} does not hold a process id\n`);
    return 1;
  }
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    err.write(`canopy: cannot signal process ${pid}: ${code === 'ESRCH' ? 'no such process (is canopy running?)' : code}\n`);
    return 1;
  }
  out.write(`canopy: sent SIGHUP to process ${pid}; it re-reads its configuration (see its log for the outcome)\n`);
  return 0;
}
