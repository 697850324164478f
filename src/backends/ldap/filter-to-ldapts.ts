import {
  AndFilter,
  ApproximateFilter,
  Ber,
  EqualityFilter,
  ExtensibleFilter,
  GreaterThanEqualsFilter,
  LessThanEqualsFilter,
  NotFilter,
  OrFilter,
  PresenceFilter,
  SubstringFilter,
  type BerWriter,
  type Filter as LdaptsFilter,
} from 'ldapts';
import type { Filter } from '../../core/filter.js';

/**
 * Converts a core filter into ldapts filter objects whose assertion values go on the wire as the
 * exact bytes they hold. Never through a filter string: ldapts' string parser turns `\80` into
 * U+0080 and sends it as C2 80, which breaks every binary (objectGUID) match.
 */
export function toLdaptsFilter(filter: Filter): LdaptsFilter {
  switch (filter.type) {
    case 'and':
      return new AndFilter({ filters: filter.filters.map(toLdaptsFilter) });
    case 'or':
      return new OrFilter({ filters: filter.filters.map(toLdaptsFilter) });
    case 'not':
      return new NotFilter({ filter: toLdaptsFilter(filter.filter) });
    case 'present':
      return new PresenceFilter({ attribute: filter.attribute });
    case 'equality':
      return new EqualityFilter({ attribute: filter.attribute, value: filter.value });
    case 'ge':
      return bytesAssertion(GreaterThanEqualsFilter, filter.attribute, filter.value);
    case 'le':
      return bytesAssertion(LessThanEqualsFilter, filter.attribute, filter.value);
    case 'approx':
      return bytesAssertion(ApproximateFilter, filter.attribute, filter.value);
    case 'substrings':
      return new BytesSubstrings(filter.attribute, filter.initial, filter.any, filter.final);
    case 'extensible':
      return new BytesExtensible(filter.rule, filter.attribute, filter.value, filter.dnAttributes);
  }
}

// ldapts types these assertion values as strings and writes them as UTF-8; the subclasses keep
// the text form (for toString in logs) and write the bytes.

function writeAssertion(writer: BerWriter, attribute: string, value: Buffer): void {
  writer.writeString(attribute);
  writer.writeBuffer(value, Ber.OctetString);
}

/** ldapts writes assertion values as UTF-8 text; these keep the filter's exact bytes. */
function bytesAssertion(
  Kind: typeof GreaterThanEqualsFilter | typeof LessThanEqualsFilter | typeof ApproximateFilter,
  attribute: string,
  bytes: Buffer,
) {
  const filter = new Kind({ attribute, value: bytes.toString('utf8') });
  filter.writeFilter = (writer: BerWriter) => writeAssertion(writer, attribute, bytes);
  return filter;
}

class BytesSubstrings extends SubstringFilter {
  constructor(
    attribute: string,
    private readonly initialBytes: Buffer | undefined,
    private readonly anyBytes: readonly Buffer[],
    private readonly finalBytes: Buffer | undefined,
  ) {
    super({
      attribute,
      initial: initialBytes?.toString('utf8'),
      any: anyBytes.map((b) => b.toString('utf8')),
      final: finalBytes?.toString('utf8'),
    });
  }
  override writeFilter(writer: BerWriter): void {
    writer.writeString(this.attribute);
    writer.startSequence();
    if (this.initialBytes) writer.writeBuffer(this.initialBytes, 0x80);
    for (const b of this.anyBytes) writer.writeBuffer(b, 0x81);
    if (this.finalBytes) writer.writeBuffer(this.finalBytes, 0x82);
    writer.endSequence();
  }
}

class BytesExtensible extends ExtensibleFilter {
  constructor(
    rule: string | undefined,
    attribute: string | undefined,
    private readonly bytes: Buffer,
    dnAttributes: boolean,
  ) {
    super({ rule, matchType: attribute, value: bytes.toString('utf8'), dnAttributes });
  }
  override writeFilter(writer: BerWriter): void {
    if (this.rule) writer.writeString(this.rule, 0x81);
    if (this.matchType) writer.writeString(this.matchType, 0x82);
    writer.writeBuffer(this.bytes, 0x83);
    if (this.dnAttributes) writer.writeBoolean(true, 0x84);
  }
}
