import { ResultCode } from '../core/result-codes.js';
import type { DisconnectNotice } from '../frontend/connection.js';

/**
 * What the clients still connected to a process that stops are told (a Notice of Disconnection,
 * RFC 4511 §4.4.1), so that they reconnect rather than wait on a connection that is gone.
 */

/** `canopy serve` stops (SIGTERM, SIGINT, the primary's stop), or the primary of its workers is gone. */
export const SERVER_SHUTTING_DOWN: DisconnectNotice = { code: ResultCode.unavailable, reason: 'server shutting down' };

/** One worker stops on its own (an operator's signal to it): the primary replaces it, the others serve. */
export const WORKER_SHUTTING_DOWN: DisconnectNotice = { code: ResultCode.unavailable, reason: 'server process shutting down; connect again' };

/** A worker failed (an uncaught exception): the primary replaces it. */
export const WORKER_FAILED: DisconnectNotice = { code: ResultCode.other, reason: 'internal error in the server process; connect again' };

/** The one process of `canopy serve` failed (an uncaught exception) and exits: its supervisor restarts it. */
export const SERVER_FAILED: DisconnectNotice = { code: ResultCode.other, reason: 'internal error in the server; connect again' };
