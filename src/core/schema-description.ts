/**
 * RFC 4512 §4.1 schema descriptions: the text form of attribute types and object classes, read
 * from the built-in schemas (core/schemas/*.ts) and written into the subschema entry. Both
 * directions live here so that what Canopy publishes is what it parsed, in the same grammar.
 */

export type AttributeUsage = 'userApplications' | 'directoryOperation' | 'distributedOperation' | 'dSAOperation';

/** RFC 4512 §4.1.2 AttributeTypeDescription. */
export interface AttributeTypeDescription {
  readonly oid: string;
  readonly names: readonly string[];
  readonly sup?: string;
  readonly equality?: string;
  readonly ordering?: string;
  readonly substr?: string;
  /** The syntax's OID, with its length bound if any (`1.3.6.1.4.1.1466.115.121.1.15{256}`). */
  readonly syntax?: string;
  readonly singleValue?: boolean;
  readonly collective?: boolean;
  readonly noUserModification?: boolean;
  readonly usage?: AttributeUsage;
  /** Where the definition comes from, published as `X-ORIGIN`. */
  readonly origin?: string;
}

/** RFC 4512 §4.1.1 ObjectClassDescription. */
export interface ObjectClassDescription {
  readonly oid: string;
  readonly names: readonly string[];
  readonly sup: readonly string[];
  readonly kind: 'structural' | 'auxiliary' | 'abstract';
  readonly must: readonly string[];
  readonly may: readonly string[];
  readonly origin?: string;
}

/** One built-in schema: `attributetype ( … )` and `objectclass ( … )` lines, and where they come from. */
export interface SchemaSource {
  readonly origin: string;
  readonly text: string;
}

/** `(`, `)`, `$`, a quoted string (quotes removed) or a bare word. */
const TOKEN = /\s*(?:([()$])|'((?:[^'\\]|\\.)*)'|([^\s()$']+))/y;

interface Token {
  readonly text: string;
  readonly quoted: boolean;
}

function tokens(text: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`schema description: unexpected text at ${at}: ${text.slice(at, at + 20)}`);
    out.push(m[2] !== undefined ? { text: m[2], quoted: true } : { text: m[1] ?? m[3], quoted: false });
  }
  return out;
}

/** Keywords without a value (RFC 4512 §4.1). */
const FLAGS = new Set(['OBSOLETE', 'SINGLE-VALUE', 'COLLECTIVE', 'NO-USER-MODIFICATION', 'ABSTRACT', 'STRUCTURAL', 'AUXILIARY']);

/** The fields of one description: its OID and each keyword's values (none for a flag like SINGLE-VALUE). */
function fields(text: string): { oid: string; fields: Map<string, string[]> } {
  const list = tokens(text);
  if (list[0]?.text !== '(' || list.at(-1)?.text !== ')') throw new Error(`schema description not in parentheses: ${text}`);
  const oid = list[1]?.text;
  if (!oid || !/^\d+(?:\.\d+)+$/.test(oid)) throw new Error(`schema description without a numeric OID: ${text}`);
  const out = new Map<string, string[]>();
  let i = 2;
  while (i < list.length - 1) {
    const keyword = list[i++].text.toUpperCase();
    const values: string[] = [];
    if (list[i]?.text === '(' && !list[i].quoted) {
      for (i++; i < list.length - 1 && !(list[i].text === ')' && !list[i].quoted); i++) if (list[i].quoted || list[i].text !== '$') values.push(list[i].text);
      i++;
    } else if (!FLAGS.has(keyword)) {
      values.push(list[i++].text);
    }
    out.set(keyword, values);
  }
  return { oid, fields: out };
}

export function parseAttributeType(text: string, origin?: string): AttributeTypeDescription {
  const { oid, fields: f } = fields(text);
  const one = (k: string) => f.get(k)?.[0];
  const usage = one('USAGE') as AttributeUsage | undefined;
  return {
    oid,
    names: f.get('NAME') ?? [],
    ...(one('SUP') && { sup: one('SUP') }),
    ...(one('EQUALITY') && { equality: one('EQUALITY') }),
    ...(one('ORDERING') && { ordering: one('ORDERING') }),
    ...(one('SUBSTR') && { substr: one('SUBSTR') }),
    ...(one('SYNTAX') && { syntax: one('SYNTAX') }),
    ...(f.has('SINGLE-VALUE') && { singleValue: true }),
    ...(f.has('COLLECTIVE') && { collective: true }),
    ...(f.has('NO-USER-MODIFICATION') && { noUserModification: true }),
    ...(usage && usage !== 'userApplications' && { usage }),
    ...(origin && { origin }),
  };
}

export function parseObjectClass(text: string, origin?: string): ObjectClassDescription {
  const { oid, fields: f } = fields(text);
  const kind = f.has('ABSTRACT') ? 'abstract' : f.has('AUXILIARY') ? 'auxiliary' : 'structural';
  return { oid, names: f.get('NAME') ?? [], sup: f.get('SUP') ?? [], kind, must: f.get('MUST') ?? [], may: f.get('MAY') ?? [], ...(origin && { origin }) };
}

/** A built-in schema's descriptions, in their order. */
export function parseSchema(source: SchemaSource): { attributeTypes: AttributeTypeDescription[]; objectClasses: ObjectClassDescription[] } {
  const attributeTypes: AttributeTypeDescription[] = [];
  const objectClasses: ObjectClassDescription[] = [];
  for (const line of source.text.split('\n')) {
    const m = /^\s*(attributetype|objectclass)\s+(\(.*\))\s*$/i.exec(line);
    if (!m) {
      if (line.trim()) throw new Error(`schema ${source.origin}: not a description: ${line}`);
      continue;
    }
    if (m[1].toLowerCase() === 'attributetype') attributeTypes.push(parseAttributeType(m[2], source.origin));
    else objectClasses.push(parseObjectClass(m[2], source.origin));
  }
  return { attributeTypes, objectClasses };
}

/** The other descriptions the subschema holds (ldapSyntaxes, matchingRules): one per line, kept as written, by OID and by NAME. */
export function descriptionsByKey(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const description = line.trim();
    if (!description) continue;
    const { oid, fields: f } = fields(description);
    out.set(oid, description);
    for (const name of f.get('NAME') ?? []) out.set(name.toLowerCase(), description);
  }
  return out;
}

function quoted(text: string): string {
  return `'${text.replace(/\\/g, '\\5C').replace(/'/g, '\\27')}'`;
}

function qdescrs(names: readonly string[]): string {
  return names.length === 1 ? quoted(names[0]) : `( ${names.map(quoted).join(' ')} )`;
}

function oids(list: readonly string[]): string {
  return list.length === 1 ? list[0] : `( ${list.join(' $ ')} )`;
}

/** The description in RFC 4512 §4.1.2 form, fields in the RFC's order. */
export function renderAttributeType(t: AttributeTypeDescription): string {
  const parts = [`( ${t.oid}`];
  if (t.names.length > 0) parts.push(`NAME ${qdescrs(t.names)}`);
  if (t.sup) parts.push(`SUP ${t.sup}`);
  if (t.equality) parts.push(`EQUALITY ${t.equality}`);
  if (t.ordering) parts.push(`ORDERING ${t.ordering}`);
  if (t.substr) parts.push(`SUBSTR ${t.substr}`);
  if (t.syntax) parts.push(`SYNTAX ${t.syntax}`);
  if (t.singleValue) parts.push('SINGLE-VALUE');
  if (t.collective) parts.push('COLLECTIVE');
  if (t.noUserModification) parts.push('NO-USER-MODIFICATION');
  if (t.usage && t.usage !== 'userApplications') parts.push(`USAGE ${t.usage}`);
  if (t.origin) parts.push(`X-ORIGIN ${quoted(t.origin)}`);
  return `${parts.join(' ')} )`;
}

/** The description in RFC 4512 §4.1.1 form, fields in the RFC's order. */
export function renderObjectClass(c: ObjectClassDescription): string {
  const parts = [`( ${c.oid}`];
  if (c.names.length > 0) parts.push(`NAME ${qdescrs(c.names)}`);
  if (c.sup.length > 0) parts.push(`SUP ${oids(c.sup)}`);
  parts.push(c.kind.toUpperCase());
  if (c.must.length > 0) parts.push(`MUST ${oids(c.must)}`);
  if (c.may.length > 0) parts.push(`MAY ${oids(c.may)}`);
  if (c.origin) parts.push(`X-ORIGIN ${quoted(c.origin)}`);
  return `${parts.join(' ')} )`;
}
