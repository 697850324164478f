import { parseArgs } from 'node:util';
import { LdifError } from '../backends/memory/ldif.js';
import { ConfigErrors } from '../config/config-error.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../observability/logger.js';
import { DEFAULT_LISTED, DEFAULT_MAX_ENTRIES, DoctorUsageError, runDoctor } from './doctor.js';
import { doctorExitCode, reportJson, reportTable } from './doctor-report.js';
import { ALIAS_ATTRIBUTES } from './doctor-tally.js';

export function doctorUsage(defaultConfig: string): string {
  return `Usage: canopy doctor [options]

Reads every forest through the configured view (namespace rewriting, forest filters, access
rules) and reports what breaks directory-synchronising applications: duplicate alias values,
users without the alias or sn, unmapped UPN suffixes and duplicate UPNs, users per search base,
disabled users. Exit status: 0 nothing blocks, 1 something blocks, 2 usage or configuration error.

Options:
  -c, --config FILE         configuration file (default: ${defaultConfig})
  --alias-attribute NAME    the attribute the application maps to its user ID: ${ALIAS_ATTRIBUTES.join(', ')}
                            (default sAMAccountName)
  --as DN                   whose view to read: a configured account or a DN within a forest's mount
                            (default: the only configured account)
  --max-entries N           warn when a search base holds more than N users (default ${DEFAULT_MAX_ENTRIES})
  --json                    print the report as JSON
  -h, --help                show this help

Each finding names its first ${DEFAULT_LISTED} DNs and counts the rest. See docs/doctor.md.
`;
}

export interface DoctorIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly defaultConfig: string;
}

/** `canopy doctor`: prints the report; resolves to the exit status. */
export async function runDoctorCommand(argv: readonly string[], io: DoctorIo): Promise<number> {
  const fail = (message: string): number => {
    io.err.write(`canopy doctor: ${message}\n`);
    return 2;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        'alias-attribute': { type: 'string' },
        as: { type: 'string' },
        'max-entries': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${doctorUsage(io.defaultConfig)}`.trimEnd());
  }
  if (values.help) {
    io.out.write(doctorUsage(io.defaultConfig));
    return 0;
  }
  const wanted = values['alias-attribute'] ?? 'sAMAccountName';
  const alias = ALIAS_ATTRIBUTES.find((a) => a.toLowerCase() === wanted.toLowerCase());
  if (alias === undefined) return fail(`--alias-attribute "${wanted}" is not supported; use one of ${ALIAS_ATTRIBUTES.join(', ')}`);
  const maxText = values['max-entries'] ?? String(DEFAULT_MAX_ENTRIES);
  if (!/^\d+$/.test(maxText)) return fail(`--max-entries must be a non-negative integer, not "${maxText}"`);

  const file = values.config ?? io.defaultConfig;
  try {
    const config = loadConfigFile(file);
    const report = await runDoctor(config, {
      alias,
      maxEntries: Number(maxText),
      ...(values.as !== undefined && { as: values.as }),
      // Logs (an unreachable server, a failover) go to stderr: stdout is the report.
      logger: createLogger('warn', io.err),
    });
    io.out.write(values.json ? reportJson(report) : reportTable(report));
    return doctorExitCode(report);
  } catch (err) {
    // Whatever keeps the doctor from a verdict is status 2, so that 1 always means "blocks".
    if (err instanceof ConfigErrors) return fail(err.report(file));
    if (err instanceof DoctorUsageError || err instanceof LdifError) return fail(err.message);
    return fail(`internal error: ${(err as Error).stack ?? String(err)}`);
  }
}
