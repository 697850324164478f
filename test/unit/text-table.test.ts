import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/tools/text-table.js';

describe('formatTable', () => {
  const rows = [
    ['path', 'req/s'],
    ['slapd, direct', '9'],
    ['cached', '12345'],
  ];

  it('aligns every column left by default, the last one unpadded', () => {
    expect(formatTable(rows)).toBe('path           req/s\nslapd, direct  9\ncached         12345\n');
  });

  it('aligns the columns from rightAlignFrom on to the right, so figures line up', () => {
    expect(formatTable(rows, 1)).toBe('path           req/s\nslapd, direct      9\ncached         12345\n');
  });
});
