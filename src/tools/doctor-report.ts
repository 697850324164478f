import type { DoctorReport } from './doctor.js';
import { describeState } from './guard-command.js';
import { formatTable } from './text-table.js';

/** The exit status a report means: 1 when a finding blocks synchronisation, else 0. */
export function doctorExitCode(report: DoctorReport): 0 | 1 {
  return report.blocking > 0 ? 1 : 0;
}

/** The report as one JSON document (what `--json` prints), with its exit status. */
export function reportJson(report: DoctorReport): string {
  return JSON.stringify({ ...report, exitCode: doctorExitCode(report) }, null, 2) + '\n';
}

/**
 * The report for people: the search bases with their counts, then one row per finding with its
 * message and the DNs it names on the lines below, then a verdict.
 */
export function reportTable(report: DoctorReport): string {
  const head = [
    `canopy doctor: ${report.config}`,
    `alias attribute: ${report.aliasAttribute}; read as: ${report.readAs}; users per search base at most: ${report.maxEntries}`,
    '',
  ].join('\n');

  const bases = formatTable([
    ['SEARCH BASE', 'FOREST', 'ENTRIES', 'USERS', 'DISABLED', 'READ'],
    ...report.bases.map((b) => [b.base, b.forest, String(b.entries), String(b.users), String(b.disabled), b.error === undefined ? 'complete' : `failed: ${b.error}`]),
  ]);

  const rows: string[][] = [['SEVERITY', 'CHECK', 'SUBJECT', 'COUNT', 'FORESTS', 'DETAILS']];
  for (const f of report.findings) {
    rows.push([f.severity, f.check, f.subject, String(f.count), f.forests.join(','), f.message]);
    for (const dn of f.dns) rows.push(['', '', '', '', '', `  ${dn}`]);
    if (f.dns.length > 0 && f.count > f.dns.length) rows.push(['', '', '', '', '', `  … and ${f.count - f.dns.length} more`]);
  }
  const findings = report.findings.length === 0 ? 'no findings\n' : formatTable(rows);

  const notes = report.findings.length - report.blocking - report.warnings;
  const verdict =
    report.blocking > 0
      ? `${report.blocking} blocking, ${report.warnings} warnings, ${notes} notes: directory synchronisation will go wrong (exit 1)`
      : `0 blocking, ${report.warnings} warnings, ${notes} notes: nothing blocks (exit 0)`;
  const guard = report.syncGuard ? `sync guard (references per search and forest):\n${describeState(report.syncGuard)}\n` : '';
  return `${head}\n${bases}\n${findings}\n${guard}${verdict}\n`;
}
