import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { welcomeLines } from '../../src/lifecycle/welcome.js';

describe('welcome lines', () => {
  it('name a configuration without a namespace by its forests, and say there is no local account', () => {
    const fixtures = resolve(import.meta.dirname, '../../fixtures');
    const text = 'forests:\n  - { name: a, backend: memory, base: "dc=a,dc=test", ldif: [avvid.info.ldif] }\n';
    const config = parseConfig(text, { source: 'x.yaml', baseDir: fixtures });
    const lines = welcomeLines(config, ['ldap://127.0.0.1:1389'], false);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('Canopy is serving dc=a,dc=test at ldap://127.0.0.1:1389 (forests: a).');
    expect(lines[1]).toContain('No local accounts');
    expect(lines[2]).not.toContain('tour');
  });
});
