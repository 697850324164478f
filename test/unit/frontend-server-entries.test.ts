import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import type { OperationContext } from '../../src/core/directory.js';
import type { Authenticator } from '../../src/core/identity.js';
import { attributeType, objectClass } from '../../src/core/schema.js';
import { rootDseAttributes, rootDseEntry } from '../../src/frontend/root-dse.js';
import { Session } from '../../src/frontend/session.js';
import { attributeTypeDescription, objectClassDescription, subschemaEntry } from '../../src/frontend/subschema.js';

describe('subschema', () => {
  it('renders RFC 4512 descriptions from the schema tables', () => {
    expect(attributeTypeDescription(attributeType('sAMAccountName')!)).toBe(
      "( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    );
    expect(attributeTypeDescription(attributeType('cn')!)).toContain("NAME ( 'cn' 'commonName' )");
    expect(attributeTypeDescription(attributeType('modifyTimestamp')!)).toMatch(/NO-USER-MODIFICATION USAGE directoryOperation \)$/);
    expect(objectClassDescription(objectClass('person')!)).toMatch(/^\( 2\.5\.6\.6 NAME 'person' SUP top STRUCTURAL MUST cn MAY \( sn \$ /);
    const entry = subschemaEntry();
    expect(entry.dn.text).toBe('cn=Subschema');
    expect(entry.get('attributeTypes')!.values.length).toBeGreaterThan(10);
  });
});

describe('root DSE', () => {
  it('lists naming contexts and extensions', () => {
    const e = rootDseEntry([Dn.parse('DC=avvid,DC=info')], { startTls: true, vendorVersion: '1.2.3' });
    expect(e.get('namingContexts')!.values).toEqual(['DC=avvid,DC=info']);
    expect(e.get('supportedExtension')!.values).toEqual(['1.3.6.1.4.1.4203.1.11.3', '1.3.6.1.4.1.4203.1.11.1', '1.3.6.1.4.1.1466.20037']);
    expect(rootDseEntry([], { startTls: false, vendorVersion: 'x' }).get('supportedExtension')!.values).toEqual(['1.3.6.1.4.1.4203.1.11.3', '1.3.6.1.4.1.4203.1.11.1']);
    expect(rootDseAttributes([])).toEqual(['*', '+']);
    expect(rootDseAttributes(['1.1'])).toEqual(['1.1']);
  });
});

describe('Session.bind', () => {
  const ctx: OperationContext = { signal: new AbortController().signal, connectionId: 1, boundDn: '' };
  const calls: string[] = [];
  const authenticator: Authenticator = {
    authenticate: async ({ name }) => {
      calls.push(name);
      return { kind: 'account', dn: Dn.parse(name) };
    },
    authenticateCertificate: async ({ subject }) => {
      calls.push(`EXTERNAL ${subject}`);
      return { kind: 'account', dn: Dn.parse(subject) };
    },
    provePassword: () => Promise.reject(new Error('not used by these tests')),
  };
  const client = { peer: '127.0.0.1', secure: false };
  const simple = (password: string) => ({ method: 'simple' as const, password: Buffer.from(password) });

  it('binds anonymously, refuses unauthenticated binds without asking the authenticator, forwards real ones', async () => {
    const s = new Session();
    await s.bind(3, '', simple(''), authenticator, client, ctx);
    expect(s.boundDn).toBe('');
    expect(s.identity).toEqual({ kind: 'anonymous' });
    await expect(s.bind(3, 'cn=a', simple(''), authenticator, client, ctx)).rejects.toMatchObject({ code: 53 });
    expect(calls).toEqual([]);
    await s.bind(3, 'cn=a', simple('pw'), authenticator, client, ctx);
    expect(s.boundDn).toBe('cn=a');
    expect(s.identity).toMatchObject({ kind: 'account' });
    await expect(s.bind(2, 'cn=a', simple('pw'), authenticator, client, ctx)).rejects.toMatchObject({ code: 2 });
    expect(s.boundDn).toBe('');
    expect(s.identity).toEqual({ kind: 'anonymous' });
    await expect(s.bind(3, '', { method: 'sasl', mechanism: 'GSSAPI' }, authenticator, client, ctx)).rejects.toMatchObject({ code: 7 });
  });

  it('binds with SASL EXTERNAL only on a verified client certificate, asserting no identity but its own (RFC 4513 §5.2.3)', async () => {
    const s = new Session();
    const external = (credentials?: string) => ({ method: 'sasl' as const, mechanism: 'EXTERNAL', ...(credentials !== undefined && { credentials: Buffer.from(credentials) }) });
    const verified = { peer: '127.0.0.1', secure: true, certificate: { state: 'verified' as const, subject: 'CN=svc,O=Example' } };
    calls.length = 0;
    // No TLS, TLS without a certificate, an unverified certificate: inappropriateAuthentication, the authenticator not asked.
    await expect(s.bind(3, '', external(), authenticator, client, ctx)).rejects.toMatchObject({ code: 48, message: expect.stringContaining('no TLS') });
    await expect(s.bind(3, '', external(), authenticator, { ...client, secure: true, certificate: { state: 'none' } }, ctx)).rejects.toMatchObject({ code: 48 });
    const unverified = { ...client, secure: true, certificate: { state: 'unverified' as const, reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } };
    await expect(s.bind(3, '', external(), authenticator, unverified, ctx)).rejects.toMatchObject({ code: 48, message: expect.stringContaining('UNABLE_TO_VERIFY_LEAF_SIGNATURE') });
    // An authorization identity other than a DN: invalidCredentials.
    await expect(s.bind(3, '', external('u:svc'), authenticator, verified, ctx)).rejects.toMatchObject({ code: 49 });
    expect(calls).toEqual([]);
    await s.bind(3, '', external(), authenticator, verified, ctx);
    expect(s.identity).toEqual({ kind: 'account', dn: Dn.parse('CN=svc,O=Example') });
    expect(s.boundDn).toBe('CN=svc,O=Example');
    await s.bind(3, '', external('dn:cn=svc,o=example'), authenticator, verified, ctx);
    expect(calls).toEqual(['EXTERNAL CN=svc,O=Example', 'EXTERNAL CN=svc,O=Example']);
  });
});
