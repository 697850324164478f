import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import type * as Yaml from 'yaml';
import type { z } from 'zod';
import { ConfigError, ConfigErrors, isSecretPath, showValue } from './config-error.js';
import { substituteEnv } from './env-substitution.js';
import { configSchema, type CanopyConfig } from './schema.js';
import { describeYamlErrors } from './yaml-errors.js';

// The YAML parser (72 modules) is loaded when a configuration file is first parsed: commands that
// read none (`canopy mock` without --config, `--version`) start without it.
const requireOnUse = createRequire(import.meta.url);

/** A validated configuration whose file paths are absolute and whose secrets are read. */
export interface LoadedConfig extends CanopyConfig {
  readonly source: string;
}

/** Reads, substitutes, validates and resolves a configuration file; throws ConfigErrors. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigErrors([new ConfigError([], `cannot read configuration file ${file}: ${(err as Error).message}`)]);
  }
  return parseConfig(text, { source: file, baseDir: dirname(resolve(file)), env });
}

export function parseConfig(
  text: string,
  options: { source: string; baseDir: string; env?: NodeJS.ProcessEnv },
): LoadedConfig {
  const { LineCounter, parseDocument } = requireOnUse('yaml') as typeof Yaml;
  const lineCounter = new LineCounter();
  // prettyErrors would quote the source lines around an error, inline passwords included.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) throw new ConfigErrors(describeYamlErrors(doc.errors, text, lineCounter, options.source));
  let raw: unknown;
  try {
    raw = substituteEnv(doc.toJS() ?? {}, options.env ?? process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigErrors([err]);
    throw err;
  }
  return validateConfig(raw, options);
}

/** A configuration given as data (its variables substituted), validated and resolved as a file's is; throws ConfigErrors. */
export function validateConfig(raw: unknown, options: { source: string; baseDir: string }): LoadedConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigErrors(parsed.error.issues.flatMap((i) => describeIssue(i, raw)));
  return resolveFiles(parsed.data, options.baseDir, options.source);
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): ConfigError[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => new ConfigError([...path, k], 'is not a known key'));
  }
  const value = valueAt(raw, path);
  if (value === undefined && issue.code === 'invalid_type') return [new ConfigError(path, 'is required')];
  if (issue.code === 'invalid_union' && path.at(-1) === undefined) return [new ConfigError(path, issue.message)];
  const message = issue.code === 'custom' ? issue.message : issue.message.replace(/^Invalid input: /, '');
  if (value === undefined) return [new ConfigError(path, message)];
  const shown = isSecretPath(path) ? '(secret)' : showValue(value);
  return [new ConfigError(path, `${shown} ${message}`)];
}

function valueAt(raw: unknown, path: readonly (string | number)[]): unknown {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

function resolveFiles(config: CanopyConfig, baseDir: string, source: string): LoadedConfig {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const tls = config.tls && {
    ...config.tls,
    certFile: abs(config.tls.certFile),
    keyFile: abs(config.tls.keyFile),
    ...(config.tls.clientCa !== undefined && { clientCa: abs(config.tls.clientCa) }),
    ...(config.tls.clientCrl !== undefined && { clientCrl: abs(config.tls.clientCrl) }),
    password: config.tls.passwordFile
      ? readSecret(abs(config.tls.passwordFile), ['tls', 'passwordFile'])
      : config.tls.password,
    passwordFile: undefined,
  };
  const guard = config.sync.guard;
  return {
    ...config,
    sync: { guard: { ...guard, ...(guard.stateFile !== undefined && { stateFile: abs(guard.stateFile) }) } },
    tls,
    forests: config.forests.map((f, i) => {
      if (f.backend === 'memory') return { ...f, ldif: f.ldif.map(abs) };
      // passwordFile stays (absolute): the forest watches it and takes a changed password without a restart.
      const passwordFile = f.bind?.passwordFile === undefined ? undefined : abs(f.bind.passwordFile);
      const bind = f.bind && {
        dn: f.bind.dn,
        password: passwordFile ? readSecret(passwordFile, ['forests', i, 'bind', 'passwordFile']) : f.bind.password,
        ...(passwordFile && { passwordFile }),
      };
      return { ...f, bind, tls: { ...f.tls, ca: f.tls.ca && abs(f.tls.ca) } };
    }),
    source,
  };
}

/** Reads a secret from a file (trailing newline dropped); the error names the key, never the content. */
function readSecret(file: string, path: (string | number)[]): string {
  try {
    return secretText(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigErrors([new ConfigError(path, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)]);
  }
}

/** A secret file's content as the secret: without its trailing newline (editors and `echo` add one). */
export function secretText(content: string): string {
  return content.replace(/\r?\n$/, '');
}
