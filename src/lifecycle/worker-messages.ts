import type { ThrottleAnswer, ThrottleRequest } from '../auth/shared-bind-throttle.js';
import type { Readiness } from '../http/check-readiness.js';
import type { GuardChange, GuardState } from '../router/sync-guard.js';

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
  /** The sync guard's references as the primary holds them: the worker's copy becomes this. */
  | { readonly canopy: 'guard-state'; readonly state: GuardState }
  /** A sync decision a worker made, as the primary keeps it (the deciding worker gets it back too, to stay in the primary's order). */
  | { readonly canopy: 'guard-changed'; readonly change: GuardChange }
  | ThrottleAnswer;

/** From a worker to the primary. */
export type ToPrimary =
  | { readonly canopy: 'listening'; readonly urls: readonly string[] }
  | { readonly canopy: 'reloaded'; readonly error?: string }
  /** A write went through this worker: have every other worker evict these DNs. */
  | { readonly canopy: 'wrote'; readonly id: number; readonly dns: readonly string[] }
  | { readonly canopy: 'evicted'; readonly id: number }
  | { readonly canopy: 'readiness'; readonly id: number; readonly readiness: Readiness }
  /** A starting worker asks for the sync guard's references (answered with `guard-state`) before it serves. */
  | { readonly canopy: 'guard-state-request' }
  /** A sync decision of this worker changed a reference, a pending count or a trip. */
  | { readonly canopy: 'guard-changed'; readonly change: GuardChange }
  | ThrottleRequest;

/** Whether an IPC message is one of Canopy's (prom-client's metrics requests share the channel). */
export function isCanopyMessage<T extends { readonly canopy: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { canopy?: unknown }).canopy === 'string';
}
