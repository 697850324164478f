import { readFile } from 'node:fs/promises';
import { probeForest, type ServerProbe } from '../backends/ldap/probe.js';
import { parseLdif } from '../backends/memory/ldif.js';
import type { LoadedConfig } from '../config/load.js';
import type { ForestConfig } from '../config/schema.js';
import { formatTable } from './text-table.js';

type Row = readonly [forest: string, server: string, tls: string, bind: string, base: string, ms: string];

const HEADER: Row = ['FOREST', 'SERVER', 'TLS', 'BIND', 'BASE', 'MS'];

/**
 * `canopy check`: connects to every server of every forest, binds as the service account and
 * reads the forest's base entry, then prints a table and the reasons of failures. Resolves true
 * when every forest has at least one working server.
 */
export async function runCheck(config: LoadedConfig, out: NodeJS.WritableStream): Promise<boolean> {
  const results = await Promise.all(config.forests.map(checkForest));
  const rows: Row[] = [HEADER];
  const problems: string[] = [];
  let healthy = true;
  for (const { forest, rows: forestRows, problems: forestProblems, ok } of results) {
    rows.push(...forestRows);
    problems.push(...forestProblems.map((p) => `${forest}: ${p}`));
    healthy &&= ok;
  }
  out.write(formatTable(rows));
  for (const p of problems) out.write(`${p}\n`);
  const failed = results.filter((r) => !r.ok).map((r) => r.forest);
  out.write(failed.length === 0 ? 'every forest has a working server\n' : `no working server: ${failed.join(', ')}\n`);
  return healthy;
}

interface ForestResult {
  readonly forest: string;
  readonly rows: Row[];
  readonly problems: string[];
  readonly ok: boolean;
}

async function checkForest(forest: ForestConfig): Promise<ForestResult> {
  if (forest.backend === 'memory') {
    try {
      let entries = 0;
      for (const file of forest.ldif) entries += parseLdif(await readFile(file, 'utf8'), file).length;
      return { forest: forest.name, rows: [[forest.name, `memory, ${entries} entries`, '-', '-', '-', '-']], problems: [], ok: true };
    } catch (err) {
      return { forest: forest.name, rows: [[forest.name, 'memory', '-', '-', '-', '-']], problems: [(err as Error).message], ok: false };
    }
  }
  const probes = await probeForest(forest);
  return {
    forest: forest.name,
    rows: probes.map((p): Row => [forest.name, p.server, p.tls, p.bind, p.base, p.ms === undefined ? '-' : String(p.ms)]),
    problems: probes.filter((p): p is ServerProbe & { error: string } => p.error !== undefined).map((p) => `${p.server}: ${p.error}`),
    ok: probes.some((p) => p.ok),
  };
}
