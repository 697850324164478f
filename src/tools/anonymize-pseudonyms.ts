import { createHmac } from 'node:crypto';

/**
 * Keyed, deterministic replacements for personal values. Every function of a value depends only on
 * the value (normalised: case and, for names, diacritics) and the seed, so the same person gets the
 * same pseudonym in every entry, attribute and forest without a table of what was seen. Letters and
 * digits go through a keyed permutation (a Feistel network over the token's own alphabet), so
 * distinct logins and names stay distinct: no two users collide on a sAMAccountName or a DN.
 */
export class Pseudonyms {
  /** Name pseudonyms: names repeat a lot (surnames, departments), and the permutation costs several HMACs. */
  private readonly cache = new Map<string, string>();
  private readonly singles = new Map<string, readonly number[]>();

  constructor(private readonly seed: string) {}

  /**
   * Free text: every run of letters and every run of digits replaced, the rest (spaces, dots,
   * commas, hyphens) kept, and the case shape kept: `John Doe` → `Qfrz Hwa`, `jdoe2` → `xkwa7`.
   */
  text(value: string): string {
    return value.replace(TOKEN, (token) => this.token(token));
  }

  /** A phone number: all its digits replaced as one number (so `+1 408 555 0103` and `+14085550103` agree), the format kept. */
  phone(value: string): string {
    const digits = value.replace(/[^0-9]/g, '');
    if (digits === '') return this.text(value);
    const mapped = this.permute(10, [...digits].map(Number), 'phone');
    let i = 0;
    return value.replace(/[0-9]|[\p{L}\p{M}]+/gu, (c) => (/^[0-9]$/.test(c) ? String(mapped[i++]) : this.token(c)));
  }

  /** Bytes of the same length, a keyed function of the value (GUIDs). */
  bytes(value: Buffer, purpose: string): Buffer {
    return this.stream(`${purpose}\0${value.toString('hex')}`, value.length);
  }

  private token(token: string): string {
    // Numbers (employee numbers, years) rarely repeat: caching them would only push names out.
    if (/^[0-9]+$/.test(token)) return this.permute(10, [...token].map(Number), '').join('');
    const cached = this.cache.get(token);
    if (cached !== undefined) return cached;
    const mapped = this.letters(token);
    // Bounded: a directory-wide export must not grow with the number of distinct names.
    if (this.cache.size >= CACHE_SIZE) this.cache.clear();
    this.cache.set(token, mapped);
    return mapped;
  }

  /** A run of letters: Latin ones permuted within a–z (marks stripped, case kept), other scripts hashed to Latin letters. */
  private letters(token: string): string {
    const lower = token.toLowerCase();
    const shape = token.normalize('NFD').replace(MARKS, '');
    const base = shape.toLowerCase();
    if (/^[a-z]+$/.test(base) && base.length === shape.length) {
      // `josé` and `jose` use different permutations, so two names differing only in accents stay apart.
      const tweak = base === lower ? '' : lower.normalize('NFC');
      const out = this.permute(26, [...base].map((c) => c.charCodeAt(0) - A), tweak);
      return out.map((d, i) => (shape[i] === base[i] ? String.fromCharCode(A + d) : String.fromCharCode(A + d).toUpperCase())).join('');
    }
    // No alphabet to permute within: a keyed hash, long enough that two names practically never meet.
    const length = Math.max([...lower].length, 8);
    const bytes = this.stream(`script\0${lower.normalize('NFC')}`, length);
    const out = [...bytes].map((b) => String.fromCharCode(A + (b % 26))).join('');
    return out[0].toUpperCase() + out.slice(1);
  }

  /** A keyed permutation of the strings of `digits.length` symbols in base `radix`. */
  private permute(radix: number, digits: readonly number[], tweak: string): number[] {
    if (digits.length === 1) return [this.single(radix, tweak)[digits[0]]];
    // Feistel network: (A, B) → (B, A + F(B)) is invertible whatever F is, so the whole is a permutation.
    let a = digits.slice(0, digits.length >> 1);
    let b = digits.slice(digits.length >> 1);
    for (let round = 0; round < ROUNDS; round++) {
      const f = this.stream(`feistel\0${radix}\0${digits.length}\0${tweak}\0${round}\0${b.join(',')}`, a.length);
      const c = a.map((d, i) => (d + f[i]) % radix);
      a = b;
      b = c;
    }
    return [...a, ...b];
  }

  /** A keyed permutation of the `radix` single symbols (initials, one-digit values). */
  private single(radix: number, tweak: string): readonly number[] {
    const key = `${radix}\0${tweak}`;
    let table = this.singles.get(key);
    if (!table) {
      const order = Array.from({ length: radix }, (_, d) => ({ d, k: this.stream(`single\0${key}\0${d}`, 8).toString('hex') }));
      const sorted = order.sort((x, y) => (x.k < y.k ? -1 : 1)).map((x) => x.d);
      table = sorted;
      if (this.singles.size >= CACHE_SIZE) this.singles.clear();
      this.singles.set(key, table);
    }
    return table;
  }

  /** `length` pseudo-random bytes keyed by the seed: HMAC-SHA-256 in counter mode. */
  private stream(label: string, length: number): Buffer {
    const blocks: Buffer[] = [];
    for (let i = 0, n = 0; n < length; i++) {
      const block = createHmac('sha256', this.seed).update(`${i}\0${label}`).digest();
      blocks.push(block);
      n += block.length;
    }
    return Buffer.concat(blocks).subarray(0, length);
  }
}

const TOKEN = /[\p{L}\p{M}]+|[0-9]+/gu;
const MARKS = /\p{M}/gu;
const A = 'a'.charCodeAt(0);
const ROUNDS = 8;
const CACHE_SIZE = 50_000;
