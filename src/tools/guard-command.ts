import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ConfigErrors } from '../config/config-error.js';
import { loadConfigFile } from '../config/load.js';
import { acceptPending, acceptRequestFile, guardRecords, loadState, saveState, type AcceptRequest, type GuardState } from '../router/sync-guard.js';
import { formatTable } from './text-table.js';

export function guardUsage(defaultConfig: string): string {
  return `Usage: canopy guard list [options]
       canopy guard accept (--forest NAME | --all) --pid-file FILE [options]

The sync deletion guard fails a directory sync whose forest suddenly returns far fewer entries
than its last complete result (sync.guard in docs/configuration.md).

  list     the references (last complete count per search and forest), pending drops and trips
  accept   make pending counts the references: the running server (its --pid-file) takes them
           at once; without a running server the state file is changed directly

Options:
  -c, --config FILE   configuration file, for sync.guard.stateFile (default: ${defaultConfig})
  --forest NAME       accept: only this forest's pending counts
  --all               accept: every forest's pending counts
  --pid-file FILE     accept: the server's pid file (as given to canopy serve)
  --json              list: print the state as JSON
  -h, --help          show this help
`;
}

export interface GuardIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly defaultConfig: string;
}

/** How long `accept` waits for the running server to take the request. */
const ACCEPT_WAIT_MS = 5000;

/** `canopy guard list | accept`: resolves to the exit status (0 done, 1 failed, 2 usage). */
export async function runGuardCommand(argv: readonly string[], io: GuardIo): Promise<number> {
  const usage = (message: string): number => {
    io.err.write(`canopy guard: ${message}\n\n${guardUsage(io.defaultConfig)}`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        forest: { type: 'string' },
        all: { type: 'boolean' },
        'pid-file': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out.write(guardUsage(io.defaultConfig));
    return 0;
  }
  const [command, ...rest] = positionals;
  if (rest.length > 0 || (command !== 'list' && command !== 'accept')) return usage(`unknown command "${positionals.join(' ')}"`);

  const configFile = values.config ?? io.defaultConfig;
  let stateFile: string | undefined;
  try {
    stateFile = loadConfigFile(configFile).sync.guard.stateFile;
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    io.err.write(`canopy guard: ${err.report(configFile)}\n`);
    return 1;
  }
  if (stateFile === undefined) {
    io.err.write(`canopy guard: ${configFile} sets no sync.guard.stateFile, so the references live only in the server's memory\n`);
    return 1;
  }

  if (command === 'list') {
    const state = loadState(stateFile);
    io.out.write(values.json ? `${JSON.stringify(state, null, 2)}\n` : describeState(state));
    return 0;
  }

  if ((values.forest === undefined) === (values.all !== true)) return usage('accept needs --forest NAME or --all (one of them)');
  const request: AcceptRequest = values.forest === undefined ? {} : { forest: values.forest };
  const pidFile = values['pid-file'];
  if (pidFile === undefined) return usage('accept needs --pid-file FILE (the one given to canopy serve)');
  const pid = runningServer(pidFile);
  if (pid === undefined) {
    // Nobody else writes the file: change it here.
    const state = loadState(stateFile);
    const accepted = acceptPending(state, request);
    saveState(stateFile, state);
    io.out.write(`canopy guard: no server running (${pidFile}); accepted ${accepted} pending count(s) in ${stateFile}\n`);
    return 0;
  }
  const requestFile = acceptRequestFile(stateFile)!;
  writeFileSync(requestFile, JSON.stringify(request), { mode: 0o600 });
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < ACCEPT_WAIT_MS && existsSync(requestFile); waited += 50) await sleep(50);
  if (existsSync(requestFile)) {
    io.err.write(`canopy guard: process ${pid} did not take the request within ${ACCEPT_WAIT_MS / 1000} s (is it canopy serve with this configuration?)\n`);
    return 1;
  }
  io.out.write(`canopy guard: process ${pid} accepted the pending counts${request.forest ? ` of forest "${request.forest}"` : ''}\n`);
  io.out.write(describeState(loadState(stateFile)));
  return 0;
}

/** The process id in a pid file, when that process runs. */
function runningServer(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** One line per search and forest: who, where, the reference, what is pending. */
export function describeState(state: GuardState): string {
  const rows: string[][] = [['forest', 'reference', 'pending', 'trips', 'identity', 'base', 'scope', 'filter']];
  for (const { shape, forest, record: r } of guardRecords(state)) {
    rows.push([
      forest,
      r.reference ? `${r.reference.count} (${r.reference.at})` : '-',
      r.pending ? `${r.pending.count} (${r.pending.at})` : '-',
      String(r.trips),
      shape.description.identity,
      shape.description.base,
      shape.description.scope,
      shape.description.filter,
    ]);
  }
  if (rows.length === 1) return 'no references yet: none of the searches seen so far was sync-shaped\n';
  return formatTable(rows);
}
