import type { ResultCode } from '../core/result-codes.js';
import type { ResultExtras } from '../protocol/encoder.js';

/** How an operation ends: the fields of its LDAPResult, and what its log line and journal report. */
export interface Outcome {
  readonly code: ResultCode;
  readonly message?: string;
  /** What the log adds to the message and the client never gets (an upstream server's URL and error). */
  readonly detail?: string;
  readonly matchedDn?: string;
  readonly extras?: ResultExtras;
  /** Entries sent (searches). */
  readonly entries?: number;
  /** After writing the result, drop the client's connection (a `DropAfterPage` hook said so). */
  readonly dropConnection?: boolean;
}

/** A search's: its entries always counted, and whether the result cache may keep it. */
export interface SearchOutcome extends Outcome {
  readonly entries: number;
  /** Success with the whole result, nothing to add (no forest missing, no remark, no page to follow): the result cache may keep it. */
  readonly cacheable?: boolean;
}
