import type { ForestReadiness } from '../core/readiness.js';

/** A forest that can tell whether it serves now; forests without a check (memory) are always ready. */
export interface ForestCheck {
  readonly name: string;
  ready(): Promise<ForestReadiness>;
}

export interface Readiness {
  readonly ready: boolean;
  /** One line for the LDAP listener and one per forest: what `/readyz` answers. */
  readonly report: string;
}

/** Ready when the LDAP listener accepts connections and every forest has a server answering. */
export async function checkReadiness(listening: boolean, forests: readonly ForestCheck[]): Promise<Readiness> {
  const results = await Promise.all(forests.map(async (f) => ({ name: f.name, ...(await f.ready()) })));
  const ready = listening && results.every((r) => r.ready);
  const lines = [
    ready ? 'ready' : 'not ready',
    `ldap listener: ${listening ? 'listening' : 'not listening'}`,
    ...results.map((r) => `forest ${r.name}: ${r.ready ? 'ready' : `not ready: ${r.reason ?? 'no reason given'}`}`),
  ];
  return { ready, report: `${lines.join('\n')}\n` };
}
