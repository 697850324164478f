/**
 * Security identifiers in the two forms Active Directory accepts: the binary layout stored in
 * `objectSid` (revision, sub-authority count, 48-bit big-endian authority, 32-bit little-endian
 * sub-authorities) and the string form `S-1-5-21-…-513`, which AD also accepts as an assertion
 * value in a filter ([MS-ADTS] 3.1.1.3.1.2.5). SSSD and other Linux clients look groups and users
 * up by the string form.
 */

/* Which attribute types hold SIDs is the schema's `sid` flag (core/schema.ts). */

const SID_TEXT = /^S-1-(\d{1,15})((?:-\d{1,10}){0,15})$/i;
const MAX_AUTHORITY = 2 ** 48 - 1;
const MAX_SUB_AUTHORITY = 2 ** 32 - 1;

/** `S-1-5-21-…` as bytes; undefined when the text is not a SID in string form. */
export function sidFromText(text: string): Buffer | undefined {
  const m = SID_TEXT.exec(text.trim());
  if (!m) return undefined;
  const authority = Number(m[1]);
  const subs = m[2] === '' ? [] : m[2].slice(1).split('-').map(Number);
  if (authority > MAX_AUTHORITY || subs.some((s) => s > MAX_SUB_AUTHORITY)) return undefined;
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = 1;
  b[1] = subs.length;
  b.writeUIntBE(authority, 2, 6);
  subs.forEach((s, i) => b.writeUInt32LE(s, 8 + 4 * i));
  return b;
}

/** The bytes of a SID assertion value: a string-form SID converted, anything else as it came. */
export function sidAssertionBytes(value: Buffer): Buffer {
  // A binary SID starts with its revision byte 1; the string form with `S`.
  if (value[0] !== 0x53 && value[0] !== 0x73) return value;
  return sidFromText(value.toString('latin1')) ?? value;
}

/** A binary SID in string form; undefined when the bytes are not a SID. */
export function sidToText(b: Buffer): string | undefined {
  if (b.length < 8 || b[0] !== 1 || b.length !== 8 + 4 * b[1]) return undefined;
  const subs = Array.from({ length: b[1] }, (_, i) => b.readUInt32LE(8 + 4 * i));
  return ['S', b[0], b.readUIntBE(2, 6), ...subs].join('-');
}
