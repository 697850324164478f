import { ConfigError, isSecretPath } from './config-error.js';

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed YAML document (not in the
 * raw text, so a variable's value can never change the document's structure). `$$` is a literal `$`.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') return substituteString(value, env, path);
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k])]));
  }
  return value;
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?/g;

function substituteString(text: string, env: NodeJS.ProcessEnv, path: (string | number)[]): string {
  return text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    // The reference is part of the value: not quoted in a secret one.
    if (name === undefined) throw new ConfigError(path, isSecretPath(path) ? 'bad variable reference' : `bad variable reference "${match}"`);
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    throw new ConfigError(path, `environment variable ${name} is not set`);
  });
}
