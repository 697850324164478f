/**
 * The mock journal's ring, held in columns and read back as entries: what a test reads must be
 * what each operation was, in order, across the ring's wrap and clear(), with no password.
 */
import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import type { Identity } from '../../src/core/identity.js';
import type { ObservedOperation } from '../../src/frontend/operation-observer.js';
import { Journal } from '../../src/mock/journal.js';
import { pagedResultsControl } from '../../src/protocol/controls/paged-results.js';

const user: Identity = { kind: 'user', forest: 'corp', dn: Dn.parse('uid=ann,dc=example,dc=com'), login: 'ann' };
const anonymous: Identity = { kind: 'anonymous' };

const bind = (messageId: number, identity: Identity, code = 0): ObservedOperation => ({
  connectionId: 7,
  messageId,
  request: { op: 'bind', version: 3, name: 'uid=ann,dc=example,dc=com', auth: { method: 'simple', password: Buffer.from('s3cret-pw') } },
  controls: [],
  code,
  identity,
  secure: true,
});

const search = (messageId: number, entries: number, controls: ObservedOperation['controls'] = []): ObservedOperation => ({
  connectionId: 8,
  messageId,
  request: {
    op: 'search',
    search: {
      base: Dn.parse('dc=example,dc=com'),
      scope: 'sub',
      filter: { type: 'equality', attribute: 'userPassword', value: Buffer.from('hunter2') },
      attributes: ['cn', 'mail'],
      typesOnly: false,
      sizeLimit: 0,
      timeLimit: 0,
    },
  },
  controls,
  code: 0,
  entries,
  identity: user,
  secure: false,
});

describe('Journal', () => {
  it('reads back each operation as it was, oldest first, after the ring wraps', () => {
    const journal = new Journal(3);
    journal.record(bind(1, user));
    journal.record(search(2, 5, [pagedResultsControl(Buffer.alloc(0), 500)]));
    journal.record({ ...bind(3, anonymous), code: undefined, request: { op: 'bind', version: 3, name: '', auth: { method: 'sasl', mechanism: 'EXTERNAL' } } });
    journal.record(search(4, 0));

    expect(journal.dropped).toBe(1);
    const [sasl, paged, plain] = [journal.entries[1], journal.entries[0], journal.entries[2]];
    expect(journal.entries.map((e) => [e.seq, e.messageId])).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
    expect(paged).toMatchObject({
      connection: 8,
      operation: 'search',
      dn: 'dc=example,dc=com',
      scope: 'sub',
      attributes: ['cn', 'mail'],
      identity: 'dn:uid=ann,dc=example,dc=com',
      tls: false,
      result: 0,
      resultName: 'success',
      entries: 5,
      controls: [{ oid: '1.2.840.113556.1.4.319', critical: false, pageSize: 500, cookie: false }],
    });
    // An abandoned SASL bind: no result, no entries count, the mechanism as its method.
    expect(sasl).toEqual({
      seq: 3,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      connection: 7,
      messageId: 3,
      operation: 'bind',
      controls: [],
      identity: '',
      tls: true,
      dn: '',
      method: 'sasl EXTERNAL',
    });
    expect(plain).toMatchObject({ entries: 0, controls: [] });
    // Read again: the same entries.
    expect(journal.entries).toEqual(journal.entries);
    // No password: not the bind's, not the filter's value.
    const text = JSON.stringify(journal.toJSON());
    expect(text).not.toContain('s3cret-pw');
    expect(text).not.toContain('hunter2');
  });

  it('a simple bind shows its name and method; seq goes on across clear()', () => {
    const journal = new Journal(10);
    journal.record(bind(1, user));
    journal.clear();
    expect(journal.entries).toEqual([]);
    journal.record(bind(2, user, 49));
    expect(journal.entries).toEqual([
      expect.objectContaining({ seq: 2, messageId: 2, operation: 'bind', dn: 'uid=ann,dc=example,dc=com', method: 'simple', result: 49, resultName: 'invalidCredentials', identity: 'dn:uid=ann,dc=example,dc=com' }),
    ]);
    expect(journal.entries[0]).not.toHaveProperty('entries');
    expect(journal.toJSON(2).entries).toEqual([]);
  });

  it('waitFor resolves with an operation recorded later', async () => {
    const journal = new Journal(2);
    const waiting = journal.waitFor((e) => e.operation === 'search' && e.entries === 3);
    journal.record(bind(1, user));
    journal.record(search(2, 3));
    await expect(waiting).resolves.toMatchObject({ seq: 2, messageId: 2, filter: '(userPassword=***)' });
  });
});
