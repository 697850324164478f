import type { Identity } from '../core/identity.js';
import type { Control, LdapRequest } from '../protocol/decoder.js';

/** An operation as the front end answered it: what the mock directory's journal is made of. */
export interface ObservedOperation {
  readonly connectionId: number;
  readonly messageId: number;
  /** As decoded: a bind's password is in it; an observer keeps only what it chooses. */
  readonly request: LdapRequest;
  readonly controls: readonly Control[];
  /** The result code; undefined when the operation was abandoned. */
  readonly code: number | undefined;
  /** Entries sent, for a search. */
  readonly entries?: number;
  /** Who the connection is bound as once the operation ended (after a bind: the new identity). */
  readonly identity: Identity;
  /** Whether the connection is protected by TLS (LDAPS or StartTLS). */
  readonly secure: boolean;
}

/** Called synchronously after each answered operation; must not throw, and should be quick. */
export type OperationObserver = (operation: ObservedOperation) => void;
