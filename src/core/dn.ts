import { LdapError } from './ldap-error.js';
import { ResultCode } from './result-codes.js';
import { attributeKey, attributeType } from './schema.js';

/** One attribute-value assertion of an RDN: the type as spelled, the value unescaped. */
export interface Ava {
  readonly type: string;
  readonly value: string;
}

/** One relative distinguished name: its AVAs and its text exactly as spelled. */
export interface Rdn {
  readonly avas: readonly Ava[];
  readonly text: string;
}

/**
 * A distinguished name (RFC 4514). `text` keeps the spelling it came with (clients show and store
 * it: `cn=José` must not come back as `cn=Jos\c3\a9`); `key` is the normalised form used for
 * every comparison (distinguishedNameMatch: each type by its type key, so `cn=`, `commonName=` and
 * `2.5.4.3=` are one; values case-folded, insignificant spaces and escapes removed).
 */
export class Dn {
  readonly key: string;
  /** Made on first use for a DN built on a known parent without them (see childSpelled). */
  #rdns: readonly Rdn[] | undefined;
  /** The DN this one was built on by childSpelled, if it was. */
  #parent: Dn | undefined;

  private constructor(
    rdns: readonly Rdn[] | undefined,
    readonly text: string,
    key?: string,
    parent?: Dn,
  ) {
    this.#rdns = rdns;
    this.#parent = parent;
    this.key = key ?? rdns!.map(rdnKey).join(',');
  }

  static readonly root = new Dn([], '');

  /** Parses a DN; malformed input is an LdapError(invalidDNSyntax) naming the DN. */
  static parse(text: string): Dn {
    if (text.trim() === '') return new Dn([], '');
    const plain = parsePlainRdns(text);
    const rdns = plain ?? parseFullRdns(text);
    const spelled = rdns.map((r) => r.text).join(',');
    return new Dn(rdns, spelled, plain && lowerCaseDnKey(plain, spelled));
  }

  /** Builds a DN from RDNs that are already parsed (a child, a parent, a moved entry). */
  static fromRdns(rdns: readonly Rdn[]): Dn {
    return new Dn(rdns, rdns.map((r) => r.text).join(','));
  }

  /** The RDNs, first (this entry's own) to last. */
  get rdns(): readonly Rdn[] {
    return (this.#rdns ??= [this.ownRdn()].concat(this.#parent!.rdns));
  }

  /** The parent DN this one was built on (childSpelled), if it was: the same object, so a load finds its parent's node by it. */
  get builtOn(): Dn | undefined {
    return this.#parent;
  }

  /** The first RDN; for a DN whose RDNs are not made yet, made and not kept (a load reads it once per entry). */
  get firstRdn(): Rdn | undefined {
    return this.#rdns === undefined ? this.ownRdn() : this.#rdns[0];
  }

  /**
   * Whether every server names the same entry by this DN as its key does: each RDN of a naming type
   * every directory compares by case-ignore string matching (cn, ou, dc, o, l, st, c, uid) with a
   * printable ASCII value, which the key folds as they do (case, spaces). Other types have their own
   * rules upstream (slapd's telephoneNumberMatch ignores spaces and hyphens), and beyond ASCII each
   * directory prepares strings its own way (Active Directory ignores kana type): a decision on any
   * other DN is made on the DN the forest gives back for it.
   */
  get plainNaming(): boolean {
    return this.rdns.every((r) => r.avas.every((a) => PLAIN_NAMING_TYPES.has(attributeKey(a.type)) && !NOT_PRINTABLE_ASCII.test(a.value)));
  }

  get isRoot(): boolean {
    return this.depth === 0;
  }

  get depth(): number {
    return this.#rdns === undefined ? this.#parent!.depth + 1 : this.#rdns.length;
  }

  /** The parent's key, without building the parent (which normalises every RDN again). */
  get parentKey(): string | undefined {
    if (this.#parent !== undefined) return this.#parent.key;
    if (this.isRoot) return undefined;
    return this.rdns.length === 1 ? '' : this.key.slice(rdnKey(this.rdns[0]).length + 1);
  }

  /** A DN built on its parent: its own RDN, as childSpelled read it from the text. */
  private ownRdn(): Rdn {
    return plainRdn(this.text, 0, this.text.length - this.#parent!.text.length - 1)!;
  }

  parent(): Dn | undefined {
    return this.#parent ?? (this.isRoot ? undefined : Dn.fromRdns(this.rdns.slice(1)));
  }

  /**
   * This DN built on `parent`'s RDN objects when `parent` is its parent spelled the same way, so
   * that a large tree holds each ancestor's RDNs once rather than once per descendant; else itself,
   * as when it is built on them already (the LDIF parser builds a load's DNs so).
   */
  sharingParent(parent: Dn): Dn {
    if (this.#parent === parent) return this;
    if (this.#rdns !== undefined && this.depth === parent.depth + 1 && parent.rdns.every((rdn, i) => this.#rdns![i + 1] === rdn)) return this;
    const own = this.rdns[0];
    if (own === undefined || this.depth !== parent.depth + 1 || !this.isWithin(parent)) return this;
    if (this.text !== (parent.isRoot ? own.text : `${own.text},${parent.text}`)) return this;
    return new Dn([own, ...parent.rdns], this.text, this.key);
  }

  /**
   * The DN spelled `text` when it is a plain RDN (see parsePlainRdns) ending at `comma`, then this
   * DN spelled as `this.text`: built on this DN's RDNs and key, with `text` itself as its text and,
   * when the RDN's key is its own lower case, `text` lower-cased as its key (a large load builds
   * every entry's DN so: no string concatenated, then copied when first used as a map key).
   * Undefined for any other text, which `Dn.parse` then judges; otherwise equal to `Dn.parse(text)`.
   * With `lazy`, its RDN objects are made when first asked for, not now: the DNs of a large
   * load are kept for good and seldom taken apart, and their RDNs were a fifth of an entry's objects.
   */
  childSpelled(text: string, comma: number, spelling: ChildSpelling = CHECKED): Dn | undefined {
    if (this.isRoot || text.length !== comma + 1 + this.text.length || text.charCodeAt(comma) !== COMMA) return undefined;
    // knownPlain: the caller tested NOT_PLAIN already (SiblingDns does, for every entry's DN).
    if (!text.endsWith(this.text) || (spelling.knownPlain !== true && NOT_PLAIN.test(text))) return undefined;
    const rdn = plainRdn(text, 0, comma);
    // Spaces around the RDN: Dn.parse's text leaves them out.
    if (rdn === undefined || rdn.text.length !== comma) return undefined;
    const key = lowerCaseKey(text, comma, rdn, this.key) ?? `${rdnKey(rdn)},${this.key}`;
    return spelling.lazy === true ? new Dn(undefined, text, key, this) : new Dn([rdn].concat(this.rdns), text, key);
  }

  /** The DN of a child of this entry, named by an RDN string such as `cn=John Doe`. */
  child(rdnText: string): Dn {
    const [rdn, ...rest] = parseRdns(rdnText);
    if (!rdn || rest.length > 0) throw invalid(rdnText, 'expected exactly one RDN');
    // This DN's text and key are reused, not normalised again.
    if (this.isRoot) return Dn.fromRdns([rdn]);
    return new Dn([rdn, ...this.rdns], `${rdn.text},${this.text}`, `${rdnKey(rdn)},${this.key}`);
  }

  equals(other: Dn): boolean {
    return this.key === other.key;
  }

  /** True when this DN is `ancestor` itself or lies below it. */
  isWithin(ancestor: Dn): boolean {
    if (ancestor.depth > this.depth) return false;
    if (ancestor.isRoot) return true;
    const { key } = this;
    const cut = key.length - ancestor.key.length; // compared in place: this runs per entry
    return cut === 0 ? key === ancestor.key : cut > 0 && key.charCodeAt(cut - 1) === COMMA && key.endsWith(ancestor.key);
  }

  /** Replaces the `from` suffix (which this DN must lie within) by `to`, keeping the rest as spelled. */
  rebase(from: Dn, to: Dn): Dn {
    const k = this.depth - from.depth;
    if (k === 0) return to;
    const rdns = this.rdns.slice(0, k).concat(to.rdns);
    // Every entry a forest returns is rebased: the kept RDNs' text and key are cut from this DN's, not normalised again.
    let textLength = k - 1;
    for (let i = 0; i < k; i++) textLength += this.rdns[i].text.length;
    const text = this.text.slice(0, textLength);
    const key = from.isRoot ? this.key : this.key.slice(0, this.key.length - from.key.length - 1);
    return to.isRoot ? new Dn(rdns, text, key) : new Dn(rdns, `${text},${to.text}`, `${key},${to.key}`);
  }

  toString(): string {
    return this.text;
  }
}

/** How childSpelled builds a child: `knownPlain`, the caller tested the text against NOT_PLAIN already; `lazy`, its RDN objects made when first asked for. */
export interface ChildSpelling {
  readonly knownPlain?: boolean;
  readonly lazy?: boolean;
}

/** childSpelled's default: the text checked, the RDNs made now. SiblingDns's, for every upstream entry's DN. */
const CHECKED: ChildSpelling = {};
const KNOWN_PLAIN: ChildSpelling = { knownPlain: true };

/**
 * Parses the DNs of entries that share parents (a search's results): the parent of a plain DN is
 * parsed and normalised once and remembered (a bounded number of them), so each entry costs the
 * parse of its own RDN, and keeps its text as it came (childSpelled). Results are those of Dn.parse.
 */
export class SiblingDns {
  private readonly parents = new Map<string, Dn>();

  constructor(private readonly maxParents = 1024) {}

  parse(text: string): Dn {
    const comma = text.indexOf(',');
    if (comma < 0 || NOT_PLAIN.test(text)) return Dn.parse(text);
    const parentText = text.slice(comma + 1);
    let parent = this.parents.get(parentText);
    if (parent === undefined) {
      parent = Dn.parse(parentText);
      if (this.parents.size >= this.maxParents) this.parents.clear();
      this.parents.set(parentText, parent);
    }
    if (parent.isRoot) return Dn.parse(text);
    return parent.childSpelled(text, comma, KNOWN_PLAIN) ?? parent.child(text.slice(0, comma));
  }
}

/**
 * The normalised form of a single value, as DN comparison and case-ignore matching use it: RFC 4518
 * string preparation as slapd does it (characters mapped to nothing or to a space, compatibility
 * normalisation NFKC), then case folded and spaces folded. So `Ｅlizabeth` (full width) and `José`
 * spelled with a combining accent name what `elizabeth` and `josé` name, as they do upstream.
 */
export function normaliseDnValue(value: string): string {
  if (!NOT_PRINTABLE_ASCII.test(value)) return value.trim().replace(/\s+/g, ' ').toLowerCase();
  return foldCase(withoutIgnorable(value).normalize('NFKC').trim().replace(/\s+/g, ' '));
}

/**
 * Lowered letter by letter as slapd does: toLowerCase makes a word-final Σ a final ς (folded here
 * to σ like any sigma) and İ an i with a combining dot (slapd: i).
 */
function foldCase(text: string): string {
  return text.replace(CAPITAL_DOTTED_I, 'i').toLowerCase().replace(FINAL_SIGMA, 'σ');
}

/**
 * An RDN reduced so that every spelling any directory could take for the same name gives the same
 * key, and a few others too: a string value to its letters and digits, case folded and without
 * marks (a forest's own Unicode preparation, matching rules such as telephoneNumberMatch that ignore
 * spaces and hyphens); a value of any other syntax, or of a type Canopy does not know, to nothing
 * at all, since a forest compares it by meaning (a DN's types by OID, an object class by name or
 * OID, an integer by number). For refusing what might collide with a protected name, never for
 * deciding that two names are one.
 */
export function looseRdnKey(rdn: Rdn): string {
  return rdn.avas.map((a) => `${attributeKey(a.type)}=${looseValue(a)}`).sort().join('+');
}

function looseValue({ type, value }: Ava): string {
  if (attributeType(type)?.syntax !== 'string') return '';
  return foldCase(value.normalize('NFKD').replace(MARKS, '')).replace(NOT_LETTER_OR_DIGIT, '');
}

const FINAL_SIGMA = /ς/g;
const CAPITAL_DOTTED_I = /\u0130/g;
const MARKS = /\p{M}/gu;
const NOT_LETTER_OR_DIGIT = /[^\p{L}\p{N}]/gu;

/** RDN types compared by case-ignore string matching in every directory (RFC 4519 and Active Directory alike). */
const PLAIN_NAMING_TYPES = new Set(['cn', 'ou', 'dc', 'o', 'l', 'st', 'c', 'uid']);

/** Printable ASCII needs no preparation: most names and addresses are. */
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;

/** RFC 4518 §2.2's characters mapped to nothing: soft hyphen, joiners, variation selectors, the object replacement character, controls other than spaces. */
function withoutIgnorable(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    const ignorable =
      c <= 0x08 || (c >= 0x0e && c <= 0x1f) || (c >= 0x7f && c <= 0x84) || (c >= 0x86 && c <= 0x9f) || c === 0xad || c === 0x34f || c === 0x1806 ||
      (c >= 0x180b && c <= 0x180e) || (c >= 0x200b && c <= 0x200d) || c === 0x2060 || (c >= 0xfe00 && c <= 0xfe0f) || c === 0xfeff || c === 0xfffc;
    if (!ignorable) out += ch;
  }
  return out;
}

const COMMA = 0x2c;

function rdnKey(rdn: Rdn): string {
  if (rdn.avas.length === 1) return avaKey(rdn.avas[0]);
  return rdn.avas.map(avaKey).sort().join('+');
}

function avaKey(a: Ava): string {
  return `${attributeKey(a.type)}=${escapeKey(normaliseDnValue(a.value))}`;
}

/**
 * Whether a plain RDN's key is its text in lower case: no spaces around its `=`, no run of spaces
 * nor a character the key escapes in its value, and a type whose key is the type in lower case.
 */
function keyIsLowerCase(rdn: Rdn): boolean {
  const { type, value } = rdn.avas[0];
  if (type.length + 1 + value.length !== rdn.text.length) return false;
  if (value.includes('  ') || value.includes('<') || value.includes('>') || NOT_PRINTABLE_ASCII.test(value)) return false;
  const typeKey = attributeKey(type);
  return typeKey.length === type.length && typeKey === type.toLowerCase();
}

/**
 * `text` lower-cased when that is its key: a plain RDN ending at `comma` whose key is its own lower
 * case (keyIsLowerCase), followed by a parent whose key is the rest in lower case.
 */
function lowerCaseKey(text: string, comma: number, rdn: Rdn, parentKey: string): string | undefined {
  if (text.length !== comma + 1 + parentKey.length || !keyIsLowerCase(rdn)) return undefined;
  const lower = text.toLowerCase();
  return lower.endsWith(parentKey) ? lower : undefined;
}

/** The key of a DN that parsePlainRdns parsed, when it is its text (`spelled`) in lower case, as for most names. */
function lowerCaseDnKey(rdns: readonly Rdn[], spelled: string): string | undefined {
  return rdns.every(keyIsLowerCase) ? spelled.toLowerCase() : undefined;
}

function escapeKey(v: string): string {
  return v.replace(/[,+"\\<>;=]/g, (c) => '\\' + c);
}

function invalid(text: string, why: string): LdapError {
  return new LdapError(ResultCode.invalidDNSyntax, `invalid DN "${text}": ${why}`);
}

const TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)$/;

/** Any character the fast path leaves to the full parser: non-printable or non-ASCII, `"`, `#`, `+`, `;`, `\`. */
const NOT_PLAIN = /[^\x20\x21\x24-\x2a\x2c-\x3a\x3c-\x5b\x5d-\x7e]/;

function parseRdns(text: string): Rdn[] {
  if (text.trim() === '') return [];
  return parsePlainRdns(text) ?? parseFullRdns(text);
}

/**
 * The common case (printable ASCII, one AVA per RDN, no escapes, quotes or hex values) by
 * splitting on `,` and `=`: loading a large LDIF is dominated by DN parsing, and the full
 * parser's per-character work costs several times more. Returns undefined for anything else,
 * malformed input included, so that the full parser gives the result and the error.
 */
function parsePlainRdns(text: string): Rdn[] | undefined {
  if (NOT_PLAIN.test(text)) return undefined;
  const rdns: Rdn[] = [];
  let start = 0;
  for (;;) {
    let end = text.indexOf(',', start);
    if (end < 0) end = text.length;
    const rdn = plainRdn(text, start, end);
    if (rdn === undefined) return undefined;
    rdns.push(rdn);
    if (end === text.length) return rdns;
    start = end + 1;
  }
}

/** The RDN of a plain DN's text from `start` to `end` (a comma or the end): one `type=value`, else undefined. */
function plainRdn(text: string, start: number, end: number): Rdn | undefined {
  const eq = text.indexOf('=', start);
  if (eq < 0 || eq > end) return undefined;
  const next = text.indexOf('=', eq + 1);
  if (next >= 0 && next < end) return undefined;
  const type = text.slice(start, eq).trim();
  const value = text.slice(eq + 1, end).trim();
  if (value === '' || !TYPE.test(type)) return undefined;
  return { avas: [{ type, value }], text: text.slice(start, end).trim() };
}

function parseFullRdns(text: string): Rdn[] {
  const rdns: Rdn[] = [];
  let i = 0;
  const n = text.length;
  let avas: Ava[] = [];
  let rdnStart = 0;
  for (;;) {
    // attribute type
    while (i < n && text[i] === ' ') i++;
    const typeStart = i;
    while (i < n && text[i] !== '=' && text[i] !== ',' && text[i] !== '+') i++;
    const type = text.slice(typeStart, i).trim();
    if (i >= n || text[i] !== '=') throw invalid(text, `missing "=" after "${type}"`);
    if (!TYPE.test(type)) throw invalid(text, `bad attribute type "${type}"`);
    i++; // '='
    while (i < n && text[i] === ' ') i++;
    let value: string;
    if (text[i] === '#') {
      const m = /^#((?:[0-9A-Fa-f]{2})+)/.exec(text.slice(i));
      if (!m) throw invalid(text, 'bad hex value');
      value = Buffer.from(m[1], 'hex').toString('utf8');
      i += m[0].length;
      while (i < n && text[i] === ' ') i++;
    } else {
      const bytes: number[] = [];
      let trailingSpaces = 0; // unescaped spaces at the end are not part of the value
      while (i < n && text[i] !== ',' && text[i] !== '+' && text[i] !== ';') {
        const c = text[i];
        if (c === '\\') {
          const h = text.slice(i + 1, i + 3);
          if (/^[0-9A-Fa-f]{2}$/.test(h)) {
            bytes.push(parseInt(h, 16));
            i += 3;
          } else if (i + 1 < n) {
            bytes.push(...Buffer.from(text[i + 1], 'utf8'));
            i += 2;
          } else {
            throw invalid(text, 'dangling escape');
          }
          trailingSpaces = 0;
        } else if (c === '"' || c === '=') {
          throw invalid(text, `unescaped "${c}" in value`);
        } else {
          const cp = text.codePointAt(i)!;
          const ch = String.fromCodePoint(cp);
          bytes.push(...Buffer.from(ch, 'utf8'));
          trailingSpaces = ch === ' ' ? trailingSpaces + 1 : 0;
          i += ch.length;
        }
      }
      value = Buffer.from(bytes.slice(0, bytes.length - trailingSpaces)).toString('utf8');
    }
    avas.push({ type, value });
    if (i >= n || text[i] === ',' || text[i] === ';') {
      const rdnText = text.slice(rdnStart, i).trim();
      if (value === '' && rdnText.endsWith('=')) throw invalid(text, `empty value for "${type}"`);
      rdns.push({ avas, text: rdnText });
      if (i >= n) return rdns;
      avas = [];
      i++;
      rdnStart = i;
      if (text.slice(i).trim() === '') throw invalid(text, 'trailing separator');
    } else {
      i++; // '+'
    }
  }
}
