/**
 * docs/alerts.yaml is what administrators load into Prometheus: promtool must accept it, every
 * metric it names must be one Canopy exports, and every runbook it points to must exist.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registry } from '../../src/observability/metrics.js';

const docs = resolve(import.meta.dirname, '../../docs');
const rulesFile = resolve(docs, 'alerts.yaml');

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly annotations: { readonly runbook?: string };
}
const rules = (parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** promtool's answer, or an error naming the Debian package that provides it. */
function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error('promtool not found: install the Debian package prometheus (apt-get install -y prometheus), or run ./dev, which installs it');
  }
  if (run.error) throw run.error;
  return { status: run.status, output: run.stdout + run.stderr };
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
function anchors(file: string): Set<string> {
  const headings = readFileSync(resolve(docs, file), 'utf8').match(/^#+ .+$/gm) ?? [];
  return new Set(headings.map((h) => h.replace(/^#+ /, '').toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
}

describe('docs/alerts.yaml', () => {
  it('passes promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', rulesFile);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(status).toBe(0);
  });

  it('queries only metrics Canopy exports', async () => {
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set(rules.flatMap((r) => r.expr.match(/canopy_[a-z_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('points every alert on a failure to a runbook that exists', () => {
    const missing = rules.flatMap((r) => {
      if (r.annotations.runbook === undefined) return r.alert === 'CanopyVersionsDiffer' ? [] : [`${r.alert}: no runbook`];
      const [file, anchor] = r.annotations.runbook.replace(/^docs\//, '').split('#');
      return anchors(file).has(anchor) ? [] : [`${r.alert}: ${r.annotations.runbook}`];
    });
    expect(missing).toEqual([]);
  });
});
