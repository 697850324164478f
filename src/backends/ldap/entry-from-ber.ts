import { SiblingDns } from '../../core/dn.js';
import { Entry } from '../../core/entry.js';
import type { BerReader } from '../../protocol/ber-reader.js';
import { EncodedAttribute } from '../../core/encoded-attribute.js';

const SEQUENCE = 0x30;
const SET = 0x31;
const BINARY_OPTION = /;binary(?:;|$)/i;
/** Entries of a search share parents: each parent DN is parsed once (for all forests, bounded). */
const entryDns = new SiblingDns();

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
 * Entry, without ldapts' intermediate objects: the DN keeps the upstream spelling; each attribute
 * keeps its values as the bytes that arrived (an EncodedAttribute over the reader's bytes, which
 * the entry keeps), decoded only if a stage reads them. Attributes without values are left out.
 * Malformed BER is a BerError or MalformedValues, a malformed DN an LdapError.
 */
export function entryFromBer(reader: BerReader, binary: BinaryAttributes): Entry {
  const entry = new Entry(entryDns.parse(reader.string()));
  const end = reader.enter(SEQUENCE);
  while (reader.pos < end) {
    const attributeEnd = reader.enter(SEQUENCE);
    const type = reader.string();
    const valuesEnd = reader.enter(SET);
    const attribute = EncodedAttribute.of(type, reader.buf.subarray(reader.pos, valuesEnd), binary.has(type));
    reader.pos = attributeEnd;
    if (attribute) entry.put(attribute);
  }
  return entry;
}
