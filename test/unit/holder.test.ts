import { describe, expect, it } from 'vitest';
import { holderOf, type OperationContext } from '../../src/core/directory.js';
import { Dn } from '../../src/core/dn.js';
import type { Identity } from '../../src/core/identity.js';

/** Whose share of a per-identity quota (cursors, searches, sort buffers, cache bytes) an operation counts against. */
describe('holderOf', () => {
  const ctx = (identity: Identity, clientAddress = '192.0.2.1'): OperationContext => ({ signal: new AbortController().signal, connectionId: 1, boundDn: '', identity, clientAddress });

  it('one account, one share: a DN by its canonical form, a UPN login without a DN however spelled (case, Unicode compatibility forms)', () => {
    const dn = (text: string): Identity => ({ kind: 'user', forest: 'avvid', dn: Dn.parse(text), login: text });
    expect(holderOf(ctx(dn('CN=John Doe,OU=Users,DC=avvid,DC=info')))).toBe(holderOf(ctx(dn('cn=john doe, ou=users, dc=avvid, dc=info'))));
    const upn = (login: string): Identity => ({ kind: 'user', forest: 'avvid', login });
    const spellings = ['jdoe@avvid.info', 'JDoe@AVVID.INFO', 'ｊｄｏｅ@ａｖｖｉｄ.ｉｎｆｏ'].map((login) => holderOf(ctx(upn(login))));
    expect(new Set(spellings).size).toBe(1);
    expect(holderOf(ctx(upn('jdoe@avvid.info')))).not.toBe(holderOf(ctx({ kind: 'user', forest: 'vse', login: 'jdoe@avvid.info' })));
  });

  it('anonymous clients one share per address', () => {
    expect(holderOf(ctx({ kind: 'anonymous' }, '192.0.2.1'))).not.toBe(holderOf(ctx({ kind: 'anonymous' }, '192.0.2.2')));
  });
});
