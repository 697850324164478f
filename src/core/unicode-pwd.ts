import { attributeKey } from './schema.js';

/**
 * Active Directory's password attribute, unicodePwd: written only, as the password in double
 * quotes encoded UTF-16LE. Canopy writes it to AD forests and reads it from clients that change
 * passwords the AD way.
 */

/** Whether an attribute description is unicodePwd (any case, any option, or its OID). */
export function isUnicodePwd(name: string): boolean {
  return attributeKey(name) === 'unicodepwd';
}

/** A password as unicodePwd takes it: in double quotes, UTF-16LE. */
export function unicodePwdValue(password: Buffer): Buffer {
  return Buffer.from(`"${password.toString('utf8')}"`, 'utf16le');
}

/** The password (UTF-8) a unicodePwd value holds; undefined when the value is not quoted UTF-16LE. */
export function passwordOfUnicodePwd(value: Buffer): Buffer | undefined {
  if (value.length < 4 || value.length % 2 !== 0) return undefined;
  const text = value.toString('utf16le');
  if (!text.startsWith('"') || !text.endsWith('"')) return undefined;
  return Buffer.from(text.slice(1, -1), 'utf8');
}
