import type { ThrottleAnswer, ThrottleRequest } from '../auth/shared-bind-throttle.js';
import type { Readiness } from '../http/check-readiness.js';

/**
 * What the primary and its workers (serve.workers) tell each other over the cluster's IPC channel.
 * Requests carry an id that their answer repeats.
 */

/** From the primary to a worker. */
export type ToWorker =
  /** Re-read the configuration file (the primary has checked it) and serve new operations with it. */
  | { readonly canopy: 'reload' }
  /** Stop accepting, let running operations finish for shutdown.graceSeconds, then exit 0. */
  | { readonly canopy: 'stop' }
  /** Another worker wrote these DNs: evict what could hold them, then answer `evicted`. */
  | { readonly canopy: 'evict'; readonly id: number; readonly dns: readonly string[] }
  /** Every other worker has evicted what this worker's write `id` changed. */
  | { readonly canopy: 'evicted-everywhere'; readonly id: number }
  /** Answer with this worker's readiness. */
  | { readonly canopy: 'readiness'; readonly id: number }
  | ThrottleAnswer;

/** From a worker to the primary. */
export type ToPrimary =
  | { readonly canopy: 'listening'; readonly urls: readonly string[] }
  | { readonly canopy: 'reloaded'; readonly error?: string }
  /** A write went through this worker: have every other worker evict these DNs. */
  | { readonly canopy: 'wrote'; readonly id: number; readonly dns: readonly string[] }
  | { readonly canopy: 'evicted'; readonly id: number }
  | { readonly canopy: 'readiness'; readonly id: number; readonly readiness: Readiness }
  | ThrottleRequest;

/** Whether an IPC message is one of Canopy's (prom-client's metrics requests share the channel). */
export function isCanopyMessage<T extends { readonly canopy: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { canopy?: unknown }).canopy === 'string';
}
