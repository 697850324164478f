import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServiceCredentials } from '../../src/backends/ldap/service-credentials.js';
import { LdapError } from '../../src/core/ldap-error.js';
import { createLogger } from '../../src/observability/logger.js';

const logger = createLogger('silent');
const refusedBind = new LdapError(49, 'invalid credentials');

describe('ServiceCredentials', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  function withFile(content: string) {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-svc-'));
    const file = join(dir, 'secret');
    writeFileSync(file, content);
    const events: boolean[] = [];
    const credentials = new ServiceCredentials('avvid', { dn: 'CN=svc', password: content.trim(), passwordFile: file }, logger, (r) => events.push(r));
    cleanup.push(() => {
      credentials.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { file, credentials, events };
  }

  it('refuses nothing for a failure other than invalidCredentials', () => {
    const credentials = new ServiceCredentials('avvid', { dn: 'CN=svc', password: 'p' }, logger);
    const used = credentials.current();
    const err = credentials.bindFailed(used, 'ldap://a', new LdapError(53, 'unwilling'));
    expect([err.code, err.message, err.detail]).toEqual([52, 'forest "avvid": its service account could not bind (unwillingToPerform (53))', 'server ldap://a: unwilling']);
    expect(credentials.current()).toBe(used);
  });

  it('after invalidCredentials, gives the refusal instead of the password, never naming the password', () => {
    const events: boolean[] = [];
    const credentials = new ServiceCredentials('avvid', { dn: 'CN=svc', password: 'S3cret' }, logger, (r) => events.push(r));
    const err = credentials.bindFailed(credentials.current(), 'ldap://a', refusedBind);
    expect(err.code).toBe(52);
    // The client hears that the forest's account is refused; the account, server and fix are the log's.
    expect(err.message).toBe('forest "avvid": its service account was refused; no further binds are tried with this password until an operator fixes it');
    expect(err.detail).toContain('the service account CN=svc was refused by ldap://a');
    expect(err.detail).toContain('reload the configuration');
    expect(`${err.message} ${err.detail}`).not.toContain('S3cret');
    expect(() => credentials.current()).toThrow(err);
    expect(events).toEqual([true]);
    credentials.retry();
    expect(credentials.current()).toEqual({ dn: 'CN=svc', password: 'S3cret' });
    expect(events).toEqual([true, false]);
  });

  it('takes a changed password file and lifts the refusal; the same content written again does not', async () => {
    const { file, credentials, events } = withFile('old\n');
    credentials.bindFailed(credentials.current(), 'ldap://a', refusedBind);
    writeFileSync(file, 'old\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await new Promise((r) => setTimeout(r, 1500));
    expect(() => credentials.current()).toThrow(/was refused/);
    writeFileSync(file, 'new\n');
    await vi.waitFor(() => expect(credentials.current()).toEqual({ dn: 'CN=svc', password: 'new' }), { timeout: 3000, interval: 50 });
    expect(events).toEqual([true, false]);
  });

  it('does not refuse the new password for a bind that used the old one', async () => {
    const { file, credentials, events } = withFile('old\n');
    const old = credentials.current();
    await new Promise((r) => setTimeout(r, 200)); // the watch's first look at the file
    writeFileSync(file, 'new\n');
    await vi.waitFor(() => expect(credentials.current()?.password).toBe('new'), { timeout: 3000, interval: 50 });
    expect(credentials.bindFailed(old, 'ldap://a', refusedBind).message).toMatch(/its service account could not bind/);
    expect(credentials.current()?.password).toBe('new');
    expect(events).toEqual([]);
  });
});
