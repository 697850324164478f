import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigErrors } from '../../src/config/config-error.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';

const forest = `forests:
  - name: avvid
    backend: memory
    base: DC=avvid,DC=info
    ldif: [data/avvid.ldif]
`;

function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return parseConfig(text, { source: 'test.yaml', baseDir: '/etc/canopy', env });
}

function errorsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigErrors);
    return (err as ConfigErrors).errors.map((e) => e.message);
  }
  throw new Error('configuration was accepted');
}

describe('configuration', () => {
  it('applies defaults and resolves files against the config directory', () => {
    const c = load(forest);
    expect(c.listen.ldap).toBe('ldap://127.0.0.1:3389');
    expect(c.listen.ldaps).toBe('ldaps://127.0.0.1:3636');
    expect(c.limits.maxMessageBytes).toBe(1024 * 1024);
    expect(c.logging.level).toBe('info');
    expect(c.forests[0].ldif).toEqual(['/etc/canopy/data/avvid.ldif']);
    expect(c.tls).toBeUndefined();
  });

  it('substitutes ${VAR} and ${VAR:-default} from the environment', () => {
    const text = `listen:\n  ldap: ldap://\${HOST}:\${PORT:-3390}\nlogging: { level: "\${LEVEL:-warn}" }\n${forest}`;
    const c = load(text, { HOST: '0.0.0.0' });
    expect(c.listen.ldap).toBe('ldap://0.0.0.0:3390');
    expect(c.logging.level).toBe('warn');
    expect(load(text, { HOST: 'h', PORT: '1389', LEVEL: 'debug' }).listen.ldap).toBe('ldap://h:1389');
  });

  it('a missing variable without default names the key and the variable', () => {
    expect(errorsOf(`listen: { ldap: "ldap://\${NOPE}:389" }\n${forest}`)).toEqual([
      'listen.ldap: environment variable NOPE is not set',
    ]);
  });

  it.each([
    [`listen: { ldap: "ldap//dc1" }\n${forest}`, 'listen.ldap: "ldap//dc1" is not an ldap://host:port URL'],
    [`listen: { lldap: "x" }\n${forest}`, 'listen.lldap: is not a known key'],
    [`limits: { maxMessageBytes: "big" }\n${forest}`, 'limits.maxMessageBytes: "big" expected number, received string'],
    [
      `forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x] }\n  - { name: b, backend: memory, base: "dc=a=b", ldif: [y] }`,
      'forests[1].base: "dc=a=b" is not a valid DN',
    ],
    [
      `forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x] }\n  - { name: b, backend: memory, base: "ou=x,DC=A", ldif: [y] }`,
      'forests[1].base: "ou=x,DC=A" overlaps "dc=a"',
    ],
    [`forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x], extra: 1 }`, 'forests[0].extra: is not a known key'],
    [`forests: []`, 'forests: [] Too small: expected array to have >=1 items'],
    [`${forest}tls: { certFile: c.pem }`, 'tls.keyFile: is required'],
  ])('rejects %j', (text, message) => {
    expect(errorsOf(text)).toContain(message);
  });

  it('reports YAML syntax errors with the source name', () => {
    expect(errorsOf('forests: [')[0]).toMatch(/^test\.yaml: /);
  });

  it('never prints a secret value', () => {
    const messages = errorsOf(`${forest}tls: { certFile: c, keyFile: k, password: 12345 }`).join('\n');
    expect(messages).toContain('tls.password: (secret)');
    expect(messages).not.toContain('12345');
  });

  it('reads secrets from passwordFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-config-'));
    writeFileSync(join(dir, 'key-pass'), 's3cret\n');
    writeFileSync(join(dir, 'canopy.yaml'), `${forest}tls: { certFile: c.pem, keyFile: k.pem, passwordFile: key-pass }\n`);
    const c = loadConfigFile(join(dir, 'canopy.yaml'));
    expect(c.tls?.password).toBe('s3cret');
    expect(c.tls?.certFile).toBe(join(dir, 'c.pem'));
  });

  it('names an unreadable passwordFile without content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-config-'));
    writeFileSync(join(dir, 'canopy.yaml'), `${forest}tls: { certFile: c, keyFile: k, passwordFile: missing }\n`);
    expect(() => loadConfigFile(join(dir, 'canopy.yaml'))).toThrow(/tls\.passwordFile: cannot read .*missing: ENOENT/);
  });
});
