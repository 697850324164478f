import { describe, expect, it } from 'vitest';
import { Dn } from '../../src/core/dn.js';
import { Entry } from '../../src/core/entry.js';
import { compileFilter } from '../../src/core/filter-eval.js';
import { foldFilter, UNDEFINED, type Decision, type Folded, type LeafFilter } from '../../src/core/filter-fold.js';
import { filterToString } from '../../src/core/filter-text.js';
import type { Filter } from '../../src/core/filter.js';
import { parseFilterString } from '../../src/protocol/filter-codec.js';

// The fold against filter-eval's three-valued evaluator: for every filter and every entry, the
// folded filter is TRUE exactly when the original is, with each stage-decided leaf replaced by a
// leaf the evaluator itself finds UNDEFINED, FALSE or TRUE for every entry.

const BIT_AND = '1.2.840.113556.1.4.803';
/** A visible leaf: TRUE, FALSE or UNDEFINED per entry (value 1, 0, or not an integer). */
const visible = (attribute: string): Filter => ({ type: 'extensible', attribute, rule: BIT_AND, value: Buffer.from('1'), dnAttributes: false });
/** Leaves a stage decides, as the evaluator sees them: an unknown rule is UNDEFINED, an absent attribute FALSE. */
const HIDDEN: Filter[] = ['h1', 'h2'].map((attribute) => ({ type: 'extensible', attribute, rule: '9.9.9.9', value: Buffer.from('1'), dnAttributes: false }));
const GENUINELY_FALSE: Filter = { type: 'present', attribute: 'elsewhere' };
const ALWAYS_TRUE: Filter = { type: 'present', attribute: 'objectClass' };

/** The stage's decision for each leaf; the visible ones are kept. */
const decide = (leaf: LeafFilter): Decision =>
  leaf.attribute === 'h1' || leaf.attribute === 'h2' ? UNDEFINED : leaf === GENUINELY_FALSE ? false : leaf === ALWAYS_TRUE ? true : leaf;

const VISIBLE = ['a', 'b', 'c'];
const LEAVES: Filter[] = [...VISIBLE.map(visible), ...HIDDEN, GENUINELY_FALSE, ALWAYS_TRUE];

/** Every combination of TRUE/FALSE/UNDEFINED for the visible leaves. */
const ENTRIES: Entry[] = (() => {
  let combos: string[][] = [[]];
  for (let i = 0; i < VISIBLE.length; i++) combos = combos.flatMap((c) => ['1', '0', 'x'].map((v) => [...c, v]));
  return combos.map(
    (values, i) =>
      new Entry(Dn.parse(`cn=e${i},dc=test`), [
        { name: 'objectClass', values: ['top'] },
        ...VISIBLE.map((name, j) => ({ name, values: [values[j]] })),
        // What the stage decided stays in the entry: the evaluator must not need it.
        { name: 'h1', values: ['1'] },
        { name: 'h2', values: ['0'] },
      ]),
  );
})();

function matchesAlike(original: Filter): void {
  const folded: Folded = foldFilter(original, decide);
  const want = compileFilter(original);
  const got = typeof folded === 'boolean' ? () => folded : compileFilter(folded);
  for (const e of ENTRIES) {
    if (got(e) !== want(e)) {
      const shown = typeof folded === 'boolean' ? String(folded) : filterToString(folded);
      throw new Error(`${filterToString(original)} folded to ${shown} differs on ${e.dn.text}`);
    }
  }
}

/** Every filter of depth ≤ `depth` over `leaves`, with binary and/or. */
function allFilters(leaves: readonly Filter[], depth: number): Filter[] {
  if (depth === 0) return [...leaves];
  const smaller = allFilters(leaves, depth - 1);
  const out: Filter[] = [...leaves, ...smaller.map((filter): Filter => ({ type: 'not', filter }))];
  for (const x of smaller) for (const y of smaller) out.push({ type: 'and', filters: [x, y] }, { type: 'or', filters: [x, y] });
  return out;
}

/** A small deterministic generator (mulberry32), so a failure is reproducible. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomFilter(next: () => number, depth: number): Filter {
  const r = next();
  if (depth === 0 || r < 0.3) return LEAVES[Math.floor(next() * LEAVES.length)];
  if (r < 0.5) return { type: 'not', filter: randomFilter(next, depth - 1) };
  // Empty and/or too (RFC 4526: TRUE and FALSE).
  const filters = Array.from({ length: Math.floor(next() * 4) }, () => randomFilter(next, depth - 1));
  return { type: r < 0.75 ? 'and' : 'or', filters };
}

describe('three-valued folding', () => {
  it('matches the evaluator on every filter of depth 2 over two visible, a hidden, a FALSE and a TRUE leaf', () => {
    const filters = allFilters([visible('a'), visible('b'), HIDDEN[0], GENUINELY_FALSE, ALWAYS_TRUE], 2);
    expect(filters.length).toBeGreaterThan(5000);
    for (const f of filters) matchesAlike(f);
  });

  it('matches the evaluator on 5,000 random filters up to depth 6', () => {
    const next = random(20261204);
    for (let i = 0; i < 5000; i++) matchesAlike(randomFilter(next, 6));
  });

  it.each([
    // Cisco's sync filter where userAccountControl may not be read: nothing, not the disabled users.
    ['(&(objectClass=user)(!(h1:1.2.840.113556.1.4.803:=2)))', false],
    ['(!(h1=x))', false],
    ['(!(!(h1=x)))', false],
    ['(|(h1=x)(!(h1=x)))', false],
    ['(|(h1=x)(cn=a))', '(cn=a)'],
    ['(&(h1=x)(cn=a))', false],
    ['(!(&(h1=x)(cn=a)))', '(!(cn=a))'],
    ['(!(|(h1=x)(cn=a)))', false],
    // A genuine FALSE keeps its negation TRUE.
    ['(!(elsewhere=*))', true],
    ['(&(cn=a)(!(elsewhere=*)))', '(cn=a)'],
  ])('%s folds to %s', (text, expected) => {
    const folded = foldFilter(parseFilterString(text), (leaf) =>
      leaf.attribute === 'h1' ? UNDEFINED : leaf.attribute === 'elsewhere' ? false : leaf,
    );
    expect(typeof folded === 'boolean' ? folded : filterToString(folded)).toBe(expected);
  });

  it('keeps a filter without decisions as it is', () => {
    const f = parseFilterString('(&(cn=a)(!(|(sn=b)(mail=c))))');
    expect(foldFilter(f, (leaf) => leaf)).toBe(f);
  });
});
