#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ConfigErrors } from './config/config-error.js';
import { loadConfigFile } from './config/load.js';
import { startServer } from './server.js';
import { runCheck } from './tools/check.js';
import { version } from './version.js';

const defaultConfig = fileURLToPath(new URL('../config/default.yaml', import.meta.url));

const usage = `Usage: canopy <command> [options]

Commands:
  serve       start the LDAP server
  validate    check a configuration file and exit
  check       connect to every forest's servers, bind and read each base; exit 1 if a forest has none working

Options:
  -c, --config FILE   configuration file (default: ${defaultConfig})
  -h, --help          show this help
  -v, --version       print the version
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
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
  const command = positionals[0] ?? 'serve';
  if (positionals.length > 1 || !['serve', 'validate', 'check'].includes(command)) {
    process.stderr.write(`canopy: unknown command "${positionals.join(' ')}"\n\n${usage}`);
    return 2;
  }
  const file = values.config ?? defaultConfig;
  try {
    const config = loadConfigFile(file);
    if (command === 'validate') {
      process.stdout.write(`${file}: configuration is valid\n`);
      return 0;
    }
    if (command === 'check') return (await runCheck(config, process.stdout)) ? 0 : 1;
    const server = await startServer(config);
    const stop = () => {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return -1; // keep running
  } catch (err) {
    if (err instanceof ConfigErrors) {
      process.stderr.write(`canopy: invalid configuration ${file}:\n${err.message.replace(/^/gm, '  ')}\n`);
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
