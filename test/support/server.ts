import { resolve } from 'node:path';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';

export const repoRoot = resolve(import.meta.dirname, '../..');

/** The embedded default's forests, as YAML, for tests that serve the fixtures. */
export const fixtureForests = `forests:
  - { name: avvid, backend: memory, base: "DC=avvid,DC=info", ldif: [fixtures/avvid.info.ldif] }
  - { name: vse, backend: memory, base: "DC=vse,DC=lab", ldif: [fixtures/vse.lab.ldif] }
`;

/** An access rule letting every client read and write everything, for tests that are not about access. */
export const openAccess = `access:
  - { who: "*", what: { dn: "", scope: subtree }, allow: write }
`;

/** A configuration file's text, listening on ephemeral loopback ports, loaded as the server would. */
export function testConfig(yaml: string): LoadedConfig {
  return parseConfig(`listen: { ldap: "ldap://127.0.0.1:0", ldaps: "ldaps://127.0.0.1:0" }\nhttp: { port: 0 }\n${yaml}`, {
    source: 'test',
    baseDir: repoRoot,
  });
}

/** Starts Canopy in this process on an ephemeral loopback port; `config` is a configuration file's text, or one loaded by testConfig. */
export async function startTestServer(
  config: string | LoadedConfig = fixtureForests + openAccess,
  options: ServerOptions = {},
): Promise<RunningServer & { url: string }> {
  const loaded = typeof config === 'string' ? testConfig(config) : config;
  const server = await startServer(loaded, { logger: createLogger('silent'), ...options });
  return Object.assign(server, { url: server.urls[0] });
}
