import type { AttributeValue } from './entry.js';
import { equalityKey, integerValue, valueText, type AttributeRules } from './matching.js';
import type { SyntaxKind } from './schema.js';

/**
 * Named matching rules usable in extensible filters (`attr:rule:=value`), by OID and by name.
 * The in-chain rule (1.2.840.113556.1.4.1941) needs DN lookups and lives in the filter compiler.
 */
export interface ExtensibleRule {
  /** Whether attributes of a syntax are matched by this rule (used when the filter names no attribute). */
  appliesTo(syntax: SyntaxKind): boolean;
  /**
   * Prepares the assertion value; undefined when it is invalid for the rule (the filter item is
   * then Undefined). The returned test gives undefined for values the rule cannot evaluate.
   */
  prepare(assertion: Buffer): ((value: AttributeValue) => boolean | undefined) | undefined;
}

export const IN_CHAIN_RULE = '1.2.840.113556.1.4.1941';

const isInteger = (s: SyntaxKind): boolean => s === 'integer';
const isText = (s: SyntaxKind): boolean => s === 'string' || s === 'oid';

function bitwise(test: (value: bigint, mask: bigint) => boolean): ExtensibleRule {
  return {
    appliesTo: isInteger,
    prepare(assertion) {
      const mask = integerValue(assertion.toString('utf8'));
      if (mask === undefined) return undefined;
      return (value) => {
        const v = integerValue(valueText(value));
        return v === undefined ? undefined : test(v, mask);
      };
    },
  };
}

/** A rule that compares equality keys under a fixed syntax (whatever the attribute's own syntax). */
function byKey(rules: AttributeRules, appliesTo: (s: SyntaxKind) => boolean): ExtensibleRule {
  return {
    appliesTo,
    prepare(assertion) {
      const want = equalityKey(rules, assertion);
      if (want === undefined) return undefined;
      return (value) => {
        const got = equalityKey(rules, value);
        return got === undefined ? undefined : got === want;
      };
    },
  };
}

const caseIgnore = byKey({ syntax: 'string', exact: false }, isText);
/** caseExactMatch still folds insignificant spaces (RFC 4518); only case is kept. */
const caseExact: ExtensibleRule = {
  appliesTo: isText,
  prepare(assertion) {
    const fold = (v: AttributeValue): string => valueText(v).trim().replace(/\s+/g, ' ');
    const want = fold(assertion);
    return (value) => fold(value) === want;
  },
};

const rules = new Map<string, ExtensibleRule>();
function define(rule: ExtensibleRule, ...names: string[]): void {
  for (const n of names) rules.set(n.toLowerCase(), rule);
}

define(bitwise((v, m) => (v & m) === m), '1.2.840.113556.1.4.803', 'integerBitAndMatch');
define(bitwise((v, m) => (v & m) !== 0n), '1.2.840.113556.1.4.804', 'integerBitOrMatch');
define(caseIgnore, '2.5.13.2', 'caseIgnoreMatch', '1.3.6.1.4.1.1466.109.114.2', 'caseIgnoreIA5Match');
define(caseExact, '2.5.13.5', 'caseExactMatch', '1.3.6.1.4.1.1466.109.114.1', 'caseExactIA5Match');
define(byKey({ syntax: 'integer', exact: false }, isInteger), '2.5.13.14', 'integerMatch');
define(byKey({ syntax: 'dn', exact: false }, (s) => s === 'dn'), '2.5.13.1', 'distinguishedNameMatch');
define(byKey({ syntax: 'boolean', exact: false }, (s) => s === 'boolean'), '2.5.13.13', 'booleanMatch');
define(byKey({ syntax: 'binary', exact: true }, () => true), '2.5.13.17', 'octetStringMatch');
define(byKey({ syntax: 'time', exact: false }, (s) => s === 'time'), '2.5.13.27', 'generalizedTimeMatch');

/** A rule by OID or name (case-insensitive); undefined for rules Canopy does not know. */
export function extensibleRule(nameOrOid: string): ExtensibleRule | undefined {
  return rules.get(nameOrOid.toLowerCase());
}
