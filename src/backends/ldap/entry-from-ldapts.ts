import type { Entry as LdaptsEntry } from 'ldapts';
import { Dn } from '../../core/dn.js';
import { Entry } from '../../core/entry.js';

/**
 * The `explicitBufferAttributes` list for ldapts, matching names case-insensitively and with
 * options (`userCertificate;binary`): ldapts tests it with `includes(type)` against the server's
 * spelling, so `objectguid` from one server and `objectGUID` from another must both match.
 */
export function binaryAttributeList(names: readonly string[]): string[] {
  return new AttributeNameList(names);
}

class AttributeNameList extends Array<string> {
  // map/slice/filter on this list build plain arrays, not this class.
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  private readonly lower: ReadonlySet<string>;

  constructor(names: readonly string[]) {
    super();
    this.push(...names);
    this.lower = new Set(names.map((n) => n.toLowerCase()));
  }

  override includes(type: string): boolean {
    const semicolon = type.indexOf(';');
    return this.lower.has((semicolon < 0 ? type : type.slice(0, semicolon)).toLowerCase());
  }
}

/**
 * A core Entry from an ldapts search entry: the DN keeps the upstream spelling, binary values
 * stay Buffers, and attributes ldapts lists without values (requested but absent) are left out.
 */
export function entryFromLdapts(raw: LdaptsEntry): Entry {
  const entry = new Entry(Dn.parse(raw.dn));
  for (const name in raw) {
    if (name === 'dn') continue;
    const value = raw[name];
    if (!Array.isArray(value)) entry.addValues(name, [value]);
    else if (value.length > 0) entry.addValues(name, value);
  }
  return entry;
}
