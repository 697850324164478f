import { LdapError } from './ldap-error.js';
import { ResultCode } from './result-codes.js';
import { sidFromText, sidToText } from './sid.js';

/**
 * Active Directory's alternative forms of a DN ([MS-ADTS] 3.1.1.3.1.2.4): `<SID=S-1-5-21-…>` or
 * `<SID=hex bytes>`, `<GUID=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx>` or `<GUID=32 hex digits>`. They
 * name an entry by its objectSid or objectGUID rather than by its place in the tree; the front end
 * resolves them to the entry's DN before the operation runs (frontend/alternative-dn-resolver.ts).
 */
export interface AlternativeDn {
  /** The attribute whose value names the entry. */
  readonly attribute: 'objectSid' | 'objectGUID';
  /** That value's bytes, as stored. */
  readonly value: Buffer;
  /** As the client wrote it (logs, messages). */
  readonly text: string;
}

const FORM = /^<(SID|GUID)=(.*)>$/is;
const HEX = /^(?:[0-9a-f]{2})+$/i;
const DASHED_GUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/** Whether the text is meant as an alternative form rather than an RFC 4514 DN (which cannot start with `<`). */
export function isAlternativeDn(text: string): boolean {
  return text.trimStart().startsWith('<');
}

/** The alternative form in `text`; malformed content is invalidDNSyntax, as any malformed DN. */
export function parseAlternativeDn(text: string): AlternativeDn {
  const m = FORM.exec(text.trim());
  const kind = m?.[1].toUpperCase();
  const value = m && (kind === 'SID' ? sidValue(m[2]) : guidValue(m[2]));
  if (!value) throw new LdapError(ResultCode.invalidDNSyntax, `invalid DN "${text}": expected <SID=…> or <GUID=…>`);
  return { attribute: kind === 'SID' ? 'objectSid' : 'objectGUID', value, text };
}

function sidValue(text: string): Buffer | undefined {
  if (!HEX.test(text)) return sidFromText(text);
  const bytes = Buffer.from(text, 'hex');
  return sidToText(bytes) === undefined ? undefined : bytes;
}

/** The dashed form is AD's display of objectGUID: its first three groups are little-endian. */
function guidValue(text: string): Buffer | undefined {
  if (HEX.test(text)) return text.length === 32 ? Buffer.from(text, 'hex') : undefined;
  const m = DASHED_GUID.exec(text);
  if (!m) return undefined;
  const le = (hex: string): Buffer => Buffer.from(hex, 'hex').reverse();
  return Buffer.concat([le(m[1]), le(m[2]), le(m[3]), Buffer.from(m[4] + m[5], 'hex')]);
}
