import type { Entry } from '../../core/entry.js';
import type { Filter } from '../../core/filter.js';
import { integerValue, valueText } from '../../core/matching.js';

/**
 * AD LDS's `msDS-UserAccountDisabled` over Active Directory forests: computed from bit 0x2 of
 * `userAccountControl` (ACCOUNTDISABLE), in entries and in filters. Canopy always derives it, even
 * from a forest whose entries carry it themselves (an entry without userAccountControl keeps its
 * own value), because the forests behind Canopy are AD-like.
 */

export const DISABLED = 'msds-useraccountdisabled';
export const UAC = 'userAccountControl';

const BIT_AND = '1.2.840.113556.1.4.803';
const ACCOUNTDISABLE = 2n;

/** `(userAccountControl:1.2.840.113556.1.4.803:=2)`: the AD form of `(msDS-UserAccountDisabled=TRUE)`. */
export const UAC_DISABLED: Filter = { type: 'extensible', attribute: UAC, rule: BIT_AND, value: Buffer.from('2'), dnAttributes: false };
export const UAC_ENABLED: Filter = { type: 'not', filter: UAC_DISABLED };
export const UAC_PRESENT: Filter = { type: 'present', attribute: UAC };

/** `TRUE`/`FALSE` from the entry's userAccountControl; undefined when it has none (or not a number). */
export function disabledValue(entry: Entry): 'TRUE' | 'FALSE' | undefined {
  const raw = entry.get(UAC)?.values[0];
  const flags = raw === undefined ? undefined : integerValue(valueText(raw));
  if (flags === undefined) return undefined;
  return (flags & ACCOUNTDISABLE) !== 0n ? 'TRUE' : 'FALSE';
}
