/**
 * Rows as aligned text columns, two spaces apart; the last column is not padded. Columns from
 * `rightAlignFrom` on (figures) are aligned right.
 */
export function formatTable(rows: readonly (readonly string[])[], rightAlignFrom = Infinity): string {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...rows.map((r) => r[c]?.length ?? 0)));
  const pad = (cell: string, c: number) => (c >= rightAlignFrom ? cell.padStart(widths[c]) : cell.padEnd(widths[c]));
  return rows.map((row) => row.map(pad).join('  ').trimEnd() + '\n').join('');
}
