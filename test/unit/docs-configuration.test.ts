/**
 * docs/configuration.md's tables give each key's default: those written as a literal must be
 * what the schema fills in, so that the reference cannot drift from the code.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/configuration.md'), 'utf8');

// The least a configuration needs, with one forest of each backend for the forests' tables
// (and a suffix: without one there is no namespace section to fill).
const config = parseConfig(
  `namespace: { suffix: "dc=corp" }
forests:
  - { name: mem, backend: memory, base: "dc=m", mount: "ou=m,dc=corp", ldif: [m.ldif] }
  - { name: up, backend: ldap, base: "dc=u", mount: "ou=u,dc=corp", servers: ["ldap://dc1.u:389"] }
`,
  { source: 'test', baseDir: '/etc/canopy' },
) as unknown as Record<string, unknown>;
const forests = config.forests as Record<string, unknown>[];

/** Where a section's keys live in the parsed configuration; sections not listed are skipped. */
function rootOf(heading: string): Record<string, unknown> | undefined {
  if (heading === 'Keys of every forest' || heading === '`backend: ldap`') return forests[1];
  if (heading === '`backend: memory`') return forests[0];
  if (heading === '`forests`' || heading === '`accounts`' || heading === '`access`') return undefined;
  return config;
}

/** Rows `| \`key\` | \`literal\` | … |` of the tables, with the heading they are under. */
function documentedDefaults(): { heading: string; key: string; value: unknown }[] {
  const rows: { heading: string; key: string; value: unknown }[] = [];
  let heading = '';
  for (const line of doc.split('\n')) {
    const h = /^#+ (.+)$/.exec(line);
    if (h) heading = h[1];
    // Only a default that is one literal, alone in its cell ("`67108864` (64 MiB)" keeps its note).
    const row = /^\| `([\w.]+)` \| `([^`]+)`(?: \([^)]*\))? \|/.exec(line);
    if (row) rows.push({ heading, key: row[1], value: parse(row[2]) as unknown });
  }
  return rows;
}

function lookup(root: Record<string, unknown>, key: string): unknown {
  return key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], root);
}

describe('docs/configuration.md', () => {
  it("gives every literal default the schema's value", () => {
    const checked = documentedDefaults().flatMap(({ heading, key, value }) => {
      const root = rootOf(heading);
      // `mount` defaults to `base`: a key's name, not a literal.
      if (!root || key === 'mount') return [];
      return [{ key: `${heading}: ${key}`, documented: value, schema: lookup(root, key) }];
    });
    expect(checked.length).toBeGreaterThan(60);
    expect(checked.filter((c) => JSON.stringify(c.documented) !== JSON.stringify(c.schema))).toEqual([]);
  });
});
