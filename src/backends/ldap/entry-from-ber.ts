import { isUtf8 } from 'node:buffer';
import { SiblingDns } from '../../core/dn.js';
import { Entry, type AttributeValue } from '../../core/entry.js';
import { BerError, BerReader } from '../../protocol/ber-reader.js';
import { EncodedAttribute } from '../../core/encoded-attribute.js';

const SEQUENCE = 0x30;
const SET = 0x31;
const OCTET_STRING = 0x04;
const BINARY_OPTION = /;binary(?:;|$)/i;
/** Entries of a search share parents: each parent DN is parsed once (for all forests, bounded). */
const entryDns = new SiblingDns();

/** Spellings remembered: a forest's entries share a handful. */
const MAX_DECIDED = 1024;

/** One spelling of an attribute name as it arrives, with what was decided for it. */
interface Spelling {
  readonly bytes: Buffer;
  readonly name: string;
  readonly binary: boolean;
}

/**
 * Which attributes keep their values as bytes: the configured names, matched case-insensitively
 * and without options (`objectguid` from one server, `objectGUID` from another,
 * `userCertificate;binary`), and any attribute with the `;binary` option. It also remembers the
 * spellings a forest sends (a handful), so an entry's attribute names are matched as bytes rather
 * than decoded into new strings per entry.
 */
export class BinaryAttributes {
  private readonly names: ReadonlySet<string>;
  private readonly decided = new Map<string, boolean>();
  private readonly spellings: Spelling[][] = Array.from({ length: 64 }, () => []);
  private remembered = 0;

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

  /** The attribute name in `buf` from `start` to `end`: one shared string per spelling, and whether it is binary. */
  spelling(buf: Buffer, start: number, end: number): Spelling {
    const length = end - start;
    const bucket = this.spellings[length === 0 ? 0 : (length * 7 + buf[start] + buf[end - 1] * 3) & 63];
    for (const known of bucket) if (known.bytes.length === length && sameBytes(known.bytes, buf, start)) return known;
    const name = buf.toString('utf8', start, end);
    const spelling = { bytes: Buffer.from(buf.subarray(start, end)), name, binary: this.has(name) };
    if (this.remembered < MAX_DECIDED) {
      bucket.push(spelling);
      this.remembered++;
    }
    return spelling;
  }
}

function sameBytes(known: Buffer, buf: Buffer, start: number): boolean {
  for (let i = 0; i < known.length; i++) if (known[i] !== buf[start + i]) return false;
  return true;
}

/**
 * A SearchResultEntry (RFC 4511 §4.5.2) read from the contents of its protocolOp into a core
 * Entry, without ldapts' intermediate objects: the DN keeps the upstream spelling; each attribute
 * keeps its values as the bytes that arrived (an EncodedAttribute over the reader's bytes, which
 * the entry keeps), decoded only if a stage reads them. Attributes without values are left out.
 * Malformed BER is a BerError, a malformed DN an LdapError.
 */
export function entryFromBer(reader: BerReader, binary: BinaryAttributes): Entry {
  const entry = new Entry(entryDns.parse(reader.string()));
  const end = reader.enter(SEQUENCE);
  while (reader.pos < end) {
    const attributeEnd = reader.enter(SEQUENCE);
    const typeEnd = reader.enter(OCTET_STRING);
    const type = binary.spelling(reader.buf, reader.pos, typeEnd);
    reader.pos = typeEnd;
    const valuesEnd = reader.enter(SET);
    const valuesStart = reader.pos;
    // Checked now, so that decoding the values later cannot fail.
    while (reader.pos < valuesEnd) reader.pos = reader.enter(OCTET_STRING);
    if (reader.pos !== valuesEnd) throw new BerError('a value runs past the end of its attribute');
    if (valuesEnd > valuesStart) {
      entry.put(new EncodedAttribute(type.name, reader.buf.subarray(valuesStart, valuesEnd), type.binary ? byteValues : textValues));
    }
    reader.pos = attributeEnd;
  }
  return entry;
}

/** Values as text, unless one is not UTF-8: then every value stays bytes, as for a binary attribute. */
function textValues(encoded: Buffer): AttributeValue[] {
  const reader = new BerReader(encoded);
  const texts: string[] = [];
  while (!reader.atEnd) {
    const end = reader.enter(OCTET_STRING);
    const value = encoded.toString('utf8', reader.pos, end);
    // Decoding replaces malformed sequences by U+FFFD: only then is the stricter check needed.
    if (value.includes('\uFFFD') && !isUtf8(encoded.subarray(reader.pos, end))) return byteValues(encoded);
    texts.push(value);
    reader.pos = end;
  }
  return texts;
}

function byteValues(encoded: Buffer): Buffer[] {
  const reader = new BerReader(encoded);
  const values: Buffer[] = [];
  while (!reader.atEnd) values.push(reader.octets(OCTET_STRING));
  return values;
}
