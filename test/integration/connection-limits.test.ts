/**
 * Nothing one client can hold that others need (issue 15, class 6) and protocol conformance
 * (class 8), through a running Canopy: raw PDUs where a client library cannot send the case,
 * ldapsearch and ldapts otherwise.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { metricValue, metrics } from '../../src/observability/metrics.js';
import { berInt, berOctets, berTlv } from '../../src/protocol/ber-writer.js';
import { USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { runLdapTool } from '../support/ldap-tools.js';
import { PAGED_OID, RawLdapClient, pagedControl, pagedCookie, sortControl, sortResult } from '../support/raw-ldap.js';
import { fixtureForests, openAccess, startTestServer } from '../support/server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';

const JOHN = 'CN=John Doe,OU=Users,DC=avvid,DC=info';
const ASHLEY = 'CN=Ashley Gonzalez,OU=Users,DC=avvid,DC=info';
const AVVID = 'DC=avvid,DC=info';
const OTHER_ADDRESS = '127.0.0.2';

// --- requests as bytes ---------------------------------------------------------------------------

const equality = (attribute: string, value: string | Buffer): Buffer => berTlv(0xa3, berOctets(attribute), berOctets(value));
const or = (terms: readonly Buffer[]): Buffer => berTlv(0xa1, ...terms);
const present = (attribute: string): Buffer => berOctets(attribute, 0x87);

/** A SearchRequest protocolOp (subtree unless told) with `filter` given as BER. */
function searchOp(base: string, filter: Buffer = present('objectClass'), scope = 2, attributes: readonly string[] = ['1.1']): Buffer {
  const noLimits = [berInt(0), berInt(0), Buffer.from([0x01, 0x01, 0x00])];
  return berTlv(0x63, berOctets(base), berInt(scope, 0x0a), berInt(0, 0x0a), ...noLimits, filter, berTlv(0x30, ...attributes.map((a) => berOctets(a))));
}

/** An LDAPMessage with the message ID given as INTEGER content bytes (so it can be negative or oversized). */
function message(idContent: readonly number[], op: Buffer, controls: readonly Buffer[] = []): Buffer {
  return berTlv(0x30, berTlv(0x02, Buffer.from(idContent)), op, ...(controls.length > 0 ? [berTlv(0xa0, ...controls)] : []));
}

const control = (oid: string, critical: boolean, value?: Buffer): Buffer =>
  berTlv(0x30, berOctets(oid), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), ...(value ? [berOctets(value)] : []));

const abandonOp = (id: number): Buffer => berTlv(0x50, berInt(id).subarray(2));

/** Resolves true if the socket closes within `ms`, false otherwise. */
async function closesWithin(closed: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([closed.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

function tcp(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress && { localAddress }) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

const socketClosed = (s: Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

/** Waits until the server counts `n` open connections (it learns of a client's close after the client). */
async function serverHolds(n: number): Promise<void> {
  for (let i = 0; i < 100 && (await metricValue(metrics.openConnections)) !== n; i++) await new Promise((r) => setTimeout(r, 20));
  expect(await metricValue(metrics.openConnections)).toBe(n);
}

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function withServer(limits: Record<string, number>, extra = ''): Promise<Server> {
  return startTestServer(`limits: ${JSON.stringify(limits)}\n${extra}${fixtureForests}${openAccess}`);
}

// --------------------------------------------------------------------------------------------------

describe('connections per address', () => {
  let certs: TestCertificates;
  let server: Server;

  beforeAll(async () => {
    certs = await makeTestCertificates();
    server = await withServer(
      { maxConnectionsPerAddress: 5, tlsHandshakeTimeoutSeconds: 2 },
      `tls: { certFile: "${certs.certFile}", keyFile: "${certs.keyFile}" }\n`,
    );
  });

  afterAll(async () => {
    await server?.close();
    await certs?.remove();
  });

  it('one address holding idle sockets reaches its cap while another address is still served', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => RawLdapClient.connect(server.url)));
    try {
      const sixth = await RawLdapClient.connect(server.url);
      expect(await closesWithin(sixth.closed, 2000)).toBe(true);
      const other = await RawLdapClient.connect(server.url, OTHER_ADDRESS);
      expect((await other.search(AVVID)).code).toBe(0);
      other.close();
      // Those holding the place are served as before.
      expect((await held[0].search(AVVID)).code).toBe(0);
    } finally {
      for (const c of held) c.close();
    }
    await serverHolds(0);
    const again = await RawLdapClient.connect(server.url);
    expect((await again.search(AVVID)).code).toBe(0);
    again.close();
  });

  it('LDAPS connections count from the start of their handshake, which times out', async () => {
    const handshaking = await Promise.all(Array.from({ length: 5 }, () => tcp(server.ldapsPort!)));
    const started = Date.now();
    await serverHolds(5);
    const sixth = await RawLdapClient.connect(server.url);
    expect(await closesWithin(sixth.closed, 1000)).toBe(true);
    const other = await RawLdapClient.connect(server.url, OTHER_ADDRESS);
    expect((await other.search(AVVID)).code).toBe(0);
    other.close();
    // limits.tlsHandshakeTimeoutSeconds: 2 drops them; the address is served again.
    await Promise.all(handshaking.map(socketClosed));
    expect(Date.now() - started).toBeGreaterThan(1500);
    expect(Date.now() - started).toBeLessThan(6000);
    const again = await RawLdapClient.connect(server.url);
    expect((await again.search(AVVID)).code).toBe(0);
    again.close();
    // A completed handshake is served as usual.
    const tls = new Client({ url: `ldaps://127.0.0.1:${server.ldapsPort}`, tlsOptions: { ca: readFileSync(certs.caFile) } });
    const { searchEntries } = await tls.search('', { scope: 'base', attributes: ['vendorName'] });
    expect(searchEntries[0].vendorName).toBe('Canopy');
    await tls.unbind();
  });

  it('a StartTLS handshake that never comes is timed out', async () => {
    const c = await RawLdapClient.connect(server.url);
    const startTls = await c.request(berTlv(0x77, berOctets('1.3.6.1.4.1.1466.20037', 0x80)));
    expect(startTls.code).toBe(0);
    const started = Date.now();
    expect(await closesWithin(c.closed, 6000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(1500);
  });
});

describe('idle connections', () => {
  let server: Server;

  beforeAll(async () => {
    server = await withServer({ unboundIdleTimeoutSeconds: 1, idleTimeoutSeconds: 4 });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('a connection that has not bound is closed after the short timeout; a bound one stays until the long one', async () => {
    const never = await RawLdapClient.connect(server.url);
    const anonymous = await RawLdapClient.connect(server.url);
    expect((await anonymous.bind('', '')).code).toBe(0);
    const failed = await RawLdapClient.connect(server.url);
    expect((await failed.bind(JOHN, 'Wrong-Passw0rd')).code).toBe(49);
    const bound = await RawLdapClient.connect(server.url);
    expect((await bound.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    const started = Date.now();

    for (const c of [never, anonymous, failed]) expect(await closesWithin(c.closed, 3500)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(700);
    expect(await closesWithin(bound.closed, 2000 - (Date.now() - started))).toBe(false);
    expect((await bound.search(AVVID)).code).toBe(0); // activity restarts the idle time
    expect(await closesWithin(bound.closed, 6000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(4500);
  });

  it('an ldapts client that binds and works is not disturbed', async () => {
    const c = new Client({ url: server.url });
    await c.bind(JOHN, USER_PASSWORD);
    await new Promise((r) => setTimeout(r, 1500));
    const who = await c.exop('1.3.6.1.4.1.4203.1.11.3');
    expect(who.value).toBe(`dn:${JOHN}`);
    await c.unbind();
  });
});

describe('defaults: message size before a bind, filter terms, protocol conformance', () => {
  let server: Server;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  const bigSearch = (bytes: number): Buffer => searchOp(AVVID, equality('description', 'x'.repeat(bytes)));

  it('refuses a message over 256 KiB before a bind (Notice of Disconnection), accepts it after', async () => {
    const unbound = await RawLdapClient.connect(server.url);
    expect((await unbound.request(bigSearch(200 * 1024))).code).toBe(0);
    unbound.send(bigSearch(300 * 1024));
    expect(await closesWithin(unbound.closed, 3000)).toBe(true);
    expect(unbound.notices).toEqual([expect.objectContaining({ code: 2, message: expect.stringContaining('limits.maxUnboundMessageBytes') })]);

    const bound = await RawLdapClient.connect(server.url);
    expect((await bound.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    expect((await bound.request(bigSearch(300 * 1024))).code).toBe(0);
    // A failed bind makes the connection unbound again (RFC 4511 §4.2.1).
    expect((await bound.bind(JOHN, 'Wrong-Passw0rd')).code).toBe(49);
    bound.send(bigSearch(300 * 1024));
    expect(await closesWithin(bound.closed, 3000)).toBe(true);
  });

  it('refuses a 40,000-term OR with unwillingToPerform before evaluating it; the connection goes on', async () => {
    const c = await RawLdapClient.connect(server.url);
    expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    const request = searchOp(AVVID, or(Array.from({ length: 40_000 }, (_, i) => equality('cn', `u${i}`))));
    const refused = await c.request(request);
    expect(refused).toMatchObject({ code: 53, message: expect.stringContaining('more than 1000 terms (limits.maxFilterTerms)') });
    expect(refused.dns).toEqual([]);
    expect((await c.search(AVVID)).code).toBe(0);
    c.close();
  });

  it('counts substring pieces as terms and refuses empty ones; caps the attributes a search names; the connection goes on', async () => {
    const c = await RawLdapClient.connect(server.url);
    expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    const substrings = (pieces: readonly Buffer[]) => berTlv(0xa4, berOctets('objectClass'), berTlv(0x30, Buffer.concat(pieces)));
    const anys = (n: number, text: string) => Array.from({ length: n }, () => berTlv(0x81, Buffer.from(text)));
    // A 1 MB filter of empty pieces (each one a pass over every value), and 5,000 real ones.
    expect(await c.request(searchOp(AVVID, substrings(anys(300_000, ''))))).toMatchObject({ code: 2 });
    expect(await c.request(searchOp(AVVID, substrings(anys(5_000, 'o'))))).toMatchObject({
      code: 53,
      message: expect.stringContaining('limits.maxFilterTerms'),
    });
    expect((await c.request(searchOp(AVVID, substrings(anys(3, 'o'))))).code).toBe(0);
    const names = (n: number) => Array.from({ length: n }, (_, i) => `x-attribute-${i}`);
    expect(await c.request(searchOp(AVVID, undefined, 2, names(20_000)))).toMatchObject({ code: 53, message: expect.stringContaining('at most 1000 attributes') });
    expect((await c.request(searchOp(AVVID, undefined, 0, names(1000)))).code).toBe(0);
    expect((await c.search(AVVID)).code).toBe(0);
    c.close();
  });

  it('ldapsearch: 1,000 terms are served, 1,001 refused with 53', async () => {
    const filter = (n: number) => `(|${Array.from({ length: n - 1 }, (_, i) => `(sAMAccountName=nobody${i})`).join('')})`;
    const search = (f: string) => runLdapTool('ldapsearch', ['-x', '-LLL', '-H', server.url, '-D', JOHN, '-w', USER_PASSWORD, '-b', AVVID, f, 'cn']);
    expect((await search(filter(1000))).status).toBe(0);
    const refused = await search(filter(1001));
    expect(refused.status).toBe(53);
    expect(refused.stderr).toContain('limits.maxFilterTerms');
  });

  it('a message ID outside 1..maxInt ends the session with a Notice of Disconnection, never an answer under another ID', async () => {
    const ids = [
      [0xff, 0x38], // -200 (was answered as 56)
      [0xff], // -1
      [0x00], // 0: the unsolicited notification's
      [0x80, 0x00, 0x00, 0x00], // 2^31 as a 4-byte negative
    ];
    for (const id of ids) {
      const c = await RawLdapClient.connect(server.url);
      c.writeRaw(message(id, searchOp(AVVID)));
      expect(await closesWithin(c.closed, 3000), String(id)).toBe(true);
      expect(c.notices.map((n) => n.code), String(id)).toEqual([2]);
      expect(c.strays, String(id)).toEqual([]);
    }
  });

  it('an unknown operation, or a response sent as a request, ends the session (RFC 4511 §4.1.1)', async () => {
    const result = berTlv(0x00, berInt(0, 0x0a), berOctets(''), berOctets('')).subarray(2);
    const ops = [
      Buffer.from([0x57, 0x00]), // APPLICATION 23: no such operation
      berTlv(0x61, result), // bindResponse
      berTlv(0x65, result), // searchResultDone
      berTlv(0x64, berOctets(AVVID), berTlv(0x30)), // searchResultEntry
      berTlv(0x78, result), // extendedResponse
    ];
    for (const op of ops) {
      const c = await RawLdapClient.connect(server.url);
      c.writeRaw(message([0x05], op));
      const tag = `0x${op[0].toString(16)}`;
      expect(await closesWithin(c.closed, 3000), tag).toBe(true);
      expect(c.notices.map((n) => n.code), tag).toEqual([2]);
      expect(c.strays, tag).toEqual([]);
    }
  });

  it('a paged results control with a negative size is a protocolError', async () => {
    const c = await RawLdapClient.connect(server.url);
    expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    const negative = (content: number[]) =>
      control(PAGED_OID, false, berTlv(0x30, berTlv(0x02, Buffer.from(content)), berOctets('')));
    for (const size of [[0xff], [0xff, 0xff, 0xff, 0xff], [0x80, 0x00, 0x00, 0x00]]) {
      const done = await c.request(searchOp(AVVID), [negative(size)]);
      expect(done, String(size)).toMatchObject({ code: 2, dns: [] });
    }
    expect((await c.search(AVVID, [pagedControl(5)])).dns).toHaveLength(5);
    c.close();
  });

  it('an Abandon with an unknown critical control is not performed; without one it is', async () => {
    const c = await RawLdapClient.connect(server.url);
    expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    const first = await c.search(AVVID, [pagedControl(5)], 10);
    expect(first.dns).toHaveLength(5);
    c.send(abandonOp(10), [control('1.2.3.4.5', true)]);
    const second = await c.search(AVVID, [pagedControl(5, pagedCookie(first))], 11);
    expect(second).toMatchObject({ code: 0 });
    expect(second.dns).toHaveLength(5);
    // A non-critical unknown control is ignored: the Abandon ends the paged search.
    const third = await c.search(AVVID, [pagedControl(5, pagedCookie(second))], 20);
    c.send(abandonOp(20), [control('1.2.3.4.5', false)]);
    expect((await c.search(AVVID, [pagedControl(5, pagedCookie(third))], 21)).code).toBe(53);
    // Other operations answer unavailableCriticalExtension (12).
    const compare = berTlv(0x6e, berOctets(JOHN), berTlv(0x30, berOctets('cn'), berOctets('John Doe')));
    expect((await c.request(compare, [control('1.2.3.4.5', true)])).code).toBe(12);
    expect((await c.request(compare)).code).toBe(6);
    c.close();
  });
});

describe('sort buffers of one connection', () => {
  let server: Server;

  beforeAll(async () => {
    server = await withServer({ maxSortEntriesPerConnection: 100 });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('pipelined sorted searches past limits.maxSortEntriesPerConnection get adminLimitExceeded; all are answered, none hangs', async () => {
    const c = await RawLdapClient.connect(server.url);
    const count = (await c.search(AVVID)).dns.length;
    expect(count).toBeGreaterThan(50); // two of them do not fit in 100
    for (const critical of [true, false]) {
      const results = await Promise.all(c.batch(() => Array.from({ length: 8 }, () => c.search(AVVID, [sortControl('sn', critical)]))));
      // Together they may not hold more than 100 entries: some (read in one go, all of them) are refused.
      const refused = results.filter((r) => sortResult(r) === 11);
      expect(refused.length, `critical: ${critical}`).toBeGreaterThan(0);
      for (const r of results.filter((x) => sortResult(x) === 0)) expect(r.dns).toHaveLength(count);
      for (const r of refused) {
        if (critical) expect(r).toMatchObject({ code: 12, dns: [], message: expect.stringContaining('limits.maxSortEntriesPerConnection: 100') });
        else expect(r.dns).toHaveLength(count);
      }
    }
    // The room is given back: one sorted search alone is served sorted.
    const alone = await c.search(AVVID, [sortControl('sn', true)]);
    expect(alone.code).toBe(0);
    expect(sortResult(alone)).toBe(0);
    c.close();
  });
});

describe('sort buffers of one identity', () => {
  let server: Server;

  beforeAll(async () => {
    // Every search reaches the sort (none is answered from the cache).
    server = await withServer({ maxSortEntriesPerIdentity: 200, maxSortEntriesTotal: 300 }, 'cache: { enabled: false }\n');
  });

  afterAll(async () => {
    await server?.close();
  });

  it('paged sorted searches parked by one identity on several connections stop at its share; another identity is still served sorted', async () => {
    const counting = await RawLdapClient.connect(server.url);
    const count = (await counting.search(AVVID)).dns.length;
    counting.close();
    // Two parked sorts (each holding all but the entry sent) fit in the share of 200, a third does not;
    // without the share, four would fill the process's 300 and leave no room for anyone else.
    expect(count).toBeGreaterThan(70);
    expect(count).toBeLessThanOrEqual(100);
    const john: RawLdapClient[] = [];
    try {
      const firstPages: (number | undefined)[] = [];
      for (let i = 0; i < 4; i++) {
        const c = await RawLdapClient.connect(server.url);
        john.push(c);
        expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
        // The auditor's scenario: page size 1, a non-critical sort, one page read, then idle.
        const page = await c.search(AVVID, [pagedControl(1), sortControl('cn', false)]);
        expect(page).toMatchObject({ code: 0, dns: [expect.any(String)] });
        expect(pagedCookie(page).length).toBeGreaterThan(0);
        firstPages.push(sortResult(page));
      }
      // Past its share, John's sorts come unsorted (sortResult 11), or fail when critical (12), naming the limit.
      expect(firstPages).toEqual([0, 0, 11, 11]);
      const critical = await john[0].search(AVVID, [sortControl('sn', true)]);
      expect(critical).toMatchObject({ code: 12, dns: [], message: expect.stringContaining('limits.maxSortEntriesPerIdentity: 200') });
      // Ashley, another identity, is served sorted while John's cursors stay parked.
      const ashley = await RawLdapClient.connect(server.url);
      expect((await ashley.bind(ASHLEY, USER_PASSWORD)).code).toBe(0);
      for (const key of ['sn', 'cn']) {
        const sorted = await ashley.search(AVVID, [sortControl(key, true)]);
        expect(sorted.code).toBe(0);
        expect(sortResult(sorted)).toBe(0);
        expect(sorted.dns).toHaveLength(count);
      }
      ashley.close();
    } finally {
      for (const c of john) c.close();
    }
    // John's connections gone, his share is free again.
    const again = await RawLdapClient.connect(server.url);
    expect((await again.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    let alone = await again.search(AVVID, [sortControl('sn', true)]);
    for (let i = 0; i < 50 && alone.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      alone = await again.search(AVVID, [sortControl('sn', true)]);
    }
    expect(alone.code).toBe(0);
    expect(sortResult(alone)).toBe(0);
    again.close();
  });
});

describe('log lines stay small whatever the client sends', () => {
  const raw: string[] = [];
  let server: Server;

  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => raw.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    server = await startTestServer(undefined, { logger: createLogger('debug', stream) });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('bind names, DNs and filters are logged cut, with their length', async () => {
    const c = await RawLdapClient.connect(server.url);
    const name200k = `cn=${'a'.repeat(200 * 1024)},${AVVID}`;
    expect((await c.bind(name200k, 'Some-Passw0rd')).code).toBe(49);
    expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    // Bound: a 512 KiB bind name is within the message limit, and gets invalidCredentials.
    const name512k = `cn=${'b'.repeat(512 * 1024)},${AVVID}`;
    expect((await c.bind(name512k, 'Some-Passw0rd')).code).toBe(49);
    expect((await c.bind(JOHN, USER_PASSWORD)).code).toBe(0);
    const longBase = `cn=${'c'.repeat(100 * 1024)},${AVVID}`;
    expect((await c.request(searchOp(longBase))).code).toBe(32);
    expect((await c.request(searchOp(AVVID, equality('description', 'd'.repeat(300 * 1024))))).code).toBe(0);
    expect((await c.request(searchOp(`cn=${'e'.repeat(100 * 1024)},,`))).code).toBe(34);
    c.close();
    await server.close();

    const lines = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    const longest = Math.max(...raw.map((l) => l.length));
    expect(longest).toBeLessThan(4096);
    const audits = lines.filter((l) => l.msg === 'bind audit').map((l) => String(l.bind));
    expect(audits).toHaveLength(4);
    expect(audits[0]).toBe(`cn=${'a'.repeat(253)}… (${name200k.length} characters)`);
    expect(audits[2]).toBe(`cn=${'b'.repeat(253)}… (${name512k.length} characters)`);
    const ops = lines.filter((l) => l.msg === 'operation');
    expect(ops.find((l) => l.op === 'search' && String(l.dn).startsWith('cn=ccc'))?.dn).toBe(`cn=${'c'.repeat(253)}… (${longBase.length} characters)`);
    const filter = String(ops.find((l) => String(l.filter).startsWith('(description=ddd'))?.filter);
    expect(filter).toMatch(/^\(description=d+… \(\d+ characters\)$/);
    expect(filter.indexOf('…')).toBe(1024);
    expect(lines.find((l) => l.msg === 'request rejected' && l.code === 34)).toBeDefined();
  });
});
