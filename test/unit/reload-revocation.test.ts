import { describe, expect, it } from 'vitest';
import { accountRevocation, visibilityChanged } from '../../src/auth/reload-revocation.js';
import type { CanopyConfig } from '../../src/config/schema.js';
import { Dn } from '../../src/core/dn.js';
import type { BindProof, Identity } from '../../src/core/identity.js';

// What a reload withdraws from sessions bound before it, and when it ends paged searches begun before it.

const SYNC = 'cn=sync,ou=accounts,dc=corp,dc=example';
const MONITOR = 'cn=monitor,ou=accounts,dc=corp,dc=example';
const MAPPING = [{ subject: 'CN=([^,]+),OU=Services,O=Example', dn: 'cn=$1,ou=accounts,dc=corp,dc=example' }];

/** The parts of a configuration these checks read. */
function config(parts: {
  accounts?: Record<string, string>;
  subjectMapping?: { subject: string; dn: string }[];
  access?: unknown[];
  forests?: { name: string; hide?: string[]; unknown?: 'pass' | 'hide' }[];
}): CanopyConfig {
  return {
    accounts: Object.entries(parts.accounts ?? {}).map(([dn, passwordHash]) => ({ dn, passwordHash })),
    ...(parts.subjectMapping && { tls: { subjectMapping: parts.subjectMapping } }),
    ...(parts.access && { access: parts.access }),
    forests: (parts.forests ?? [{ name: 'avvid' }]).map((f) => ({ name: f.name, attributes: { hide: f.hide ?? [], unknown: f.unknown ?? 'pass' } })),
  } as unknown as CanopyConfig;
}

const account = (dn: string): Identity => ({ kind: 'account', dn: Dn.parse(dn) });
const password: BindProof = { method: 'simple' };
const certificate = (subject: string): BindProof => ({ method: 'external', subject });

describe('accountRevocation', () => {
  const before = config({ accounts: { [SYNC]: 'hash-1', [MONITOR]: 'hash-m' }, subjectMapping: MAPPING });

  it('is undefined when no account was removed or re-hashed and the subject mapping is the same', () => {
    expect(accountRevocation(before, config({ accounts: { [MONITOR]: 'hash-m', [SYNC]: 'hash-1' }, subjectMapping: MAPPING, access: [] }))).toBeUndefined();
    expect(accountRevocation(before, config({ accounts: { [MONITOR]: 'hash-m', [SYNC]: 'hash-1', 'cn=new': 'hash-n' }, subjectMapping: MAPPING }))).toBeUndefined();
  });

  it('revokes a removed account however it bound, and nothing else', () => {
    const revoked = accountRevocation(before, config({ accounts: { [MONITOR]: 'hash-m' }, subjectMapping: MAPPING }))!;
    expect(revoked(account(SYNC), password)).toBe(true);
    expect(revoked(account('CN=Sync,OU=Accounts,DC=corp,DC=example'), password)).toBe(true); // by the DN's canonical form
    expect(revoked(account(SYNC), certificate('CN=sync,OU=Services,O=Example'))).toBe(true);
    expect(revoked(account(MONITOR), password)).toBe(false);
    expect(revoked(account(MONITOR), certificate('CN=monitor,OU=Services,O=Example'))).toBe(false);
    expect(revoked({ kind: 'user', forest: 'avvid', dn: Dn.parse(SYNC), login: SYNC }, password)).toBe(false);
    expect(revoked({ kind: 'anonymous' }, password)).toBe(false);
  });

  it('revokes the password sessions of an account whose hash changed, not its certificate sessions', () => {
    const revoked = accountRevocation(before, config({ accounts: { [SYNC]: 'hash-2', [MONITOR]: 'hash-m' }, subjectMapping: MAPPING }))!;
    expect(revoked(account(SYNC), password)).toBe(true);
    expect(revoked(account(SYNC), certificate('CN=sync,OU=Services,O=Example'))).toBe(false);
    expect(revoked(account(MONITOR), password)).toBe(false);
  });

  it('revokes the certificate sessions whose subject the new mapping no longer leads to their account', () => {
    const moved = [{ subject: 'CN=([^,]+),OU=Robots,O=Example', dn: 'cn=$1,ou=accounts,dc=corp,dc=example' }];
    const revoked = accountRevocation(before, config({ accounts: { [SYNC]: 'hash-1', [MONITOR]: 'hash-m' }, subjectMapping: [...moved, ...MAPPING.map((m) => ({ ...m, dn: 'cn=$1,ou=people,dc=corp,dc=example' }))] }))!;
    expect(revoked(account(MONITOR), certificate('CN=monitor,OU=Services,O=Example'))).toBe(true); // now cn=monitor,ou=people
    expect(revoked(account(MONITOR), certificate('CN=monitor,OU=Robots,O=Example'))).toBe(false);
    expect(revoked(account(MONITOR), password)).toBe(false);
    // A mapping that makes the subject no DN at all revokes too.
    const broken = accountRevocation(before, config({ accounts: { [SYNC]: 'hash-1', [MONITOR]: 'hash-m' }, subjectMapping: [{ subject: '.*', dn: 'not a dn' }] }))!;
    expect(broken(account(MONITOR), certificate('CN=monitor,OU=Services,O=Example'))).toBe(true);
  });
});

describe('visibilityChanged', () => {
  const rules = [{ who: 'authenticated', what: { dn: '', scope: 'subtree' }, allow: 'read' }];
  const before = config({ access: rules, forests: [{ name: 'avvid', hide: ['homePhone'] }, { name: 'vse' }] });

  it('is false when the rules and what each forest hides are the same (a forest added, other keys changed)', () => {
    expect(visibilityChanged(before, config({ access: rules, forests: [{ name: 'vse' }, { name: 'avvid', hide: ['homePhone'] }, { name: 'new' }] }))).toBe(false);
  });

  it('is true when the rules change, a forest hides something else, or a forest is removed', () => {
    expect(visibilityChanged(before, config({ access: [...rules, ...rules], forests: [{ name: 'avvid', hide: ['homePhone'] }, { name: 'vse' }] }))).toBe(true);
    expect(visibilityChanged(before, config({ forests: [{ name: 'avvid', hide: ['homePhone'] }, { name: 'vse' }] }))).toBe(true);
    expect(visibilityChanged(before, config({ access: rules, forests: [{ name: 'avvid' }, { name: 'vse' }] }))).toBe(true);
    expect(visibilityChanged(before, config({ access: rules, forests: [{ name: 'avvid', hide: ['homePhone'] }, { name: 'vse', unknown: 'hide' }] }))).toBe(true);
    expect(visibilityChanged(before, config({ access: rules, forests: [{ name: 'avvid', hide: ['homePhone'] }] }))).toBe(true);
  });
});
