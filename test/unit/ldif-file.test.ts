import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ldifFile } from '../../src/backends/memory/ldif-file.js';
import { bytesOf, LdifError, parseLdif, parseLdifChanges } from '../../src/backends/memory/ldif.js';

const dir = mkdtempSync(join(tmpdir(), 'canopy-ldif-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** Records enough to span several of the reader's 4 MiB pieces, with folded lines, comments, UTF-8 and a record larger than a piece. */
function bigLdif(eol: string): string {
  const lines = ['version: 1', ''];
  lines.push('dn: dc=x', 'objectClass: domain', 'dc: x', '');
  for (let i = 0; i < 40_000; i++) {
    lines.push(`dn: cn=Pérson ${i},dc=x`, '# a comment', 'objectClass: person', `cn: Pérson ${i}`, `description: a long value of person ${i} that is fol`, ' ded', 'sn: x', '');
  }
  // One group of over 4 MiB: longer than a piece.
  lines.push('dn: cn=all,dc=x', 'objectClass: groupOfNames', 'cn: all');
  for (let i = 0; i < 150_000; i++) lines.push(`member: cn=Pérson ${i % 40_000},dc=x`);
  lines.push('', 'dn: cn=last,dc=x', 'objectClass: person', 'cn: last', 'sn: last');
  return lines.join(eol);
}

describe('ldifFile', () => {
  for (const [name, eol] of [['LF', '\n'], ['CRLF', '\r\n']] as const) {
    it(`parses a large file read in pieces as it parses the whole text (${name} line ends, no newline at the end)`, () => {
      const text = bigLdif(eol);
      const path = write(`big-${name}.ldif`, text);
      const fromFile = parseLdifChanges(ldifFile(path), path);
      const fromText = parseLdifChanges(text, path);
      expect(fromFile.length).toBe(40_003);
      expect(fromFile.map((c) => c.line)).toEqual(fromText.map((c) => c.line));
      const entries = (changes: typeof fromFile) => changes.map((c) => (c.kind === 'add' ? [c.entry.dn.text, [...c.entry.attributes()]] : c.kind));
      expect(entries(fromFile)).toEqual(entries(fromText));
      const group = fromFile.at(-2)!;
      expect(group.kind === 'add' && group.entry.get('member')?.values.length).toBe(150_000);
      expect(bytesOf(ldifFile(path)).equals(Buffer.from(text))).toBe(true);
    });
  }

  it('reports errors with the line in the whole file, past the first piece', () => {
    const text = bigLdif('\n');
    const path = write('bad.ldif', `${text}\n\ndn: cn=bad,dc=x\nobjectClass person\n`);
    const line = text.split('\n').length + 3;
    expect(() => parseLdif(ldifFile(path), 'bad.ldif')).toThrow(LdifError);
    expect(() => parseLdif(ldifFile(path), 'bad.ldif')).toThrow(new RegExp(`^bad\\.ldif:${line}: expected "attribute: value"`));
  });

  it('reads an empty file as no records', () => {
    expect(parseLdifChanges(ldifFile(write('empty.ldif', '')), 'empty.ldif')).toEqual([]);
  });
});
