import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/backends/memory/password.js';

// userPassword values as slapd and AD-like exports store them, checked by the memory backend's binds.
const pw = (text: string): Buffer => Buffer.from(text, 'utf8');
const digest = (algorithm: string, ...parts: Buffer[]): Buffer => parts.reduce((h, p) => h.update(p), createHash(algorithm)).digest();

describe('memory backend userPassword check', () => {
  it.each(['SSHA', 'SSHA256', 'SSHA512'] as const)('a salted {%s} hash matches its password only', (scheme) => {
    const stored = hashPassword('s3cret', scheme);
    expect(stored.startsWith(`{${scheme}}`)).toBe(true);
    expect(verifyPassword(stored, pw('s3cret'))).toBe(true);
    expect(verifyPassword(stored, pw('s3cre'))).toBe(false);
    expect(verifyPassword(Buffer.from(stored, 'utf8'), pw('s3cret'))).toBe(true);
  });

  it.each([
    ['SHA', 'sha1'],
    ['SHA256', 'sha256'],
    ['SHA512', 'sha512'],
  ])('an unsalted {%s} digest matches its password only, and only at its exact size', (scheme, algorithm) => {
    const exact = digest(algorithm, pw('s3cret'));
    expect(verifyPassword(`{${scheme}}${exact.toString('base64')}`, pw('s3cret'))).toBe(true);
    expect(verifyPassword(`{${scheme.toLowerCase()}}${exact.toString('base64')}`, pw('s3cret'))).toBe(true);
    expect(verifyPassword(`{${scheme}}${exact.toString('base64')}`, pw('other'))).toBe(false);
    expect(verifyPassword(`{${scheme}}${Buffer.concat([exact, Buffer.from([1])]).toString('base64')}`, pw('s3cret'))).toBe(false);
    expect(verifyPassword(`{${scheme}}${exact.subarray(1).toString('base64')}`, pw('s3cret'))).toBe(false);
  });

  it('a salted digest shorter than the algorithm\'s never matches; an unknown scheme never matches', () => {
    const salted = Buffer.concat([digest('sha1', pw('s3cret'), Buffer.from('salt')), Buffer.from('salt')]);
    expect(verifyPassword(`{SSHA}${salted.toString('base64')}`, pw('s3cret'))).toBe(true);
    expect(verifyPassword(`{SSHA}${salted.subarray(0, 19).toString('base64')}`, pw('s3cret'))).toBe(false);
    expect(verifyPassword('{MD5}X03MO1qnZdYdgyfeuILPmQ==', pw('password'))).toBe(false);
  });

  it('a value without a scheme is the password in clear, compared whole', () => {
    expect(verifyPassword('Passw0rd!', pw('Passw0rd!'))).toBe(true);
    expect(verifyPassword('Passw0rd!', pw('Passw0rd'))).toBe(false);
    expect(verifyPassword('Passw0rd!', pw('Passw0rd!!'))).toBe(false);
    expect(verifyPassword('José', pw('José'))).toBe(true);
  });
});
