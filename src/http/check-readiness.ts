import type { ForestReadiness } from '../core/readiness.js';
import { metrics } from '../observability/metrics.js';

/** A forest that can tell whether it serves now; forests without a check (memory) are always ready. */
export interface ForestCheck {
  readonly name: string;
  ready(): Promise<ForestReadiness>;
}

export interface Readiness {
  readonly ready: boolean;
  readonly listening: boolean;
  readonly forests: readonly (ForestReadiness & { readonly name: string })[];
}

/**
 * Ready when the LDAP listener accepts connections and at least one forest has a server
 * answering: a replica that can serve some forest stays in the balancer, because one forest's
 * fault (an expired DC certificate, a wrong service password) is the same on every replica and
 * would otherwise take them all out. Each forest's own state goes to `canopy_forest_ready`.
 */
export async function checkReadiness(listening: boolean, forests: readonly ForestCheck[]): Promise<Readiness> {
  const results = await Promise.all(forests.map(async (f) => ({ name: f.name, ...(await f.ready()) })));
  // Reset first: a forest removed by a reload leaves no stale series.
  metrics.forestReady.reset();
  for (const r of results) metrics.forestReady.set({ forest: r.name }, r.ready ? 1 : 0);
  return { ready: listening && results.some((r) => r.ready), listening, forests: results };
}

/**
 * What `/readyz` answers: the verdict, the listener and how many forests serve; `verbose` adds a
 * line per forest with the reason it does not serve.
 */
export function readinessReport(r: Readiness, verbose: boolean): string {
  const down = r.forests.filter((f) => !f.ready);
  const lines = [
    r.ready ? 'ready' : 'not ready',
    `ldap listener: ${r.listening ? 'listening' : 'not listening'}`,
    `forests ready: ${r.forests.length - down.length} of ${r.forests.length}${down.length ? ` (not ready: ${down.map((f) => f.name).join(', ')})` : ''}`,
    ...(verbose ? r.forests.map((f) => `forest ${f.name}: ${f.ready ? 'ready' : `not ready: ${f.reason ?? 'no reason given'}`}`) : []),
  ];
  return `${lines.join('\n')}\n`;
}
