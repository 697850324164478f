import type { Dn } from './dn.js';
import { Entry } from './entry.js';
import { attributeKey, isOperational } from './schema.js';

/** Decisions remembered per search: entries of one search share a handful of attribute spellings. */
const MAX_DECISIONS = 1024;

/**
 * Which attributes of an entry a search returns, as RFC 4511 §4.5.1.8 with RFC 3673 decides it:
 * no names or `*` → every user attribute; `+` → every operational one; `1.1` (alone) → none; names
 * match case-insensitively, by alias or OID too, and options do not change which attribute is
 * meant (`member` selects AD's `member;range=0-1499`). Compiled once per search; each attribute
 * spelling is decided once.
 */
export class AttributeSelection {
  private readonly decided = new Map<string, boolean>();

  private constructor(
    /** The requested list this selection was compiled from (the array itself, see SelectedEntry). */
    readonly requested: readonly string[],
    /** Attribute types without values (the encoder's business; carried for it). */
    readonly typesOnly: boolean,
    private readonly allUser: boolean,
    private readonly allOperational: boolean,
    private readonly names: ReadonlySet<string>,
  ) {}

  static compile(requested: readonly string[], typesOnly = false): AttributeSelection {
    let allUser = requested.length === 0;
    let allOperational = false;
    const names = new Set<string>();
    for (const r of requested) {
      if (r === '*') allUser = true;
      else if (r === '+') allOperational = true;
      else if (r !== '1.1') names.add(attributeKey(r));
    }
    return new AttributeSelection(requested, typesOnly, allUser, allOperational, names);
  }

  /** Whether the client asked for the attribute by name (not merely with `*` or `+`). */
  named(name: string): boolean {
    return this.names.has(attributeKey(name));
  }

  /** Whether an entry's attribute of this name reaches the client. */
  includes(name: string): boolean {
    let d = this.decided.get(name);
    if (d === undefined) {
      d = (isOperational(name) ? this.allOperational : this.allUser) || this.named(name);
      if (this.decided.size < MAX_DECISIONS) this.decided.set(name, d);
    }
    return d;
  }
}

/**
 * An entry built for a search with only the attributes its selection includes. `selectedFor` is
 * the very requested list (array identity) it was built for: a consumer selecting with that same
 * list need not ask again per attribute, while a list any stage widened (sort keys, attributes an
 * access rule re-checks) is another array and gets the full check. Nothing may be added to it later.
 */
export class SelectedEntry extends Entry {
  constructor(
    dn: Dn,
    readonly selectedFor: readonly string[],
  ) {
    super(dn);
  }
}

