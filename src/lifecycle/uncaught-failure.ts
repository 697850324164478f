import type { DisconnectNotice } from '../frontend/connection.js';
import type { Logger } from '../observability/logger.js';

/** How long the clients' notices may take before the failed process exits anyway. */
const FAILED_EXIT_MS = 3000;

/**
 * After an uncaught exception the state of a serving process is not to be trusted: `message` is
 * logged (fatal), `closeAll` ends every client connection with `notice` (a Notice of
 * Disconnection, so clients reconnect at once rather than find a dead socket), and the process
 * exits 1, after FAILED_EXIT_MS at the latest. A second exception while closing is logged only.
 */
export function failOnUncaughtException(logger: Logger, message: string, closeAll: (notice: DisconnectNotice) => Promise<void>, notice: DisconnectNotice): void {
  let failed = false;
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, message);
    if (failed) return;
    failed = true;
    setTimeout(() => exitFailed(logger), FAILED_EXIT_MS);
    void closeAll(notice).finally(() => exitFailed(logger));
  });
}

function exitFailed(logger: Logger): never {
  logger.flush();
  process.exit(1);
}
