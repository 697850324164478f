import { Dn } from '../core/dn.js';
import { LdapError } from '../core/ldap-error.js';
import { ResultCode } from '../core/result-codes.js';

/** One `tls.subjectMapping` rule: a pattern for the whole subject, and the DN it becomes ($1, $2, … its groups). */
export interface SubjectRule {
  readonly subject: string;
  readonly dn: string;
}

/**
 * From a client certificate's subject to the DN a SASL EXTERNAL bind is for, in the manner of
 * slapd's authz-regexp but anchored: the first rule whose pattern matches the whole subject
 * (RFC 4514 form, ignoring case) rewrites it; without a matching rule the subject is the DN.
 */
export class SubjectMapping {
  private readonly rules: readonly { readonly pattern: RegExp; readonly dn: string }[];

  constructor(rules: readonly SubjectRule[]) {
    // Validated at load: every pattern compiles.
    this.rules = rules.map((r) => ({ pattern: new RegExp(`^(?:${r.subject})$`, 'i'), dn: r.dn }));
  }

  /** The DN `subject` binds as; invalidCredentials when the result is no DN. */
  map(subject: string): Dn {
    const rule = this.rules.find((r) => r.pattern.test(subject));
    const text = rule ? subject.replace(rule.pattern, rule.dn) : subject;
    try {
      return Dn.parse(text);
    } catch {
      const how = rule ? `the tls.subjectMapping rule "${rule.pattern.source}" makes it "${text}"` : 'no tls.subjectMapping rule matches it';
      throw new LdapError(ResultCode.invalidCredentials, `SASL EXTERNAL: the certificate subject "${subject}" gives no valid DN (${how})`);
    }
  }
}
