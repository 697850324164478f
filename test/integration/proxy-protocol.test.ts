/**
 * The PROXY protocol through a running Canopy, with raw sockets standing in for a load balancer on
 * 127.0.0.1 (listed in listen.proxyProtocol.from) and 127.0.0.2 standing in for anyone else: the
 * header's client is what the logs, the per-address connection limit and the bind throttle see.
 */
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { PassThrough } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { RawLdapClient } from '../support/raw-ldap.js';
import { parseConfig } from '../../src/config/load.js';
import { fixtureForests, openAccess, repoRoot, startTestServer } from '../support/server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';

const JOHN = 'CN=John Doe,OU=Users,DC=avvid,DC=info';
const ASHLEY = 'CN=Ashley Gonzalez,OU=Users,DC=avvid,DC=info';
const AVVID = 'DC=avvid,DC=info';
const BALANCER = '127.0.0.1';
const STRANGER = '127.0.0.2';

const v1 = (client: string, port: number): Buffer => Buffer.from(`PROXY TCP4 ${client} 192.0.2.1 ${port} 389\r\n`);

/** A version 2 PROXY header naming an IPv6 client. */
function v2Ipv6(client: string, port: number): Buffer {
  const header = Buffer.alloc(16 + 36);
  Buffer.from('0d0a0d0a000d0a515549540a', 'hex').copy(header);
  header.set([0x21, 0x21, 0, 36], 12);
  Buffer.from(client.replaceAll(':', ''), 'hex').copy(header, 16);
  header.writeUInt16BE(port, 48);
  header.writeUInt16BE(636, 50);
  return header;
}

async function closesWithin(client: RawLdapClient, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([client.closed.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

describe('PROXY protocol from listed balancers', () => {
  const lines: Record<string, unknown>[] = [];
  let certs: TestCertificates;
  let server: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    certs = await makeTestCertificates();
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
    const config = parseConfig(
      `listen: { ldap: "ldap://127.0.0.1:0", ldaps: "ldaps://127.0.0.1:0", proxyProtocol: { from: ["${BALANCER}/32", "10.0.0.0/8"], headerTimeoutSeconds: 1 } }
http: { port: 0 }
tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}" }
limits: { maxConnectionsPerAddress: 2 }
security: { throttle: { slowAfter: 1, delayMs: 10, maxFailuresPerAddress: 2 } }
${fixtureForests}${openAccess}`,
      { source: 'test', baseDir: repoRoot },
    );
    server = await startTestServer(config, { logger: createLogger('debug', stream) });
  });

  afterAll(async () => {
    await server?.close();
    await certs?.remove();
  });

  it('serves a bind and a search after a v1 header, logging the header’s client as the peer', async () => {
    const c = await RawLdapClient.connect(server.url, BALANCER, v1('203.0.113.5', 40001));
    expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    expect((await c.search(AVVID)).code).toBe(0);
    c.close();
    const mine = lines.filter((l) => l.peer === '203.0.113.5:40001');
    expect(mine.filter((l) => l.msg === 'operation').map((l) => l.op)).toEqual(['bind', 'search']);
    expect(mine.filter((l) => l.msg === 'bind audit').map((l) => l.code)).toEqual([0]);
    expect(lines.filter((l) => l.msg === 'operation' && String(l.peer).startsWith(`${BALANCER}:`))).toEqual([]);
  });

  it('takes the header from one write with the first request (a v2 header with an IPv6 client)', async () => {
    const c = await RawLdapClient.connect(server.url, BALANCER);
    c.batch(() => {
      c.writeRaw(v2Ipv6('2001:0db8:0000:0000:0000:0000:0000:0042', 50000));
      return c.bind(JOHN, USER_PASSWORD);
    });
    expect((await c.search(AVVID)).code).toBe(0);
    c.close();
    expect(lines.filter((l) => l.msg === 'operation' && l.peer === '2001:db8::42:50000').map((l) => l.op)).toEqual(['bind', 'search']);
  });

  it('LDAPS: the header precedes the TLS handshake, sent alone or in one segment with the ClientHello', async () => {
    for (const [port, together] of [[41000, false], [41001, true]] as const) {
      const raw = tcpConnect({ port: server.ldapsPort!, host: '127.0.0.1', localAddress: BALANCER });
      await once(raw, 'connect');
      if (together) raw.cork();
      raw.write(v1('198.51.100.7', port));
      const tls = tlsConnect({ socket: raw, ca: readFileSync(certs.caFile), servername: 'localhost' });
      if (together) process.nextTick(() => raw.uncork());
      await once(tls, 'secureConnect');
      const c = RawLdapClient.over(tls);
      expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
      c.close();
      expect(lines.some((l) => l.msg === 'bind audit' && l.peer === `198.51.100.7:${port}`)).toBe(true);
    }
  });

  it('closes a connection from a listed balancer without a valid header, including one that sends nothing in time', async () => {
    const plain = await RawLdapClient.connect(server.url, BALANCER);
    const answer = plain.bind(JOHN, USER_PASSWORD);
    expect(await closesWithin(plain, 2000)).toBe(true);
    await expect(answer).rejects.toThrow('closed before the response');

    const garbled = await RawLdapClient.connect(server.url, BALANCER, Buffer.from('PROXY TCP4 203.0.113.5 nowhere 1 2\r\n'));
    expect(await closesWithin(garbled, 2000)).toBe(true);

    const started = performance.now();
    const silent = await RawLdapClient.connect(server.url, BALANCER, Buffer.from('PROXY TCP4 203.0.113.5'));
    expect(await closesWithin(silent, 3000)).toBe(true);
    expect(performance.now() - started).toBeGreaterThan(900); // headerTimeoutSeconds: 1
    expect(lines.filter((l) => l.msg === 'PROXY protocol header refused, connection closed').map((l) => l.err)).toEqual([
      'the connection does not start with a PROXY protocol header',
      'malformed PROXY v1 header "PROXY TCP4 203.0.113.5 nowhere 1 2"',
      'no complete PROXY header within 1000 ms',
    ]);
  });

  it('closes a connection that sends a PROXY header from an address not listed; its plain LDAP is served', async () => {
    const spoofing = await RawLdapClient.connect(server.url, STRANGER, v1('203.0.113.99', 1));
    const answer = spoofing.bind(JOHN, USER_PASSWORD);
    expect(await closesWithin(spoofing, 2000)).toBe(true);
    await expect(answer).rejects.toThrow('closed before the response');
    expect(lines.some((l) => String(l.peer).startsWith('203.0.113.99'))).toBe(false);
    // The operator reading the log learns why: a balancer not listed, not a client speaking nonsense.
    expect(lines.find((l) => l.msg === 'disconnecting client' && String(l.peer).startsWith(`${STRANGER}:`))).toMatchObject({
      code: 2,
      reason: 'expected an LDAPMessage SEQUENCE, got tag 0x50 (a PROXY protocol header? one is read only from an address listen.proxyProtocol.from lists)',
    });

    // On LDAPS the header is no TLS record: the handshake fails and the connection closes.
    const raw = tcpConnect({ port: server.ldapsPort!, host: '127.0.0.1', localAddress: STRANGER });
    await once(raw, 'connect');
    raw.write(v1('203.0.113.99', 2));
    const tls = tlsConnect({ socket: raw, ca: readFileSync(certs.caFile), servername: 'localhost' });
    const [err] = (await once(tls, 'error')) as [Error];
    expect(err.message).toMatch(/socket disconnected|ECONNRESET|EPIPE/);

    const direct = await RawLdapClient.connect(server.url, STRANGER);
    expect((await direct.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    direct.close();
    expect(lines.some((l) => l.msg === 'bind audit' && String(l.peer).startsWith(`${STRANGER}:`))).toBe(true);
  });

  it('counts limits.maxConnectionsPerAddress per header client, not per balancer', async () => {
    // Four sockets from the balancer's one address: two clients' worth each.
    const held = await Promise.all([1, 2].map((p) => RawLdapClient.connect(server.url, BALANCER, v1('203.0.113.20', p))));
    try {
      for (const c of held) expect((await c.search(AVVID)).code).toBe(0);
      const third = await RawLdapClient.connect(server.url, BALANCER, v1('203.0.113.20', 3));
      expect(await closesWithin(third, 2000)).toBe(true);
      const other = await Promise.all([1, 2].map((p) => RawLdapClient.connect(server.url, BALANCER, v1('203.0.113.21', p))));
      for (const c of other) expect((await c.search(AVVID)).code).toBe(0);
      for (const c of other) c.close();
    } finally {
      for (const c of held) c.close();
    }
    expect(lines.some((l) => l.msg === 'connection refused' && l.peer === '203.0.113.20' && l.limit === 'limits.maxConnectionsPerAddress')).toBe(true);
  });

  it('counts the bind throttle’s failures per header client: past maxFailuresPerAddress only that client is refused', async () => {
    const from = (client: string, port: number) => RawLdapClient.connect(server.url, BALANCER, v1(client, port));
    const guesser = await from('203.0.113.30', 1);
    expect((await guesser.bind(ASHLEY, 'wrong-1')).code).toBe(49);
    expect((await guesser.bind(ASHLEY, 'wrong-2')).code).toBe(49);
    // maxFailuresPerAddress: 2 reached from 203.0.113.30: Ashley, failed slowAfter times, is refused there, right password or not…
    const refused = await guesser.bind(ASHLEY, USER_PASSWORD);
    expect(refused).toMatchObject({ code: 49, message: 'invalid credentials' }); // as a wrong password: only the log says why
    expect(lines.some((l) => l.msg === 'bind refused unchecked: too many failed binds' && l.peer === '203.0.113.30')).toBe(true);
    guesser.close();
    // …while Ashley herself, behind the same balancer, logs in.
    const ashley = await from('203.0.113.31', 1);
    expect((await ashley.bind(ASHLEY, USER_PASSWORD)).code).toBe(0);
    ashley.close();
  });
});
