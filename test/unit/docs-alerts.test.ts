/**
 * docs/alerts.yaml is what administrators load into Prometheus: promtool must accept it, every
 * metric it names must be one Canopy exports, and every runbook it points to must exist.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
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

  it('fires each alert on the failure it is for, and not on healthy series (promtool test rules)', () => {
    const DAY = 86400;
    // At minute 75: one forest down and its account refused, one server down, logins unchecked,
    // a lockout wave, throttled binds, a guard trip, a failed sync, one certificate expiring in
    // 10 days and one expired, a domain controller's expiring in 5, two versions; the other series healthy.
    const series: Record<string, string> = {
      'canopy_forest_ready{forest="avvid"}': '1 0x80',
      'canopy_forest_ready{forest="vse"}': '1x80',
      'canopy_upstream_service_bind_refused{forest="avvid"}': '0 1x80',
      'canopy_upstream_service_bind_refused{forest="vse"}': '0x80',
      'canopy_upstream_server_up{forest="vse",server="ldap://dc2.vse.lab"}': '1 0x80',
      'canopy_upstream_server_up{forest="vse",server="ldap://dc1.vse.lab"}': '1x80',
      'canopy_binds_failed_total{forest="avvid",reason="unavailable"}': '0+60x80',
      'canopy_binds_failed_total{forest="avvid",reason="locked_out"}': '0+5x80',
      'canopy_binds_failed_total{forest="vse",reason="wrong_password"}': '0+5x80',
      'canopy_binds_failed_total{forest="",reason="throttled"}': '0+10x80',
      'canopy_sync_guard_trips_total{forest="vse"}': '0x60 1x20',
      'canopy_paged_searches_failed_total{code="52"}': '0x60 1x20',
      'canopy_paged_searches_failed_total{code="53"}': '0+1x80',
      'canopy_tls_certificate_expiry_timestamp_seconds{file="/etc/canopy/new.pem"}': `${365 * DAY} ${75 * 60 + 10 * DAY}x80`,
      'canopy_tls_certificate_expiry_timestamp_seconds{file="/etc/canopy/old.pem"}': `${365 * DAY} ${60 * 60}x80`,
      'canopy_tls_certificate_expiry_timestamp_seconds{file="/etc/canopy/far.pem"}': `${365 * DAY}x80`,
      'canopy_upstream_tls_certificate_expiry_timestamp_seconds{forest="vse",server="ldaps://dc1.vse.lab"}': `${365 * DAY} ${75 * 60 + 5 * DAY}x80`,
      'canopy_upstream_tls_certificate_expiry_timestamp_seconds{forest="vse",server="ldaps://dc2.vse.lab"}': `${365 * DAY}x80`,
      'canopy_build_info{version="1.0.0",node="v24.0.0"}': '1x80',
      'canopy_build_info{version="1.1.0",node="v24.0.0"}': '1x80',
    };
    const firing: Record<string, number> = {
      CanopyForestNotReady: 1,
      CanopyServiceAccountRefused: 1,
      CanopyUpstreamServerDown: 1,
      CanopyLoginsUnchecked: 1,
      CanopyLockoutWave: 1,
      CanopyBindsThrottled: 1,
      CanopySyncGuardTripped: 1,
      CanopySyncFailed: 1,
      CanopyCertificateExpiresSoon: 2,
      CanopyCertificateExpired: 1,
      CanopyUpstreamCertificateExpiresSoon: 1,
      CanopyVersionsDiffer: 1,
    };
    expect(Object.keys(firing).sort()).toEqual(rules.map((r) => r.alert).sort());
    const scratch = mkdtempSync(join(tmpdir(), 'canopy-alerts-'));
    try {
      const testFile = join(scratch, 'alerts.test.yaml');
      const count = { expr: 'count by (alertname) (ALERTS{alertstate="firing"})' };
      writeFileSync(
        testFile,
        stringify({
          rule_files: [rulesFile],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              input_series: Object.entries(series).map(([s, values]) => ({ series: s, values })),
              promql_expr_test: [
                { ...count, eval_time: '0m', exp_samples: [] },
                {
                  ...count,
                  eval_time: '75m',
                  exp_samples: Object.entries(firing).map(([alertname, value]) => ({ labels: `{alertname="${alertname}"}`, value })),
                },
              ],
            },
          ],
        }),
      );
      const { status, output } = promtool('test', 'rules', testFile);
      expect(output).toContain('SUCCESS');
      expect(status).toBe(0);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
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
