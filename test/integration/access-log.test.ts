import { PassThrough } from 'node:stream';
import { Attribute, Change, Client, EqualityFilter } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { SERVICE_PASSWORD, USER_PASSWORD } from '../../src/tools/fixture-generator.js';
import { startTestServer } from '../support/server.js';

// The per-operation access log: one JSON line per operation with what an administrator needs,
// and never a password, whichever operation carried it.
describe('access log', () => {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const service = 'CN=svc-canopy,OU=ServiceAccounts,DC=avvid,DC=info';
  const john = 'CN=John Doe,OU=Users,DC=avvid,DC=info';
  const secrets = [USER_PASSWORD, SERVICE_PASSWORD, 'Wrong-Guess-123', 'Probe-Secret-456', 'New-Secret-789'];

  beforeAll(async () => {
    const capture = new PassThrough();
    capture.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    server = await startTestServer(undefined, { logger: createLogger('debug', capture) });
    const client = new Client({ url: server.url });
    await client.bind(service, SERVICE_PASSWORD);
    await client.search('DC=avvid,DC=info', { filter: '(sAMAccountName=jdoe)', attributes: ['cn'] });
    await client.search('DC=avvid,DC=info', { filter: new EqualityFilter({ attribute: 'userPassword', value: 'Probe-Secret-456' }) });
    await client.modify(john, new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: ['New-Secret-789'] }) }));
    await client.compare(john, 'userPassword', 'New-Secret-789');
    await expect(client.bind(john, 'Wrong-Guess-123')).rejects.toMatchObject({ code: 49 });
    await client.bind(john, 'New-Secret-789');
    await client.unbind();
    await server.close();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('writes one line per operation with connection, peer, operation, DN, result and duration', () => {
    const ops = lines.filter((l) => l.msg === 'operation');
    expect(ops.map((l) => l.op)).toEqual(['bind', 'search', 'search', 'modify', 'compare', 'bind', 'bind']);
    for (const l of ops) {
      expect(l).toMatchObject({ conn: expect.any(Number), peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/), ms: expect.any(Number) });
    }
    const search = ops.find((l) => l.op === 'search' && String(l.filter).includes('sAMAccountName'));
    expect(search).toMatchObject({ dn: 'DC=avvid,DC=info', scope: 'sub', filter: '(sAMAccountName=jdoe)', code: 0, entries: 1 });
    expect(ops.filter((l) => l.op === 'bind').map((l) => l.code)).toEqual([0, 49, 0]);
  });

  it('never contains a password, in any line', () => {
    expect(raw.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(raw.join('\n')).not.toContain(secret);
    expect(lines.find((l) => String(l.filter).includes('userPassword'))?.filter).toBe('(userPassword=***)');
  });
});
