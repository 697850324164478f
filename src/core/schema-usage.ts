import type { Entry } from './entry.js';
import { attributeKey } from './schema.js';

/**
 * The attribute types and object classes some entries use, so that the subschema entry can list
 * what the data holds. It only grows: a type stays listed after its last value is deleted, which
 * is harmless (a subschema says what may appear) and keeps noting a write cheap.
 */
export class SchemaUsage {
  /** Type key → the spelling first seen, without options. */
  private readonly types = new Map<string, string>();
  /** Class value in lower case → the spelling first seen. */
  private readonly classes = new Map<string, string>();
  /** Attribute spellings already noted: entries share a handful, each is worked out once. */
  private readonly spellings = new Set<string>();
  private changes = 0;

  /** Notes what an entry uses. */
  note(entry: Entry): void {
    for (const attribute of entry.attributes()) {
      const name = attribute.name;
      if (this.spellings.has(name)) continue;
      this.spellings.add(name);
      const key = attributeKey(name);
      if (!this.types.has(key)) {
        const semicolon = name.indexOf(';');
        this.types.set(key, semicolon < 0 ? name : name.slice(0, semicolon));
        this.changes++;
      }
    }
    for (const value of entry.get('objectClass')?.values ?? []) {
      const text = value.toString();
      const key = text.toLowerCase();
      if (!this.classes.has(key)) {
        this.classes.set(key, text);
        this.changes++;
      }
    }
  }

  /** The attribute types in use: their spellings by type key. */
  attributeTypes(): ReadonlyMap<string, string> {
    return this.types;
  }

  /** The object classes in use, as the data spells them. */
  objectClasses(): Iterable<string> {
    return this.classes.values();
  }

  /** Grows with every type or class noted for the first time: a rendering of the usage is current while it is unchanged. */
  get version(): number {
    return this.changes;
  }
}
