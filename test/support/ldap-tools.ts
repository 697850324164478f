import { spawn } from 'node:child_process';

export interface LdapToolResult {
  /** The exit status: ldapsearch and ldapmodify exit with the LDAP result code, ldapcompare with 5/6 for false/true. */
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one of OpenLDAP's clients (`ldapsearch`, `ldapmodify`, `ldapcompare`, …) with `input` on
 * stdin (`env` adds variables, e.g. LDAPTLS_CACERT). Asynchronous on purpose: tests serve LDAP from their own process, and a synchronous spawn
 * would block the event loop the server answers on. A missing binary is an error, never a skip.
 */
export function runLdapTool(name: string, args: readonly string[], input?: string, env: Record<string, string> = {}): Promise<LdapToolResult> {
  return new Promise((resolve, reject) => {
    // LDAPNOINIT keeps ldap.conf and ~/.ldaprc out, and the LDAP* variables too: dropped when `env` sets some.
    const child = spawn(name, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...(Object.keys(env).length === 0 && { LDAPNOINIT: '1' }), ...env } });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    const timer = setTimeout(() => child.kill(), 20_000);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === 'ENOENT'
          ? new Error(`${name} not found: install the Debian package ldap-utils (apt-get install -y ldap-utils)`)
          : err,
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        status: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined); // a tool that exits early closes its stdin; its status tells why
    child.stdin.end(input ?? '');
  });
}
