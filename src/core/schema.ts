/**
 * What Canopy knows of attribute types and object classes: how values of an attribute are
 * matched and carried (binary attributes stay bytes), which are operational, and the
 * definitions published in the subschema entry. (Data to be completed by the memory backend work.)
 */
export type SyntaxKind = 'string' | 'integer' | 'binary' | 'dn' | 'boolean' | 'time' | 'oid';

export interface AttributeTypeDef {
  readonly name: string;
  readonly oid: string;
  readonly syntax: SyntaxKind;
  readonly singleValue?: boolean;
  /** Operational attributes are returned only when asked for by name or with `+`. */
  readonly operational?: boolean;
  readonly aliases?: readonly string[];
}

export interface ObjectClassDef {
  readonly name: string;
  readonly oid: string;
  readonly sup?: string;
  readonly kind: 'structural' | 'auxiliary' | 'abstract';
  readonly must: readonly string[];
  readonly may: readonly string[];
}

export const attributeTypes: readonly AttributeTypeDef[] = [];
export const objectClasses: readonly ObjectClassDef[] = [];

const byName = new Map<string, AttributeTypeDef>();
for (const t of attributeTypes) {
  byName.set(t.name.toLowerCase(), t);
  for (const a of t.aliases ?? []) byName.set(a.toLowerCase(), t);
}

export function attributeType(name: string): AttributeTypeDef | undefined {
  return byName.get(name.toLowerCase());
}

/** The syntax an attribute's values have; unknown attributes are strings, `x;binary` is binary. */
export function syntaxOf(name: string): SyntaxKind {
  const lower = name.toLowerCase();
  if (lower.endsWith(';binary')) return 'binary';
  return byName.get(lower)?.syntax ?? 'string';
}

export function isOperational(name: string): boolean {
  return byName.get(name.toLowerCase())?.operational === true;
}
