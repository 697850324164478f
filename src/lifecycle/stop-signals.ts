/** What a stop signal sets off, once the process is ready to stop. */
export type StopHandler = (signal: NodeJS.Signals) => void;

/**
 * SIGINT and SIGTERM, listened for from the start: one that arrives while starting (the
 * "listening" line is out before start-up returns) is carried out once `onStop` names what to do.
 * The listeners stay in place, since removing a signal's last listener drops a signal already caught.
 */
export function stopSignals(): { onStop(handler: StopHandler): void } {
  let asked: NodeJS.Signals | undefined;
  let handle: StopHandler = (signal) => void (asked ??= signal);
  const caught = (signal: NodeJS.Signals): void => handle(signal);
  process.once('SIGINT', caught);
  process.once('SIGTERM', caught);
  return {
    onStop(handler) {
      handle = handler;
      if (asked !== undefined) handler(asked);
    },
  };
}
