import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigErrors } from '../../src/config/config-error.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { workerCount } from '../../src/lifecycle/serve-process.js';

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
  it('refuses an AD profile maxValRange so small that objectClass would come in ranges, naming key and value', () => {
    const text = 'forests:\n  - { name: a, backend: memory, profile: ad, maxValRange: 4, base: "dc=a", ldif: [a.ldif] }\n';
    expect(errorsOf(text)).toEqual([expect.stringMatching(/^forests\[0\]\.maxValRange: .*must be at least 10/)]);
  });

  it('refuses attributes.map onto a supertype (its subtypes would be tested under no name shown), naming key and value', () => {
    const mapped = (map: string) => `forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [a.ldif], attributes: { map: { ${map} } } }\n`;
    for (const [map, key] of [
      ['fullName: name', 'fullName'],
      ['dnAlias: distinguishedName', 'dnAlias'],
      ['x: 2.5.4.41', 'x'],
    ]) {
      expect(errorsOf(mapped(map)), map).toEqual([expect.stringMatching(new RegExp(`^forests\\[0\\]\\.attributes\\.map\\.${key}: .*maps onto .*would also test`))]);
    }
    expect(() => load(mapped('uid: sAMAccountName'))).not.toThrow();
  });

  it('serve.workers: auto by default, a number, auto, or an environment variable; anything else names key and value', () => {
    expect(load(forest).serve.workers).toBe('auto');
    expect(load(`serve: { workers: 4 }\n${forest}`).serve.workers).toBe(4);
    expect(load(`serve: { workers: auto }\n${forest}`).serve.workers).toBe('auto');
    expect(load(`serve: { workers: "\${W}" }\n${forest}`, { W: '3' }).serve.workers).toBe(3);
    for (const bad of ['0', '-2', '1.5', '33', 'many', '"all"']) {
      expect(errorsOf(`serve: { workers: ${bad} }\n${forest}`)).toEqual([expect.stringMatching(/^serve\.workers: .*is not a number of workers \(1 to 32\) or auto$/)]);
    }
    expect(errorsOf(`serve: { workers: many }\n${forest}`)[0]).toContain('"many"');
  });

  it('takes a sync guard state file with several workers (the primary alone reads and writes it)', () => {
    expect(load(`serve: { workers: 2 }\nsync: { guard: { stateFile: guard.json } }\n${forest}`).sync.guard.stateFile).toBe('/etc/canopy/guard.json');
  });

  it('applies defaults and resolves files against the config directory', () => {
    const c = load(forest);
    expect(c.listen.ldap).toBe('ldap://127.0.0.1:3389');
    expect(c.listen.ldaps).toBe('ldaps://127.0.0.1:3636');
    expect(c.limits.maxMessageBytes).toBe(1024 * 1024);
    // Nothing one client can hold that others need (issue 15): limits on by default.
    expect(c.limits).toMatchObject({
      maxUnboundMessageBytes: 256 * 1024,
      maxConnectionsPerAddress: 256,
      idleTimeoutSeconds: 900,
      unboundIdleTimeoutSeconds: 60,
      tlsHandshakeTimeoutSeconds: 10,
      maxFilterTerms: 1000,
      maxSortEntriesPerConnection: 20_000,
      maxSortEntriesPerIdentity: 20_000,
      maxSortEntriesTotal: 100_000,
    });
    expect(c.logging.level).toBe('info');
    expect(c.forests[0]).toMatchObject({ ldif: ['/etc/canopy/data/avvid.ldif'] });
    expect(c.tls).toBeUndefined();
  });

  it('limits.maxSortEntriesPerIdentity: a fifth of maxSortEntriesTotal unless set; more than the total names key and value', () => {
    const limits = (yaml: string) => load(`limits: ${yaml}\n${forest}`).limits;
    expect(limits('{ maxSortEntriesTotal: 10000 }').maxSortEntriesPerIdentity).toBe(2000);
    expect(limits('{ maxSortEntriesTotal: 3 }').maxSortEntriesPerIdentity).toBe(1);
    expect(limits('{ maxSortEntriesTotal: 0 }').maxSortEntriesPerIdentity).toBe(0);
    expect(limits('{ maxSortEntriesPerIdentity: 5000, maxSortEntriesTotal: 10000 }').maxSortEntriesPerIdentity).toBe(5000);
    expect(limits('{ maxSortEntriesPerIdentity: 10000, maxSortEntriesTotal: 10000 }').maxSortEntriesPerIdentity).toBe(10000);
    expect(limits('{ maxSortEntriesPerIdentity: 500000, maxSortEntriesTotal: 0 }').maxSortEntriesPerIdentity).toBe(500000);
    expect(errorsOf(`limits: { maxSortEntriesPerIdentity: 150000 }\n${forest}`)).toEqual([
      "limits.maxSortEntriesPerIdentity: 150000 is more than limits.maxSortEntriesTotal (100000): one identity's share must leave room for others",
    ]);
    expect(errorsOf(`limits: { maxSortEntriesPerIdentity: -1 }\n${forest}`)).toEqual([expect.stringMatching(/^limits\.maxSortEntriesPerIdentity: -1 /)]);
  });

  it("cache.maxBytesPerIdentity: a fifth of maxBytes unless set (at least 1024); more than maxBytes names key and value", () => {
    const cache = (yaml: string) => load(`cache: ${yaml}\n${forest}`).cache;
    expect(cache('{}').maxBytesPerIdentity).toBe(Math.floor((64 * 1024 * 1024) / 5));
    expect(cache('{ maxBytes: 4096 }').maxBytesPerIdentity).toBe(1024);
    expect(cache('{ maxBytes: 100000, maxBytesPerIdentity: 100000 }').maxBytesPerIdentity).toBe(100000);
    expect(errorsOf(`cache: { maxBytes: 100000, maxBytesPerIdentity: 200000 }\n${forest}`)).toEqual([
      "cache.maxBytesPerIdentity: 200000 is more than cache.maxBytes (100000): one identity's share must leave room for others",
    ]);
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
    [
      `listen: { proxyProtocol: { from: ["10.0.0.0/8", "10.0.0.0/33"] } }\n${forest}`,
      'listen.proxyProtocol.from[1]: "10.0.0.0/33" is not an IPv4 or IPv6 network (10.0.0.0/8, fd00::/64, or one address)',
    ],
    [`limits: { maxMessageBytes: "big" }\n${forest}`, 'limits.maxMessageBytes: "big" expected number, received string'],
    [
      `forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x] }\n  - { name: b, backend: memory, base: "dc=a=b", ldif: [y] }`,
      'forests[1].base: "dc=a=b" is not a valid DN',
    ],
    [
      `forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x] }\n  - { name: b, backend: memory, base: "ou=x,DC=A", ldif: [y] }`,
      'forests[1].base: "ou=x,DC=A" overlaps "dc=a"',
    ],
    [
      `namespace: { suffix: "dc=corp,dc=example" }\nforests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x] }`,
      'forests[0].mount: is required when namespace.suffix is set',
    ],
    [
      `namespace: { suffix: "dc=corp,dc=example" }\nforests:\n  - { name: a, backend: memory, base: "dc=a", mount: "ou=a,dc=other", ldif: [x] }`,
      'forests[0].mount: "ou=a,dc=other" is not within namespace.suffix "dc=corp,dc=example"',
    ],
    [
      `namespace: { suffix: "dc=corp,dc=example" }\nforests:\n  - { name: a, backend: memory, base: "dc=a", mount: "dc=corp,dc=example", ldif: [x] }\n  - { name: b, backend: memory, base: "dc=b", mount: "ou=b,dc=corp,dc=example", ldif: [x] }`,
      'forests[0].mount: "dc=corp,dc=example" may be the namespace suffix itself only when there is one forest',
    ],
    [
      `forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x], filter: "(objectClass=user" }`,
      'forests[0].filter: "(objectClass=user" is not an RFC 4515 filter',
    ],
    [
      `forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x], upnSuffixes: { a.com: a.com } }\n  - { name: b, backend: memory, base: "dc=b", ldif: [x], upnSuffixes: { A.com: b.com } }`,
      'forests[1].upnSuffixes.A.com: "b.com" is mapped by another forest',
    ],
    [
      `forests:\n  - { name: a, backend: ldap, base: "dc=a", servers: ["ldap//dc1"] }`,
      'forests[0].servers[0]: "ldap//dc1" is not an LDAP URL',
    ],
    [`forests:\n  - { name: a, backend: memory, base: "dc=a", ldif: [x], extra: 1 }`, 'forests[0].extra: is not a known key'],
    [`forests: []`, 'forests: [] Too small: expected array to have >=1 items'],
    [`${forest}tls: { certFile: c.pem }`, 'tls.keyFile: is required'],
    [`${forest}tls: { certFile: c, keyFile: k, verifyClient: demand }`, 'tls.clientCa: verifyClient allow or demand needs clientCa (the CAs that sign client certificates)'],
    [`${forest}tls: { certFile: c, keyFile: k, clientCa: ca.pem }`, 'tls.verifyClient: clientCa is set but verifyClient is never: set verifyClient to allow or demand'],
    [`${forest}tls: { certFile: c, keyFile: k, clientCa: ca.pem, verifyClient: sometimes }`, 'tls.verifyClient: "sometimes" Invalid option: expected one of "never"|"allow"|"demand"'],
    [
      `${forest}tls: { certFile: c, keyFile: k, clientCa: ca.pem, verifyClient: allow, subjectMapping: [{ subject: "CN=(.+", dn: "cn=$1" }] }`,
      'tls.subjectMapping[0].subject: "CN=(.+" is not a valid regular expression',
    ],
  ])('rejects %j', (text, message) => {
    expect(errorsOf(text)).toContain(message);
  });

  it('reports YAML syntax errors with the source name', () => {
    expect(errorsOf('forests: [')[0]).toMatch(/^test\.yaml: /);
  });

  it('reports a YAML syntax error by line and column, without echoing the source', () => {
    const [message] = errorsOf(`${forest}listen: { ldap: "ldap://127.0.0.1:3389" } trailing\n`);
    expect(message).toMatch(/^test\.yaml: line 6, column \d+: /);
    expect(message).not.toContain('127.0.0.1');
    expect(message).not.toContain('\n');
  });

  // A syntax error on, or inside the value of, a line holding a secret: neither the line nor the
  // parser's message (which may quote part of the value) is shown, whatever the key or the style.
  it.each([
    ['after an inline password', '    bind:\n      dn: CN=svc\n      password: "S3cr3t-XYZ" oops\n'],
    ['a bad escape in a quoted password', '    bind: { dn: CN=svc, password: "S3cr\\q3t-XYZ" }\n'],
    ['a nested mapping in a passphrase', '    tls: { token: S3cr3t-XYZ: 1 }\n'],
    ['a block scalar continuing a secret', '    bind:\n      secret: |\n        S3cr3t-XYZ\n       \tbad\n'],
    ['a password written in place of the bind block', '    bind: S3cr3t-XYZ: oops\n'],
  ])('never echoes a secret in a YAML syntax error: %s', (_, lines) => {
    const messages = errorsOf(`forests:\n  - name: a\n    backend: ldap\n    base: DC=a\n${lines}`);
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.join('\n')).not.toMatch(/S3cr|3t-XYZ/);
  });

  it('never prints a secret held inside a value it shows, nor one written in place of a block', () => {
    const both = errorsOf(`forests:\n  - { name: a, backend: ldap, base: DC=a, servers: ["ldap://a:389"], bind: { dn: CN=svc, password: S3cr3t-XYZ, passwordFile: f } }\n`);
    expect(both.join('\n')).toContain('forests[0].bind: ');
    expect(both.join('\n')).toContain('sets both password and passwordFile');
    expect(both.join('\n')).not.toContain('S3cr3t-XYZ');
    const inPlace = errorsOf(`forests:\n  - { name: a, backend: ldap, base: DC=a, servers: ["ldap://a:389"], bind: S3cr3t-XYZ }\n`);
    expect(inPlace.join('\n')).toContain('forests[0].bind: (secret)');
    expect(inPlace.join('\n')).not.toContain('S3cr3t-XYZ');
    const reference = errorsOf(`${forest}tls: { certFile: c, keyFile: k, password: "S3cr\${3t-XYZ" }\n`);
    expect(reference.join('\n')).toContain('tls.password: bad variable reference');
    expect(reference.join('\n')).not.toContain('3t-XYZ');
  });

  it('never prints a secret value', () => {
    const messages = errorsOf(`${forest}tls: { certFile: c, keyFile: k, password: 12345 }`).join('\n');
    expect(messages).toContain('tls.password: (secret)');
    expect(messages).not.toContain('12345');
  });

  it('reads an ldap forest bind password from passwordFile and resolves its CA file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-config-'));
    writeFileSync(join(dir, 'avvid.secret'), 'svc-pass\n');
    writeFileSync(
      join(dir, 'canopy.yaml'),
      'forests:\n  - name: avvid\n    backend: ldap\n    base: DC=avvid,DC=info\n    servers: [ldaps://dc1.avvid.info:636, ldap://dc2.avvid.info]\n' +
        '    bind: { dn: "CN=svc,DC=avvid,DC=info", passwordFile: avvid.secret }\n    tls: { ca: ca.pem }\n',
    );
    const f = loadConfigFile(join(dir, 'canopy.yaml')).forests[0];
    expect(f).toMatchObject({
      backend: 'ldap',
      bind: { dn: 'CN=svc,DC=avvid,DC=info', password: 'svc-pass', passwordFile: join(dir, 'avvid.secret') },
      tls: { ca: join(dir, 'ca.pem'), rejectUnauthorized: true, startTls: false },
      pageSize: 500,
      pool: { size: 4 },
    });
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

describe('workerCount', () => {
  it('auto is the cores the process may use, at most 32, or one with a memory forest; a number is itself', () => {
    expect(workerCount('auto', false, 8)).toBe(8);
    expect(workerCount('auto', false, 96)).toBe(32);
    expect(workerCount('auto', true, 8)).toBe(1);
    expect(workerCount(3, false, 96)).toBe(3);
    expect(workerCount(3, true, 96)).toBe(3);
  });
});
