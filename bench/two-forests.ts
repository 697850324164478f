// The two slapd forests, the Canopy configuration over them and the two workloads that
// node-floor.ts and ab.ts both run: uncached lookups and binds on kept connections, as
// compare.ts runs them.
import { join } from 'node:path';
import { SERVICE_ACCOUNT, SERVICE_PASSWORD, USER_PASSWORD } from '../dist/tools/fixture-generator.js';
import { startSlapd, type SlapdServer } from '../test/support/slapd.ts';
import { bindOp, pipelined, readForest, searchOp, writeForest, type Figures, type Person } from './load.ts';

export const SUFFIX = 'dc=corp,dc=example';
export const FORESTS = [
  { name: 'avvid', base: 'DC=avvid,DC=info', mount: `ou=avvid,${SUFFIX}`, seed: 1 },
  { name: 'vse', base: 'DC=vse,DC=lab', mount: `ou=vse,${SUFFIX}`, seed: 2 },
] as const;
const LOOKUP_ATTRIBUTES = ['cn', 'mail', 'userPrincipalName', 'telephoneNumber'];
const serviceDn = (base: string) => `CN=${SERVICE_ACCOUNT},OU=ServiceAccounts,${base}`;

export interface TwoForests {
  readonly slapds: readonly SlapdServer[];
  /** Both forests' people, their DNs as Canopy names them (below the mounts). */
  readonly people: readonly Person[];
  readonly enabled: readonly Person[];
}

/** Generates both forests of `users` people into `dir` and serves each from a slapd of its own; each slapd's stop joins `stops`. */
export async function startTwoForests(dir: string, users: number, stops: (() => Promise<void>)[]): Promise<TwoForests> {
  const slapds: SlapdServer[] = [];
  const people: Person[] = [];
  for (const f of FORESTS) {
    const ldif = join(dir, `${f.name}.ldif`);
    writeForest(ldif, { users, suffix: f.base, seed: f.seed });
    for (const p of readForest(ldif).people) people.push({ ...p, dn: p.dn.slice(0, p.dn.length - f.base.length) + f.mount });
    // The service account reads without slapd's default size limit (500), as in compare.ts.
    const slapd = await startSlapd({ suffix: f.base, ldif: [ldif], extraConfig: `limits dn.exact="${serviceDn(f.base)}" size=unlimited` });
    stops.push(() => slapd.stop());
    slapds.push(slapd);
  }
  return { slapds, people, enabled: people.filter((p) => p.enabled) };
}

/** Canopy over the two forests as compare.ts's uncached Canopy: one process, no result cache, native binds. */
export function canopySettings(slapds: readonly SlapdServer[]): string {
  const forests = FORESTS.map(
    (f, i) =>
      `  - name: ${f.name}\n    backend: ldap\n    base: "${f.base}"\n    mount: "${f.mount}"\n    servers: ["${slapds[i].url}"]\n    bind: { dn: "${serviceDn(f.base)}", password: "${SERVICE_PASSWORD}" }\n    bindResolution: native`,
  );
  return `serve: { workers: 1 }\ncache: { enabled: false }\nnamespace: { suffix: "${SUFFIX}" }\naccess:\n  - { who: authenticated, what: { dn: "${SUFFIX}", scope: subtree }, allow: read }\nforests:\n${forests.join('\n')}\n`;
}

export type TwoForestWorkload = 'rebind' | 'uncached-lookup';

/**
 * One run of `workload` for `seconds` against the server on `port`: binds of random enabled people
 * on 32 kept connections, or lookups `(sAMAccountName=X)` of random people on 4 connections × 8 in
 * flight, bound as the service account.
 */
export function runWorkload(workload: TwoForestWorkload, forests: TwoForests, port: number, seconds: number): Promise<Figures> {
  const random = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)];
  return workload === 'rebind'
    ? pipelined('rebind', { seconds, connections: 32, depth: 1 }, () => ({ port, next: () => bindOp(random(forests.enabled).dn, USER_PASSWORD) }))
    : pipelined('lookups', { seconds, connections: 4, depth: 8 }, () => ({
        port,
        setup: [bindOp(serviceDn(FORESTS[0].mount), SERVICE_PASSWORD)],
        next: () => searchOp(SUFFIX, `(sAMAccountName=${random(forests.people).sam})`, LOOKUP_ATTRIBUTES),
      }));
}
