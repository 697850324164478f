import { z } from 'zod';
import { Dn } from '../core/dn.js';

/** The configuration file's shape. Types derive from it; messages read as "<path>: <value> <message>". */

function tryDn(text: string): Dn | undefined {
  try {
    return Dn.parse(text);
  } catch {
    return undefined;
  }
}

const dnString = z.string().refine((v) => tryDn(v) !== undefined, { message: 'is not a valid DN' });

function listenUrl(scheme: 'ldap' | 'ldaps') {
  return z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === `${scheme}:` && u.hostname !== '' && u.pathname.replace(/^\/$/, '') === '';
      } catch {
        return false;
      }
    },
    { message: `is not an ${scheme}://host:port URL` },
  );
}

const memoryForest = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'is not a forest name (letters, digits, . _ -)' }),
  backend: z.literal('memory'),
  /** The forest's naming context. */
  base: dnString,
  /** LDIF content files, relative to the configuration file. */
  ldif: z.array(z.string().min(1)).min(1),
});

export const forestSchema = z.discriminatedUnion('backend', [memoryForest]);

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      ldap: listenUrl('ldap').default('ldap://127.0.0.1:3389'),
      /** Served only when `tls` is configured. */
      ldaps: listenUrl('ldaps').default('ldaps://127.0.0.1:3636'),
    })
    .prefault({}),
  tls: z
    .strictObject({
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
      /** Passphrase of an encrypted key, inline or read from a file. */
      password: z.string().optional(),
      passwordFile: z.string().optional(),
    })
    .refine((t) => !(t.password !== undefined && t.passwordFile !== undefined), {
      message: 'sets both password and passwordFile',
    })
    .optional(),
  limits: z
    .strictObject({
      maxMessageBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024),
      maxConnections: z.number().int().min(1).default(4096),
      maxPendingOperations: z.number().int().min(1).max(10_000).default(64),
      idleTimeoutSeconds: z.number().int().min(0).default(0),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  forests: z
    .array(forestSchema)
    .min(1)
    .superRefine((forests, ctx) => {
      const names = new Set<string>();
      const bases: Dn[] = [];
      forests.forEach((f, i) => {
        if (names.has(f.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: 'is used by another forest' });
        names.add(f.name);
        const base = tryDn(f.base);
        if (!base) return; // reported by the field's own check
        const clash = bases.find((b) => b.isWithin(base) || base.isWithin(b));
        if (clash) ctx.addIssue({ code: 'custom', path: [i, 'base'], message: `overlaps "${clash.text}"` });
        bases.push(base);
      });
    }),
});

export type CanopyConfig = z.infer<typeof configSchema>;
export type ForestConfig = z.infer<typeof forestSchema>;
export type TlsConfig = NonNullable<CanopyConfig['tls']>;
