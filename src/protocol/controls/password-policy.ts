import type { PolicyState } from '../../core/password-policy.js';
import { berInt, berTlv } from '../ber-writer.js';
import type { Control } from '../decoder.js';
import { ControlOid } from './oids.js';

/**
 * PasswordPolicyResponseValue ::= SEQUENCE { warning [0] CHOICE { timeBeforeExpiration [0] INTEGER,
 *   graceAuthNsRemaining [1] INTEGER } OPTIONAL, error [1] ENUMERATED OPTIONAL } (draft-behera §6.2).
 */
export function passwordPolicyControl(state: PolicyState): Control {
  const warning =
    state.timeBeforeExpiration !== undefined
      ? [berTlv(0xa0, berInt(state.timeBeforeExpiration, 0x80))]
      : state.graceAuthNsRemaining !== undefined
        ? [berTlv(0xa0, berInt(state.graceAuthNsRemaining, 0x81))]
        : [];
  const error = state.error === undefined ? [] : [berInt(state.error, 0x81)];
  return { oid: ControlOid.passwordPolicy, critical: false, value: berTlv(0x30, ...warning, ...error) };
}
