import { closeSync, openSync, readSync } from 'node:fs';
import type { LdifFile } from './ldif.js';

/** Bytes read at a time: a large file is never held (nor paged into memory) whole while it is parsed. */
const PIECE = 4 * 2 ** 20;

/** An LDIF file to parse piece by piece, read when parsed (each time its pieces are asked for). */
export function ldifFile(path: string): LdifFile {
  return { pieces: () => readPieces(path) };
}

/**
 * The file's bytes in pieces that each end after an empty line, where a record ends, so that a
 * parser reads each whole; one buffer, reused: a piece is valid until the next is asked for. A
 * record longer than the buffer (a group of very many members) has it doubled.
 */
function* readPieces(path: string): Generator<Buffer> {
  const fd = openSync(path, 'r');
  try {
    let buffer = Buffer.allocUnsafe(PIECE);
    let filled = 0;
    for (;;) {
      const read = readSync(fd, buffer, filled, buffer.length - filled, null);
      filled += read;
      if (read === 0) {
        if (filled > 0) yield buffer.subarray(0, filled);
        return;
      }
      const cut = afterLastEmptyLine(buffer, filled);
      if (cut < 0) {
        if (filled === buffer.length) {
          const bigger = Buffer.allocUnsafe(buffer.length * 2);
          buffer.copy(bigger, 0, 0, filled);
          buffer = bigger;
        }
        continue;
      }
      yield buffer.subarray(0, cut);
      buffer.copy(buffer, 0, cut, filled);
      filled -= cut;
    }
  } finally {
    closeSync(fd);
  }
}

const LF = 0x0a;
const CR = 0x0d;

/** Where the last empty line of the first `filled` bytes ends (after its newline), or -1. */
function afterLastEmptyLine(buffer: Buffer, filled: number): number {
  for (let i = filled - 1; i > 0; i--) {
    if (buffer[i] !== LF) continue;
    if (buffer[i - 1] === LF || (buffer[i - 1] === CR && i > 1 && buffer[i - 2] === LF)) return i + 1;
  }
  return -1;
}
