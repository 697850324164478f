import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ServerSelector } from '../../src/backends/ldap/server-selector.js';
import { isServerFailure, upstreamError, UpstreamRefusal } from '../../src/backends/ldap/errors.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { createLogger } from '../../src/observability/logger.js';

const logger = createLogger('silent');
const refusal = (status: number, message = '', matchedDn = '') => new UpstreamRefusal({ status, message, matchedDn, controls: [] });

function lineSink(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
}

function selector(clock: { now: number }): ServerSelector {
  return new ServerSelector('avvid', ['ldap://a', 'ldap://b', 'ldap://c'], logger, { initialMs: 100, maxMs: 400 }, () => clock.now);
}

describe('ServerSelector', () => {
  it('skips a failed server until its backoff ends, doubling it per failure, and prefers the first again', () => {
    const clock = { now: 0 };
    const s = selector(clock);
    expect(s.candidates()).toEqual([0, 1, 2]);
    s.markDown(0, new Error('ECONNREFUSED'));
    expect(s.candidates()).toEqual([1, 2]);
    expect(s.shouldLeave(1)).toBe(false);
    clock.now = 100;
    expect(s.candidates()).toEqual([0, 1, 2]);
    expect(s.shouldLeave(1)).toBe(true); // failback: the first server may be tried again
    s.markDown(0, new Error('ECONNREFUSED'));
    clock.now = 250;
    expect(s.candidates()).toEqual([1, 2]);
    clock.now = 300;
    expect(s.candidates()).toEqual([0, 1, 2]);
    s.markUp(0);
    s.markDown(0, new Error('x'));
    clock.now = 399;
    expect(s.candidates()).toEqual([1, 2]);
    clock.now = 400;
    expect(s.candidates()).toEqual([0, 1, 2]); // back to the initial backoff after an answer
  });

  it('counts one failure event once: reports within the backoff neither grow it nor log again', () => {
    const clock = { now: 0 };
    const lines: string[] = [];
    const s = new ServerSelector('avvid', ['ldap://a', 'ldap://b'], createLogger('info', lineSink(lines)), { initialMs: 100, maxMs: 400 }, () => clock.now);
    let downEvents = 0;
    s.onDown(() => downEvents++);
    // Four pooled connections reset by one crash, within milliseconds.
    for (let t = 0; t < 4; t++) {
      clock.now = t * 8;
      s.markDown(0, new Error('ECONNRESET'));
    }
    expect(downEvents).toBe(1);
    expect(lines.filter((l) => l.includes('upstream server marked down'))).toHaveLength(1);
    clock.now = 99;
    expect(s.candidates()).toEqual([1]);
    clock.now = 100; // the first report's backoff, not four doublings of it
    expect(s.candidates()).toEqual([0, 1]);
    expect(s.downServers()).toEqual([0]);
  });

  it('grows the backoff when a server fails again after its backoff, staying down without logging again', () => {
    const clock = { now: 0 };
    const lines: string[] = [];
    const s = new ServerSelector('avvid', ['ldap://a'], createLogger('info', lineSink(lines)), { initialMs: 100, maxMs: 400 }, () => clock.now);
    let downEvents = 0;
    s.onDown(() => downEvents++);
    s.markDown(0, new Error('ECONNREFUSED'));
    clock.now = 100;
    s.markDown(0, new Error('ECONNREFUSED')); // tried again and failed: waits 200 ms now
    clock.now = 299;
    expect(s.candidates()).toEqual([]);
    clock.now = 300;
    expect(s.candidates()).toEqual([0]);
    expect(downEvents).toBe(1);
    expect(lines.filter((l) => l.includes('upstream server marked down'))).toHaveLength(1);
    s.markUp(0);
    expect(s.downServers()).toEqual([]);
    expect(lines.filter((l) => l.includes('upstream server answers again'))).toHaveLength(1);
  });

  it('tries servers in order and names every reason when none answers', async () => {
    const s = selector({ now: 0 });
    const tried: number[] = [];
    const found = await s.firstReachable(async (i) => {
      tried.push(i);
      if (i < 2) throw new Error(`down ${i}`);
      return 'ok';
    });
    expect(found).toEqual({ index: 2, value: 'ok' });
    expect(tried).toEqual([0, 1, 2]);
    const err = await s.firstReachable(() => Promise.reject(refusal(52, 'shutting down'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LdapError);
    expect((err as LdapError).code).toBe(52);
    expect((err as LdapError).message).toBe('forest "avvid": no server reachable');
    expect((err as LdapError).detail).toBe('ldap://a: down 0; ldap://b: down 1; ldap://c: unavailable (52)');
  });

  it('stops at an error that is not a server failure', async () => {
    const s = selector({ now: 0 });
    const refused = new LdapError(49, 'invalid credentials');
    await expect(s.firstReachable(() => Promise.reject(refused))).rejects.toBe(refused);
    expect(s.candidates()).toEqual([0, 1, 2]);
  });
});

describe('upstream errors', () => {
  it('classifies server failures', () => {
    expect(isServerFailure(new Error('socket hang up'))).toBe(true);
    expect(isServerFailure(refusal(52))).toBe(true);
    expect(isServerFailure(refusal(51))).toBe(true);
    expect(isServerFailure(refusal(49))).toBe(false);
  });

  it('keeps the upstream code, message and matchedDN', () => {
    const e = upstreamError(refusal(32, 'no such entry', 'OU=Users,DC=x'));
    expect([e.code, e.message, e.matchedDn]).toEqual([32, 'no such entry', 'OU=Users,DC=x']);
    expect(upstreamError(refusal(49)).message).toBe('invalidCredentials'); // no text: the code's name
    expect(upstreamError(new Error('boom')).code).toBe(80);
  });
});
