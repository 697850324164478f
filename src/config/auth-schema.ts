import { z } from 'zod';
import { parseScryptHash } from '../core/scrypt-hash.js';
import { Dn } from '../core/dn.js';

/** The configuration of authentication and access: local accounts, access rules, bind security. */

const dnString = z.string().refine(
  (v) => {
    try {
      Dn.parse(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not a valid DN' },
);

const attributeName = z.string().regex(/^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/, { message: 'is not an attribute name' });

/** Local accounts: principals of Canopy itself, such as an application's sync service account. */
export const accountsSchema = z
  .array(
    z.strictObject({
      dn: dnString,
      /** What `canopy hash-password` prints. */
      passwordHash: z.string().refine((v) => parseScryptHash(v) !== undefined, {
        message: 'is not a scrypt hash printed by `canopy hash-password`',
      }),
    }),
  )
  .default([]);

/** `anonymous`, `authenticated` (any bound identity), `*` (everyone) or a bound DN. */
const who = z.union([z.enum(['anonymous', 'authenticated', '*']), dnString]);

export const accessSchema = z
  .array(
    z.strictObject({
      who,
      what: z.strictObject({
        /** The subtree's root; `""` is the whole tree. */
        dn: z.union([z.literal(''), dnString]),
        scope: z.enum(['base', 'one', 'subtree']).default('subtree'),
        /** Without it, the rule covers every attribute. */
        attributes: z.array(attributeName).min(1).optional(),
      }),
      /** `write` includes `read`; `none` refuses (first matching rule wins). */
      allow: z.enum(['none', 'read', 'write']),
    }),
  )
  .optional();

export const securitySchema = z
  .strictObject({
    /** Refuse simple binds (with a password) on connections without TLS. */
    requireTlsForBind: z.boolean().default(false),
    /**
     * The result such a refusal gets: confidentialityRequired (13, RFC 4513), or Active Directory's
     * strongerAuthRequired (8) of domain controllers that require LDAP signing.
     */
    tlsRequiredResult: z.enum(['confidentialityRequired', 'strongerAuthRequired']).default('confidentialityRequired'),
    /**
     * What a client learns when a forest refuses a login for a reason of the account's (locked,
     * disabled, expired, must change its password): `ad` passes Active Directory's reason in AD's own
     * message format (`… AcceptSecurityContext error, data 775, v4563`) and the password policy
     * control's state; `generic` answers every refusal with the same message. Unknown user and wrong
     * password are the same answer either way. Default: `ad` for a forest that is Active Directory
     * (a memory forest with `profile: ad`, an ldap forest with a `netbiosName`), `generic` otherwise.
     */
    bindDiagnostics: z.enum(['ad', 'generic']).optional(),
    throttle: z
      .strictObject({
        windowSeconds: z.number().int().min(1).default(300),
        /** Failures (per address or name) after which failed binds are answered slowly. */
        slowAfter: z.number().int().min(0).default(3),
        delayMs: z.number().int().min(0).max(60_000).default(1000),
        maxFailuresPerAccount: z.number().int().min(1).default(10),
        maxFailuresPerAddress: z.number().int().min(1).default(100),
      })
      .prefault({}),
  })
  .prefault({});

export type AccountConfig = z.infer<typeof accountsSchema>[number];
export type AccessRuleConfig = NonNullable<z.infer<typeof accessSchema>>[number];
export type SecurityConfig = z.infer<typeof securitySchema>;

/** Account DNs are unique and outside every forest's mount, so a bind name means one principal. */
export function checkAccounts(accounts: readonly AccountConfig[], mounts: readonly Dn[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  accounts.forEach((a, i) => {
    let dn: Dn;
    try {
      dn = Dn.parse(a.dn);
    } catch {
      return; // reported by the field's own check
    }
    const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['accounts', i, 'dn'], message });
    if (seen.has(dn.key)) issue('is used by another account');
    seen.add(dn.key);
    const mount = mounts.find((m) => dn.isWithin(m));
    if (mount) issue(`lies within the forest mounted at "${mount.text}"`);
  });
}
