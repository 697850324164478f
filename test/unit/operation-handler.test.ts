import asn1 from '@ldapjs/asn1';
import messages from '@ldapjs/messages';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryDirectory } from '../../src/backends/memory/memory-directory.js';
import type { Directory } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import type { Authenticator } from '../../src/core/identity.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { ResultCode } from '../../src/core/result-codes.js';
import { LOGGED_VALUE_CHARS } from '../../src/observability/logger.js';
import { metrics } from '../../src/observability/metrics.js';
import { pagedResultsControl } from '../../src/protocol/controls/paged-results.js';
import type { Control, LdapRequest } from '../../src/protocol/decoder.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';
import { ExtendedOid, Op } from '../../src/protocol/tags.js';
import type { ObservedOperation } from '../../src/frontend/operation-observer.js';
import { OperationHandler, type OperationHandlerOptions, type ResponseSink } from '../../src/frontend/operation-handler.js';
import { subschemaEntry } from '../../src/frontend/subschema.js';

/*
 * The operation handler without a socket: decoded requests in, response messages, log lines,
 * metrics and journal entries out, as a connection's client and operator see them.
 */

const SUFFIX = Dn.parse('dc=example');
const ADMIN = 'cn=admin,dc=example';
const PASSWORD = 'correct horse battery';

const LDIF = `dn: dc=example
objectClass: domain
dc: example

dn: ou=people,dc=example
objectClass: organizationalUnit
ou: people

dn: cn=ann,ou=people,dc=example
objectClass: person
cn: ann
sn: Lee

dn: cn=bob,ou=people,dc=example
objectClass: person
cn: bob
sn: Ray
`;

function memory(): MemoryDirectory {
  return MemoryDirectory.fromLdif({ suffix: SUFFIX, sources: [{ name: 'test', text: LDIF }] });
}

/** Accepts the admin's one password; everything else is the uniform invalidCredentials. */
const authenticator: Authenticator = {
  authenticate: async ({ name, password }) => {
    if (name === ADMIN && password.toString('utf8') === PASSWORD) return { kind: 'account', dn: Dn.parse(ADMIN) };
    throw new LdapError(ResultCode.invalidCredentials, 'invalid credentials');
  },
  authenticateCertificate: () => Promise.reject(new LdapError(ResultCode.invalidCredentials, 'no certificate logins here')),
  provePassword: () => Promise.reject(new LdapError(ResultCode.invalidCredentials, 'no password changes here')),
};

interface Parsed {
  messageId: number;
  protocolOp: number;
  pojo: { status?: number; diagnosticMessage?: string; matchedDN?: string; objectName?: string };
  responseName?: string;
  responseValue?: string;
}

/** A connection's client: what was written to it (decoded), and a socket buffer that can be full. */
class RecordingSink implements ResponseSink {
  readonly written: Buffer[] = [];
  dropped: Buffer | undefined;
  /** The socket's buffer is full: every write asks to wait for a drain that comes only with an abort. */
  full = false;
  private firstWrite: (() => void) | undefined;
  readonly wroteOnce = new Promise<void>((resolve) => (this.firstWrite = resolve));

  write(message: Buffer): boolean {
    this.written.push(message);
    this.firstWrite?.();
    return !this.full;
  }

  drained(signal: AbortSignal): Promise<void> {
    if (!this.full || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  dropAfter(last: Buffer): void {
    this.dropped = last;
  }

  secure(): boolean {
    return false;
  }

  clientCertificate(): undefined {
    return undefined;
  }

  get messages(): Parsed[] {
    return this.written.map((b) => messages.LdapMessage.parse(new asn1.BerReader(b)) as never);
  }
}

interface Harness {
  readonly handler: OperationHandler;
  readonly sink: RecordingSink;
  /** The log lines, as JSON objects. */
  readonly lines: Record<string, unknown>[];
  /** The same, as written: for checking what never appears. */
  readonly text: () => string;
  readonly journal: ObservedOperation[];
  /** Runs one request to its end under a fresh signal. */
  readonly run: (messageId: number, request: LdapRequest, controls?: readonly Control[]) => Promise<void>;
}

function harness(options: Partial<OperationHandlerOptions> = {}): Harness {
  const raw: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void raw.push(line) }).child({ conn: 7, peer: '192.0.2.10:40000' });
  const journal: ObservedOperation[] = [];
  const sink = new RecordingSink();
  const handler = new OperationHandler(
    {
      connectionId: 7,
      peerAddress: '192.0.2.10',
      directory: memory(),
      log,
      authenticator,
      rootDse: { startTls: true, vendorVersion: '9.9.9' },
      subschema: subschemaEntry,
      observe: (operation) => journal.push(operation),
      ...options,
    },
    sink,
  );
  return {
    handler,
    sink,
    journal,
    get lines() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    text: () => raw.join(''),
    run: (messageId, request, controls = []) => handler.handle(messageId, request, controls, new AbortController().signal),
  };
}

const bind = (name: string, password: string): LdapRequest => ({ op: 'bind', version: 3, name, auth: { method: 'simple', password: Buffer.from(password) } });

const search = (base: string, filter: string, scope: 'base' | 'one' | 'sub' = 'sub'): LdapRequest => ({
  op: 'search',
  search: { base: Dn.parse(base), scope, filter: parseFilterString(filter), attributes: [], typesOnly: false, sizeLimit: 0, timeLimit: 0 },
});

/** A first page's request control: the request's value has the response's shape (RFC 2696). */
const firstPage = (size: number): Control => pagedResultsControl(Buffer.alloc(0), size);

/** canopy_operations_total for one operation and result code. */
async function answered(op: string, code: number): Promise<number> {
  const { values } = await metrics.operations.get();
  return values.find((v) => v.labels.op === op && v.labels.code === String(code))?.value ?? 0;
}

describe('the operation handler', () => {
  it('binds: the result, the identity, the audit and access log lines, the metric, and never the password', async () => {
    const h = harness();
    const before = { ok: await answered('bind', 0), refused: await answered('bind', 49) };
    await h.run(1, bind(ADMIN, PASSWORD));
    await h.run(2, bind(ADMIN, 'wrong password'));
    expect(h.sink.messages.map((m) => [m.messageId, m.protocolOp, m.pojo.status])).toEqual([
      [1, Op.bindResponse, 0],
      [2, Op.bindResponse, 49],
    ]);
    // A failed bind leaves the connection anonymous (RFC 4511 §4.2.1).
    expect(h.handler.bound).toBe(false);
    expect(h.journal.map((o) => [o.messageId, o.code, o.identity.kind])).toEqual([
      [1, 0, 'account'],
      [2, 49, 'anonymous'],
    ]);
    expect(h.lines.filter((l) => l.msg === 'bind audit')).toMatchObject([
      { conn: 7, peer: '192.0.2.10:40000', bind: ADMIN, identity: 'account', code: 0 },
      { bind: ADMIN, identity: 'anonymous', code: 49 },
    ]);
    expect(h.lines.filter((l) => l.msg === 'operation')).toMatchObject([
      { msgId: 1, op: 'bind', dn: ADMIN, method: 'simple', code: 0 },
      { msgId: 2, op: 'bind', dn: ADMIN, method: 'simple', code: 49, message: 'invalid credentials' },
    ]);
    expect(h.text()).not.toContain(PASSWORD);
    expect(h.text()).not.toContain('wrong password');
    expect(await answered('bind', 0)).toBe(before.ok + 1);
    expect(await answered('bind', 49)).toBe(before.refused + 1);
  });

  it('answers a search with its entries, then the result, and reports how many were sent', async () => {
    const h = harness();
    const before = await answered('search', 0);
    await h.run(3, search('ou=people,dc=example', '(objectClass=person)'));
    const sent = h.sink.messages;
    expect(sent.map((m) => m.protocolOp)).toEqual([Op.searchResultEntry, Op.searchResultEntry, Op.searchResultDone]);
    expect(sent.slice(0, 2).map((m) => m.pojo.objectName).sort()).toEqual(['cn=ann,ou=people,dc=example', 'cn=bob,ou=people,dc=example']);
    expect(sent.every((m) => m.messageId === 3)).toBe(true);
    expect(sent[2].pojo.status).toBe(0);
    expect(h.journal).toMatchObject([{ messageId: 3, code: 0, entries: 2 }]);
    expect(h.lines.filter((l) => l.msg === 'operation')).toMatchObject([
      { msgId: 3, op: 'search', dn: 'ou=people,dc=example', scope: 'sub', filter: '(objectClass=person)', code: 0, entries: 2 },
    ]);
    expect(await answered('search', 0)).toBe(before + 1);
  });

  it('answers the root DSE itself, with what this listener offers', async () => {
    const h = harness();
    await h.run(4, search('', '(objectClass=*)', 'base'));
    const [entry, done] = h.sink.messages;
    expect(entry.protocolOp).toBe(Op.searchResultEntry);
    const attributes = (entry as unknown as { attributes: { type: string; values: string[] }[] }).attributes;
    expect(attributes.find((a) => a.type === 'supportedExtension')?.values).toContain(ExtendedOid.startTls);
    expect(attributes.find((a) => a.type === 'namingContexts')?.values).toEqual(['dc=example']);
    expect(attributes.find((a) => a.type === 'vendorVersion')?.values).toEqual(['9.9.9']);
    expect(done.pojo.status).toBe(0);
  });

  it('caps what a client controls in its access line, which stays one valid JSON line with quotes and backslashes in it', async () => {
    const h = harness();
    const base = `cn=${'x'.repeat(2000)}\\"q,dc=example`;
    await h.run(21, search(base, `(cn=${'y'.repeat(100_000)})`));
    await h.run(22, { op: 'bind', version: 3, name: 'cn="quoted"', auth: { method: 'sasl', mechanism: 'M'.repeat(5000) } });
    const [searched, bound] = h.lines.filter((l) => l.msg === 'operation') as { dn: string; filter?: string; mechanism?: string; code: number }[];
    expect(searched!.dn).toMatch(/^cn=x{253}… \(2017 characters\)$/);
    expect(searched!.filter).toContain('(100005 characters)');
    expect(searched!.filter!.length).toBeLessThan(LOGGED_VALUE_CHARS + 40);
    expect(searched!.code).toBe(ResultCode.noSuchObject);
    expect(bound).toMatchObject({ op: 'bind', dn: 'cn="quoted"', method: 'sasl', code: ResultCode.authMethodNotSupported });
    expect(bound!.mechanism).toContain('(5000 characters)');
    // Each line fits one atomic pipe write (PIPE_BUF), so the workers sharing standard output never split it.
    for (const line of h.text().split('\n')) expect(Buffer.byteLength(line)).toBeLessThan(4096);
  });

  it('writes no result for an abandoned search, logs it as abandoned and journals it without a code', async () => {
    const h = harness();
    h.sink.full = true; // the client does not read: the search waits at its first entry
    const controller = new AbortController();
    const running = h.handler.handle(5, search('ou=people,dc=example', '(objectClass=person)'), [], controller.signal);
    await h.sink.wroteOnce;
    controller.abort(); // what the connection does on Abandon(5)
    await running;
    expect(h.sink.messages.map((m) => m.protocolOp)).toEqual([Op.searchResultEntry]);
    expect(h.journal).toMatchObject([{ messageId: 5, code: undefined }]);
    const [line] = h.lines.filter((l) => l.msg === 'operation');
    expect(line).toMatchObject({ msgId: 5, op: 'search', abandoned: true });
    expect(line).not.toHaveProperty('code');
  });

  it('ends a paged search whose answered page is abandoned', async () => {
    const h = harness();
    await h.run(6, search('ou=people,dc=example', '(objectClass=person)'), [firstPage(1)]);
    expect(h.sink.messages.map((m) => m.protocolOp)).toEqual([Op.searchResultEntry, Op.searchResultDone]);
    expect(h.handler.openCursors).toBe(1);
    h.handler.abandoned(6);
    expect(h.handler.openCursors).toBe(0);
  });

  it('answers an unknown extended operation with protocolError and no responseName (RFC 4511 §4.12)', async () => {
    const h = harness();
    const before = await answered('extended', ResultCode.protocolError);
    await h.run(8, { op: 'extended', oid: '1.2.3.4' });
    const [response] = h.sink.messages;
    expect(response).toMatchObject({ messageId: 8, protocolOp: Op.extendedResponse, pojo: { status: 2, diagnosticMessage: 'unsupported extended operation 1.2.3.4' } });
    expect(response.responseName).toBeUndefined();
    expect(await answered('extended', ResultCode.protocolError)).toBe(before + 1);
    expect(h.lines.filter((l) => l.msg === 'operation')).toMatchObject([{ msgId: 8, op: 'extended', oid: '1.2.3.4', code: 2 }]);
  });

  it('answers Who Am I with the bound identity', async () => {
    const h = harness();
    await h.run(1, bind(ADMIN, PASSWORD));
    await h.run(2, { op: 'extended', oid: ExtendedOid.whoAmI });
    const response = h.sink.messages[1];
    expect(response.pojo.status).toBe(0);
    // @ldapjs/messages shows a response value as its bytes in hex.
    expect(response.responseValue).toBe(`<buffer>${Buffer.from(`dn:${ADMIN}`).toString('hex')}`);
  });

  it('gives a missing entry noSuchObject with the matched DN, and a fault of its own "other" without its details', async () => {
    // The memory directory (reached through the prototype) but for a delete that fails with a bug of its own.
    const failing: Directory = Object.assign(Object.create(memory()) as MemoryDirectory, {
      delete: () => Promise.reject(new TypeError('cannot read properties of undefined (secret detail)')),
    });
    const h = harness({ directory: failing });
    await h.run(9, search('ou=nobody,ou=people,dc=example', '(objectClass=*)'));
    await h.run(10, { op: 'delete', dn: Dn.parse('cn=ann,ou=people,dc=example') });
    const [missing, fault] = h.sink.messages;
    expect(missing).toMatchObject({ messageId: 9, protocolOp: Op.searchResultDone, pojo: { status: ResultCode.noSuchObject, matchedDN: 'ou=people,dc=example' } });
    expect(fault).toMatchObject({ messageId: 10, protocolOp: Op.delResponse, pojo: { status: ResultCode.other, diagnosticMessage: 'internal error' } });
    expect(h.lines.find((l) => l.msg === 'operation failed')).toMatchObject({ level: 50, msgId: 10 });
    expect(h.lines.filter((l) => l.msg === 'operation').map((l) => l.code)).toEqual([ResultCode.noSuchObject, ResultCode.other]);
  });

  it("an upstream failure's server and socket error reach the access log, never the client", async () => {
    const outage = new LdapError(ResultCode.unavailable, 'forest "avvid": search failed after a retry (ECONNREFUSED)', '', 'avvid', 'server ldaps://dc1.corp.internal:636: connect ECONNREFUSED 10.1.2.3:636');
    const failing: Directory = Object.assign(Object.create(memory()) as MemoryDirectory, {
      search: () => ({
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(outage), return: () => Promise.resolve({ done: true as const, value: undefined }) }),
      }),
      delete: () => Promise.reject(outage),
    });
    const h = harness({ directory: failing });
    await h.run(11, search('ou=people,dc=example', '(cn=ann)'));
    await h.run(12, { op: 'delete', dn: Dn.parse('cn=ann,ou=people,dc=example') });
    for (const m of h.sink.messages) {
      expect(m.pojo).toMatchObject({ status: ResultCode.unavailable, diagnosticMessage: 'forest "avvid": search failed after a retry (ECONNREFUSED)' });
    }
    expect(h.sink.written.map((b) => b.toString('latin1')).join('')).not.toMatch(/dc1|10\.1\.2\.3|636/);
    const lines = h.lines.filter((l) => l.msg === 'operation');
    expect(lines.map((l) => [l.msgId, l.code, l.detail])).toEqual([
      [11, 52, 'server ldaps://dc1.corp.internal:636: connect ECONNREFUSED 10.1.2.3:636'],
      [12, 52, 'server ldaps://dc1.corp.internal:636: connect ECONNREFUSED 10.1.2.3:636'],
    ]);
  });

  it('answers a request the decoder refused, and one refused before it ran, under their message IDs', async () => {
    const h = harness();
    const before = await answered('modify', ResultCode.invalidDNSyntax);
    h.handler.rejected(11, Op.modifyResponse, new LdapError(ResultCode.invalidDNSyntax, 'invalid DN'));
    h.handler.refuse(12, 'search', ResultCode.unavailableCriticalExtension, 'critical control 1.2.3 is not supported');
    expect(h.sink.messages.map((m) => [m.messageId, m.protocolOp, m.pojo.status])).toEqual([
      [11, Op.modifyResponse, ResultCode.invalidDNSyntax],
      [12, Op.searchResultDone, ResultCode.unavailableCriticalExtension],
    ]);
    expect(await answered('modify', ResultCode.invalidDNSyntax)).toBe(before + 1);
    expect(h.lines).toMatchObject([{ msg: 'request rejected', msgId: 11, code: ResultCode.invalidDNSyntax, message: 'invalid DN' }]);
  });

  it('keeps the bind audit line when the access log is off', async () => {
    const h = harness({ accessLog: () => false });
    await h.run(1, bind(ADMIN, PASSWORD));
    expect(h.lines.map((l) => l.msg)).toEqual(['bind audit']);
    expect(h.handler.bound).toBe(true);
    h.handler.end(); // the connection closed: the bind ends with it
    expect(h.handler.bound).toBe(false);
  });
});
