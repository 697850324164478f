import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import messages from '@ldapjs/messages';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import type { Directory, OperationContext, SearchRequest } from '../../src/core/directory.js';
import { Entry } from '../../src/core/entry.js';
import { compileFilter } from '../../src/core/filter-eval.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { failedSearch } from '../../src/core/search-stream.js';
import { createLogger } from '../../src/observability/logger.js';
import { BerReader } from '../../src/protocol/ber-reader.js';
import { MessageFramer } from '../../src/protocol/framing.js';
import { dnAuthenticator } from '../support/dn-authenticator.js';
import { startFrontEnd, type FrontEnd } from '../../src/frontend/listener.js';

const run = promisify(execFile);
const suffix = Dn.parse('dc=example,dc=com');
const guid = Buffer.from([0x00, 0x80, 0xff, 0x41]);

/** A handful of entries, plus `ou=big` (an endless stream that counts its pulls) and `ou=slow`. */
class TestDirectory implements Directory {
  readonly binds: string[] = [];
  bigPulls = 0;
  bigReturned = false;
  readonly entries = [
    new Entry(suffix, [{ name: 'objectClass', values: ['top', 'domain'] }, { name: 'dc', values: ['example'] }]),
    person('jdoe', 'John Doe'),
    person('asmith', 'Alice Smith'),
    person('jose', 'José Núñez'),
  ];

  namingContexts(): readonly Dn[] {
    return [suffix];
  }

  search(request: SearchRequest, ctx: OperationContext): AsyncIterable<Entry> {
    if (request.base.text === 'ou=big,dc=example,dc=com') return this.big(ctx);
    if (request.base.text === 'ou=slow,dc=example,dc=com') return slow(ctx);
    const match = compileFilter(request.filter);
    const base = request.base;
    const entries = this.entries;
    if (!entries.some((e) => e.dn.equals(base))) {
      return failedSearch(new LdapError(ResultCode.noSuchObject, 'no such entry', suffix.text));
    }
    return (async function* () {
      for (const e of entries) {
        const inScope =
          request.scope === 'base' ? e.dn.equals(base) : request.scope === 'one' ? e.dn.parent()?.equals(base) : e.dn.isWithin(base);
        if (inScope && match(e)) yield e;
      }
    })();
  }

  private async *big(ctx: OperationContext): AsyncGenerator<Entry> {
    try {
      for (let i = 0; i < 1_000_000 && !ctx.signal.aborted; i++) {
        this.bigPulls++;
        yield new Entry(suffix.child(`cn=user${i}`), [{ name: 'description', values: ['x'.repeat(1000)] }]);
      }
    } finally {
      this.bigReturned = true;
    }
  }

  async bind(dn: Dn, password: Buffer): Promise<void> {
    this.binds.push(dn.text);
    if (!this.entries.some((e) => e.dn.equals(dn)) || password.toString() !== 'secret') {
      throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
    }
  }

  async add(): Promise<void> {
    throw new LdapError(ResultCode.unwillingToPerform, 'read-only');
  }
  async modify(): Promise<void> {
    throw new Error('boom: internal detail');
  }
  /** While set, a delete waits for it (a write a slow forest has not answered yet). */
  deleteGate: Promise<void> | undefined;
  async delete(): Promise<void> {
    await this.deleteGate;
    throw new LdapError(ResultCode.noSuchObject, 'no such entry', suffix.text);
  }
  async modifyDn(): Promise<void> {
    throw new LdapError(ResultCode.unwillingToPerform, 'read-only');
  }
  async compare(_dn: Dn, _attribute: string, value: unknown): Promise<boolean> {
    return value === 'John Doe';
  }
  async passwordModify(): Promise<void> {
    throw new LdapError(ResultCode.unwillingToPerform, 'read-only');
  }
  async close(): Promise<void> {}
}

function person(uid: string, cn: string): Entry {
  return new Entry(suffix.child(`cn=${cn}`), [
    { name: 'objectClass', values: ['top', 'person'] },
    { name: 'cn', values: [cn] },
    { name: 'uid', values: [uid] },
    { name: 'objectGUID', values: [guid] },
  ]);
}

async function* slow(ctx: OperationContext): AsyncGenerator<Entry> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 30_000);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
  if (ctx.signal.aborted) throw new LdapError(ResultCode.other, 'aborted');
  yield new Entry(suffix);
}

// --- raw protocol helpers -------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

function searchBytes(messageId: number, base: string, filter = '(objectClass=*)', scope: 'base' | 'sub' = 'base'): Buffer {
  return Buffer.from(
    new messages.SearchRequest({ messageId, baseObject: base, scope, filter, attributes: [] }).toBer().buffer,
  );
}

interface Response {
  messageId: number;
  tag: number;
  code?: number;
}

function readResponse(msg: Buffer): Response {
  const r = new BerReader(msg).child(0x30);
  const messageId = r.int();
  const tag = r.peek();
  if (tag === 0x64) return { messageId, tag };
  const op = r.child(tag);
  return { messageId, tag, code: op.enumerated() };
}

/** A raw client: collects responses until `until` says stop or the server closes. */
function rawExchange(port: number, payload: Buffer | Buffer[], until: (r: Response[]) => boolean): Promise<{ responses: Response[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const framer = new MessageFramer(1 << 24);
    const responses: Response[] = [];
    let finished = false;
    const finish = (closed: boolean): void => {
      if (finished) return;
      finished = true;
      socket.destroy();
      resolve({ responses, closed });
    };
    socket.on('data', (chunk) => {
      framer.push(chunk);
      for (let m = framer.next(); m; m = framer.next()) responses.push(readResponse(m));
      if (until(responses)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err) => (finished ? undefined : reject(err)));
    for (const p of Array.isArray(payload) ? payload : [payload]) socket.write(p);
  });
}

// --------------------------------------------------------------------------------------------

let dir: TestDirectory;
let fe: FrontEnd;
let tmp: string;
let url: string;
let ldapsUrl: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'canopy-fe-'));
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem'),
  ]);
  dir = new TestDirectory();
  fe = await startFrontEnd({
    ldap: { host: '127.0.0.1', port: 0 },
    ldaps: { host: '127.0.0.1', port: 0 },
    tls: { cert: readFileSync(join(tmp, 'cert.pem')), key: readFileSync(join(tmp, 'key.pem')) },
    limits: { maxMessageBytes: 1 << 20, maxConnections: 100, idleTimeoutMs: 0, maxPendingOperations: 64 },
    directory: dir,
    authenticator: dnAuthenticator(dir),
    logger: createLogger('silent'),
    vendorVersion: '0.0.0-test',
  });
  url = fe.urls[0];
  ldapsUrl = fe.urls[1];
});

afterAll(async () => {
  await fe?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const tlsEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LDAPTLS_CACERT: join(tmp, 'cert.pem'), LDAPTLS_REQCERT: 'demand' });

async function normalSearchStillWorks(): Promise<void> {
  const client = new Client({ url });
  try {
    const { searchEntries } = await client.search('dc=example,dc=com', { scope: 'sub', filter: '(uid=jdoe)' });
    expect(searchEntries.map((e) => e.dn)).toEqual(['cn=John Doe,dc=example,dc=com']);
  } finally {
    await client.unbind();
  }
}

describe('front end with real clients', () => {
  it('serves the root DSE to ldapsearch and ldapts', async () => {
    const { stdout } = await run('ldapsearch', ['-x', '-LLL', '-H', url, '-b', '', '-s', 'base']);
    expect(stdout).toContain('namingContexts: dc=example,dc=com');
    expect(stdout).toContain('supportedLDAPVersion: 3');
    expect(stdout).toContain('supportedExtension: 1.3.6.1.4.1.1466.20037');
    expect(stdout).toContain('subschemaSubentry: cn=Subschema');
    expect(stdout).toContain('vendorName: Canopy');
    const client = new Client({ url });
    const { searchEntries } = await client.search('', { scope: 'base', attributes: ['+'] });
    expect(searchEntries[0]).toMatchObject({ dn: '', vendorVersion: '0.0.0-test', namingContexts: 'dc=example,dc=com' });
    const none = await client.search('', { scope: 'base', attributes: ['1.1'] });
    expect(none.searchEntries[0]).not.toHaveProperty('vendorName');
    await client.unbind();
  });

  it('publishes the subschema', async () => {
    const { stdout } = await run('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', url, '-b', 'cn=Subschema', '-s', 'base', 'attributeTypes']);
    expect(stdout).toContain("attributeTypes: ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch");
  });

  it('returns several entries, binary values and non-ASCII DNs as spelled', async () => {
    const client = new Client({ url });
    const { searchEntries } = await client.search('dc=example,dc=com', {
      scope: 'sub',
      filter: '(objectClass=person)',
      explicitBufferAttributes: ['objectGUID'],
    });
    expect(searchEntries.map((e) => e.dn)).toEqual([
      'cn=John Doe,dc=example,dc=com',
      'cn=Alice Smith,dc=example,dc=com',
      'cn=José Núñez,dc=example,dc=com',
    ]);
    expect((searchEntries[0].objectGUID as Buffer).equals(guid)).toBe(true);
    const { stdout } = await run('ldapsearch', ['-x', '-LLL', '-H', url, '-b', 'dc=example,dc=com', '(uid=jose)', 'cn']);
    expect(stdout).toContain(`dn:: ${Buffer.from('cn=José Núñez,dc=example,dc=com').toString('base64')}`);
    await client.unbind();
  });

  it('reports size limits, directory errors, and hides internal errors', async () => {
    const client = new Client({ url });
    // ldapts hands back the entries of a sizeLimitExceeded search; ldapsearch reports the code.
    const limited = await client.search('dc=example,dc=com', { scope: 'sub', sizeLimit: 2 });
    expect(limited.searchEntries).toHaveLength(2);
    await expect(run('ldapsearch', ['-x', '-LLL', '-z', '2', '-H', url, '-b', 'dc=example,dc=com'])).rejects.toMatchObject({ code: 4 });
    await expect(client.search('ou=missing,dc=example,dc=com', { scope: 'sub' })).rejects.toMatchObject({ code: 32 });
    await expect(client.modify('cn=John Doe,dc=example,dc=com', [])).rejects.toMatchObject({ code: 80, message: expect.not.stringContaining('boom') });
    await expect(client.compare('cn=John Doe,dc=example,dc=com', 'cn', 'John Doe')).resolves.toBe(true);
    await expect(client.search('cn=a,,', {})).rejects.toMatchObject({ code: 34 });
    await client.unbind();
  });

  it('handles bind outcomes without forwarding unauthenticated binds', async () => {
    const client = new Client({ url });
    await client.bind('', '');
    const before = dir.binds.length;
    await expect(client.bind('cn=John Doe,dc=example,dc=com', '')).rejects.toMatchObject({ code: 53 });
    expect(dir.binds.length).toBe(before);
    await expect(client.bind('cn=John Doe,dc=example,dc=com', 'wrong')).rejects.toMatchObject({ code: 49 });
    await client.bind('cn=John Doe,dc=example,dc=com', 'secret');
    const who = await client.exop('1.3.6.1.4.1.4203.1.11.3');
    expect(who.value).toBe('dn:cn=John Doe,dc=example,dc=com');
    await expect(client.exop('1.2.3.4')).rejects.toMatchObject({ code: 2 });
    await client.unbind();
  });

  it('upgrades with StartTLS (ldapsearch -ZZ and ldapts) and serves LDAPS', async () => {
    const { stdout } = await run('ldapsearch', ['-x', '-ZZ', '-LLL', '-H', url, '-b', 'dc=example,dc=com', '(uid=jdoe)', 'uid'], { env: tlsEnv() });
    expect(stdout).toContain('uid: jdoe');
    const ldaps = await run('ldapsearch', ['-x', '-LLL', '-H', ldapsUrl, '-b', '', '-s', 'base', 'vendorName'], { env: tlsEnv() });
    expect(ldaps.stdout).toContain('vendorName: Canopy');
    const client = new Client({ url });
    await client.startTLS({ ca: readFileSync(join(tmp, 'cert.pem')), servername: 'localhost' });
    await expect(client.startTLS({ rejectUnauthorized: false })).rejects.toMatchObject({ code: 1 });
    const { searchEntries } = await client.search('dc=example,dc=com', { scope: 'sub', filter: '(uid=asmith)' });
    expect(searchEntries).toHaveLength(1);
    await client.unbind();
  });

  it('ends a search at its time limit', async () => {
    const client = new Client({ url });
    await expect(client.search('ou=slow,dc=example,dc=com', { timeLimit: 1 })).rejects.toMatchObject({ code: 3 });
    await client.unbind();
  });

  it('refuses critical controls it does not implement', async () => {
    const msg = new messages.SearchRequest({ messageId: 1, baseObject: '', scope: 'base', filter: '(objectClass=*)' });
    const raw = Buffer.from(msg.toBer().buffer);
    const control = tlv(0x30, Buffer.concat([tlv(0x04, Buffer.from('1.2.3.4.5')), Buffer.from([0x01, 0x01, 0xff])]));
    const inner = raw.subarray(2);
    const withControl = tlv(0x30, Buffer.concat([inner, tlv(0xa0, control)]));
    const { responses } = await rawExchange(fe.ldapPort!, withControl, (r) => r.length >= 1);
    expect(responses).toEqual([{ messageId: 1, tag: 0x65, code: 12 }]);
  });
});

describe('front end under abuse', () => {
  it('answers pipelined requests with their own IDs and honours Abandon', async () => {
    const abandon = tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x03]), Buffer.from([0x50, 0x01, 0x02])]));
    const payload = Buffer.concat([searchBytes(1, ''), searchBytes(2, 'ou=slow,dc=example,dc=com'), abandon, searchBytes(4, 'dc=example,dc=com', '(uid=*)', 'sub')]);
    const { responses } = await rawExchange(fe.ldapPort!, payload, (r) => r.filter((x) => x.tag === 0x65).length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(responses.filter((r) => r.tag === 0x65).map((r) => r.messageId).sort()).toEqual([1, 4]);
    expect(responses.filter((r) => r.messageId === 4 && r.tag === 0x64)).toHaveLength(3);
    expect(responses.some((r) => r.messageId === 2)).toBe(false);
  });

  it('a bind waits for the writes before it, which run to their end: the client leaves one login\'s writes behind at most', async () => {
    let release!: () => void;
    dir.deleteGate = new Promise<void>((resolve) => (release = resolve));
    const del = tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x01]), tlv(0x4a, Buffer.from('cn=held,dc=example,dc=com'))]));
    const anonymousBind = tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x02]), tlv(0x60, Buffer.from([0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]))]));
    const exchange = rawExchange(fe.ldapPort!, [del, anonymousBind], (r) => r.some((x) => x.messageId === 2));
    const early = await Promise.race([exchange.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
    expect(early).toBe('waiting');
    release();
    dir.deleteGate = undefined;
    const { responses } = await exchange;
    // The delete was abandoned by the bind: it ran to its end, its answer withheld; then the bind was answered.
    expect(responses.map((r) => [r.messageId, r.code])).toEqual([[2, 0]]);
  });

  it('answers 10,000 pipelined searches sent in one write', async () => {
    const payload = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => searchBytes(i + 1, '')));
    const { responses } = await rawExchange(fe.ldapPort!, payload, (r) => r.filter((x) => x.tag === 0x65).length >= 10_000);
    const done = new Set(responses.filter((r) => r.tag === 0x65 && r.code === 0).map((r) => r.messageId));
    expect(done.size).toBe(10_000);
    await normalSearchStillWorks();
  });

  it('closes on a truncated message', async () => {
    const msg = searchBytes(1, '');
    const socket = connect(fe.ldapPort!, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.end(msg.subarray(0, msg.length - 3));
    await new Promise((r) => socket.once('close', r));
    await normalSearchStillWorks();
  });

  it('sends a Notice of Disconnection on a wrong outer tag', async () => {
    const { responses, closed } = await rawExchange(fe.ldapPort!, Buffer.from([0x04, 0x03, 0x61, 0x62, 0x63]), () => false);
    expect(closed).toBe(true);
    expect(responses).toEqual([{ messageId: 0, tag: 0x78, code: 2 }]);
    await normalSearchStillWorks();
  });

  it('disconnects a client announcing 2 GiB without buffering it', async () => {
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    const { responses, closed } = await rawExchange(fe.ldapPort!, [Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]), Buffer.alloc(1 << 20)], () => false);
    expect(closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(responses).toEqual([{ messageId: 0, tag: 0x78, code: 2 }]);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 << 20);
    await normalSearchStillWorks();
  });

  it('refuses a filter nested 10,000 levels deep with an error result', async () => {
    let filter = tlv(0x87, Buffer.from('cn'));
    for (let i = 0; i < 10_000; i++) filter = tlv(0xa2, filter);
    const body = Buffer.concat([
      tlv(0x04, Buffer.from('dc=example,dc=com')),
      Buffer.from([0x0a, 0x01, 0x02, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00]),
      filter,
      tlv(0x30, Buffer.alloc(0)),
    ]);
    const request = tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x07]), tlv(0x63, body)]));
    const { responses } = await rawExchange(fe.ldapPort!, request, (r) => r.length >= 1);
    expect(responses).toEqual([{ messageId: 7, tag: 0x65, code: 53 }]);
    await normalSearchStillWorks();
  });

  it('stops pulling entries from the directory while the client does not read', async () => {
    const socket: Socket = connect(fe.ldapPort!, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.pause();
    socket.write(searchBytes(1, 'ou=big,dc=example,dc=com', '(objectClass=*)', 'sub'));
    let last = -1;
    for (let i = 0; i < 50 && dir.bigPulls !== last; i++) {
      last = dir.bigPulls;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(dir.bigPulls).toBe(last); // stalled, not still producing
    expect(dir.bigPulls).toBeLessThan(50_000); // bounded by socket buffers (~1 KB entries), far below 1,000,000
    socket.destroy();
    for (let i = 0; i < 50 && !dir.bigReturned; i++) await new Promise((r) => setTimeout(r, 20));
    expect(dir.bigReturned).toBe(true);
    await normalSearchStillWorks();
  });
});

describe('front end limits', () => {
  it('closes idle connections and refuses connections beyond the limit', async () => {
    const limited = await startFrontEnd({
      ldap: { host: '127.0.0.1', port: 0 },
      limits: { maxMessageBytes: 1 << 16, maxConnections: 1, idleTimeoutMs: 200, maxPendingOperations: 4 },
      directory: new TestDirectory(),
      authenticator: dnAuthenticator(new TestDirectory()),
      logger: createLogger('silent'),
      vendorVersion: 'x',
    });
    try {
      const first = connect(limited.ldapPort!, '127.0.0.1');
      await new Promise((r) => first.once('connect', r));
      const second = await rawExchange(limited.ldapPort!, searchBytes(1, ''), () => false);
      expect(second).toEqual({ responses: [], closed: true });
      const started = Date.now();
      await new Promise((r) => first.once('close', r));
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await limited.close();
    }
  });
});
