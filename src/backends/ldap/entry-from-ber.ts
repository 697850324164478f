import { isUtf8 } from 'node:buffer';
import { Dn } from '../../core/dn.js';
import { Entry } from '../../core/entry.js';
import type { BerReader } from '../../protocol/ber-reader.js';

const SEQUENCE = 0x30;
const SET = 0x31;
const OCTET_STRING = 0x04;
const BINARY_OPTION = /;binary(?:;|$)/i;
/** Spellings remembered: a forest's entries share a handful. */
const MAX_DECIDED = 1024;

/**
 * Which attributes keep their values as bytes: the configured names, matched case-insensitively
 * and without options (`objectguid` from one server, `objectGUID` from another,
 * `userCertificate;binary`), and any attribute with the `;binary` option.
 */
export class BinaryAttributes {
  private readonly names: ReadonlySet<string>;
  private readonly decided = new Map<string, boolean>();

  constructor(names: readonly string[]) {
    this.names = new Set(names.map((n) => n.toLowerCase()));
  }

  has(type: string): boolean {
    let binary = this.decided.get(type);
    if (binary === undefined) {
      const semicolon = type.indexOf(';');
      binary = this.names.has((semicolon < 0 ? type : type.slice(0, semicolon)).toLowerCase()) || BINARY_OPTION.test(type);
      if (this.decided.size < MAX_DECIDED) this.decided.set(type, binary);
    }
    return binary;
  }
}

/**
 * A SearchResultEntry (RFC 4511 §4.5.2) read from the contents of its protocolOp into a core
 * Entry, without ldapts' intermediate objects: the DN keeps the upstream spelling; values are
 * text, except those of binary attributes and of an attribute with a value that is not UTF-8,
 * which stay bytes (copied: the message lies in the socket's read buffer). Attributes without
 * values are left out. Malformed BER is a BerError, a malformed DN an LdapError.
 */
export function entryFromBer(reader: BerReader, binary: BinaryAttributes): Entry {
  const entry = new Entry(Dn.parse(reader.string()));
  const end = reader.enter(SEQUENCE);
  while (reader.pos < end) {
    const attributeEnd = reader.enter(SEQUENCE);
    const type = reader.string();
    const valuesEnd = reader.enter(SET);
    const start = reader.pos;
    let values: readonly (string | Buffer)[] | undefined = binary.has(type) ? undefined : textValues(reader, valuesEnd);
    if (values === undefined) {
      reader.pos = start;
      values = byteValues(reader, valuesEnd);
    }
    reader.pos = attributeEnd;
    if (values.length > 0) entry.addValues(type, values);
  }
  return entry;
}

/** The values as strings; undefined when one is not UTF-8. */
function textValues(reader: BerReader, end: number): string[] | undefined {
  const { buf } = reader;
  const values: string[] = [];
  while (reader.pos < end) {
    const valueEnd = reader.enter(OCTET_STRING);
    const value = buf.toString('utf8', reader.pos, valueEnd);
    // Decoding replaces malformed sequences by U+FFFD: only then is the stricter check needed.
    if (value.includes('\uFFFD') && !isUtf8(buf.subarray(reader.pos, valueEnd))) return undefined;
    values.push(value);
    reader.pos = valueEnd;
  }
  return values;
}

function byteValues(reader: BerReader, end: number): Buffer[] {
  const values: Buffer[] = [];
  while (reader.pos < end) values.push(Buffer.from(reader.octets(OCTET_STRING)));
  return values;
}
