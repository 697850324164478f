import type { LineCounter, YAMLError } from 'yaml';
import { ConfigError, isSecretKey } from './config-error.js';

/**
 * Describes YAML syntax errors without echoing the configuration: a message names the line and
 * column, never shows the source lines, and on a line that holds a secret (a key such as
 * `password:` and the lines continuing its value) not even the parser's message, which may quote
 * a few characters of the value ("Invalid escape sequence \q").
 */
export function describeYamlErrors(errors: readonly YAMLError[], text: string, lines: LineCounter, source: string): ConfigError[] {
  const secret = secretLines(text);
  return errors.map((e) => {
    const start = lines.linePos(e.pos[0]);
    const end = lines.linePos(Math.max(e.pos[0], e.pos[1] - 1));
    let onSecret = false;
    for (let line = start.line; line <= end.line && !onSecret; line++) onSecret = secret.has(line);
    const where = `${source}: line ${start.line}, column ${start.col}`;
    return new ConfigError([], onSecret ? `${where}: YAML syntax error (${e.code}) in a secret value, not shown` : `${where}: ${e.message}`);
  });
}

/** Keys as they start a mapping pair in block or flow style: `key:`, `"key":`, `- key:`, `{key:`. */
const KEY = /([A-Za-z_][\w.-]*)["']?[ \t]*:(?=[ \t]|$)/g;

/** 1-based numbers of the lines that hold a secret key or continue its value (indented further). */
function secretLines(text: string): Set<number> {
  const secret = new Set<number>();
  let within: number | undefined; // indentation of the secret key whose value may continue
  text.split(/\r?\n/).forEach((line, i) => {
    const indent = /^[ \t]*/.exec(line)![0].length;
    if (within !== undefined && (line.trim() === '' || indent > within)) {
      secret.add(i + 1);
      return;
    }
    within = undefined;
    for (const m of line.matchAll(KEY)) {
      if (isSecretKey(m[1]!)) {
        secret.add(i + 1);
        within = indent;
        break;
      }
    }
  });
  return secret;
}
