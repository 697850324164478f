/** A configuration problem; the message names the key path and, unless secret, the value. */
export class ConfigError extends Error {
  constructor(
    readonly path: readonly (string | number)[],
    readonly problem: string,
  ) {
    super(path.length > 0 ? `${formatPath(path)}: ${problem}` : problem);
    this.name = 'ConfigError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/**
 * Key names whose values never appear in messages: passwords, passphrases, secrets, tokens,
 * credentials, keys, and a forest's `bind` (a password written there in place of its block must
 * not be shown either). `passwordFile`, `keyFile` and the like name files, not secrets.
 */
export function isSecretKey(key: string): boolean {
  return /pass(?:word|phrase)|secret|token|credential|key$|^bind$/i.test(key) && !/File$/.test(key);
}

/** A path through a secret key: its value never appears in messages. */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((p) => typeof p === 'string' && isSecretKey(p));
}

/** A value as messages show it: JSON, with every secret key's value inside it masked. */
export function showValue(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => (key !== '' && isSecretKey(key) ? '(secret)' : v)) ?? String(value);
}

/** Several problems found at once, reported together so one run shows them all. */
export class ConfigErrors extends Error {
  constructor(readonly errors: readonly ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'ConfigErrors';
  }

  /** What a command prints: `invalid configuration FILE:`, then each error on its own indented line. */
  report(file: string): string {
    return `invalid configuration ${file}:\n${this.message.replace(/^/gm, '  ')}`;
  }
}
