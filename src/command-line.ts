// The `canopy` command: parses its arguments and runs the command they name (cli.ts loads it).
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ConfigErrors } from './config/config-error.js';
import { loadConfigFile } from './config/load.js';
import { createLogger, LOG_FORMATS, type LogFormat } from './observability/logger.js';
import { reloadCommand, serveProcess } from './lifecycle/serve-process.js';
import { runCheck } from './tools/check.js';
import { runHashPassword } from './tools/hash-password.js';
import { runMock } from './mock/mock-command.js';
import { runDoctorCommand } from './tools/doctor-command.js';
import { runExport } from './tools/export.js';
import { runGuardCommand } from './tools/guard-command.js';
import { version } from './version.js';

const defaultConfig = fileURLToPath(new URL('../config/default.yaml', import.meta.url));

const usage = `Usage: canopy <command> [options]

Commands:
  serve       start the LDAP server (SIGHUP re-reads the configuration, SIGTERM stops gracefully)
  reload      make a running server re-read its configuration: --pid-file FILE [--config FILE to check it first]
  validate    check a configuration file and exit
  check       connect to every forest's servers, bind and read each base; exit 1 if a forest has none working
  hash-password  read a password from standard input, print its scrypt hash for accounts[].passwordHash
  mock        serve LDIF files as a mock directory, no configuration needed (canopy mock --help)
  doctor      read every forest through the configured view, report what breaks directory sync;
              exit 1 if something blocks (canopy doctor --help)
  guard       the sync deletion guard: list references and pending drops, accept a drop
              (canopy guard --help)
  export      write a directory read through Canopy as LDIF for canopy mock, --anonymize to replace
              personal data consistently (canopy export --help)

Options:
  -c, --config FILE   configuration file (default: ${defaultConfig})
  --log-format FORMAT serve: json (one object a line; the default unless stdout is a terminal)
                      or pretty (for people; the default at a terminal)
  --pid-file FILE     serve: write the process id there (removed on exit); reload: signal that process
  -h, --help          show this help
  -v, --version       print the version
`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'mock') {
    const stopped = new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    return runMock(argv.slice(1), { out: process.stdout, err: process.stderr, stopped });
  }
  if (argv[0] === 'doctor') return runDoctorCommand(argv.slice(1), { out: process.stdout, err: process.stderr, defaultConfig });
  if (argv[0] === 'guard') return runGuardCommand(argv.slice(1), { out: process.stdout, err: process.stderr, defaultConfig });
  if (argv[0] === 'export') return runExport(argv.slice(1), { out: process.stdout, err: process.stderr });
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'log-format': { type: 'string' },
        'pid-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`canopy: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  // A person at a terminal reads text; anything else (a pipe, a log collector) gets JSON lines.
  const atTerminal = process.stdout.isTTY === true;
  const logFormat = values['log-format'] ?? (atTerminal ? 'pretty' : 'json');
  if (!LOG_FORMATS.includes(logFormat as LogFormat)) {
    process.stderr.write(`canopy: --log-format must be ${LOG_FORMATS.join(' or ')}, not "${logFormat}"\n\n${usage}`);
    return 2;
  }
  const command = positionals[0] ?? 'serve';
  if (positionals.length > 1 || !['serve', 'validate', 'check', 'hash-password', 'reload'].includes(command)) {
    process.stderr.write(`canopy: unknown command "${positionals.join(' ')}"\n\n${usage}`);
    return 2;
  }
  if (command === 'hash-password') {
    if (await runHashPassword(process.stdin, process.stdout)) return 0;
    process.stderr.write('canopy: no password on standard input\n');
    return 1;
  }
  const pidFile = values['pid-file'];
  if (command === 'reload') {
    if (pidFile === undefined) {
      process.stderr.write(`canopy: reload needs --pid-file FILE (the one given to canopy serve)\n\n${usage}`);
      return 2;
    }
    return reloadCommand(pidFile, values.config, process.stdout, process.stderr);
  }
  const file = values.config ?? defaultConfig;
  try {
    const config = loadConfigFile(file);
    if (command === 'validate') {
      process.stdout.write(`${file}: configuration is valid\n`);
      return 0;
    }
    if (command === 'check') return (await runCheck(config, process.stdout)) ? 0 : 1;
    const logger = createLogger(config.logging.level, undefined, logFormat as LogFormat);
    await serveProcess(file, config, logger, {
      ...(pidFile !== undefined && { pidFile }),
      welcome: atTerminal,
      embeddedDefault: file === defaultConfig,
    });
    return -1; // keep running
  } catch (err) {
    if (err instanceof ConfigErrors) {
      process.stderr.write(`canopy: ${err.report(file)}\n`);
      return 1;
    }
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`canopy: ${e.code === 'EADDRINUSE' || e.code === 'EACCES' ? `cannot listen: ${e.message}` : e.message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exitCode = code;
});
