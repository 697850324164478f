import { Writable } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MAX_PENDING_BYTES, StdoutLines } from '../../src/observability/stdout-lines.js';

/** A stream that records each write; `stalled` holds every write's completion until `resume`. */
function recorder() {
  const chunks: string[] = [];
  let inFlight = 0;
  let most = 0;
  let held: (() => void)[] = [];
  const state = { stalled: false };
  const out = new Writable({
    highWaterMark: 1 << 30,
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      most = Math.max(most, ++inFlight);
      const finish = () => {
        inFlight--;
        done();
      };
      if (state.stalled) held.push(finish);
      else setImmediate(finish);
    },
  });
  return {
    out,
    chunks,
    state,
    mostInFlight: () => most,
    resume: () => {
      state.stalled = false;
      const waiting = held;
      held = [];
      for (const finish of waiting) finish();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const line = (i: number, pad = 100) => `{"i":${i},"pad":"${'x'.repeat(pad)}"}\n`;

/** Lets the writer work until the stream has everything it was given (or `limit` turns passed). */
async function settle(turns = 200): Promise<void> {
  for (let i = 0; i < turns; i++) await turn();
}

describe('log lines batched onto standard output', () => {
  it('writes lines about 3 KiB at a time, whole lines at most 4096 bytes a write, one write at a time, in order', async () => {
    const r = recorder();
    const lines = new StdoutLines(r.out);
    for (let i = 0; i < 500; i++) lines.write(line(i));
    await settle();
    expect(r.chunks.join('')).toBe(Array.from({ length: 500 }, (_, i) => line(i)).join(''));
    for (const chunk of r.chunks) {
      expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(4096);
      expect(chunk.endsWith('\n')).toBe(true);
    }
    expect(r.chunks.length).toBeLessThan(500 / 20); // 27 or more lines a write, not one
    expect(r.mostInFlight()).toBe(1);
  });

  it('writes a few lines within 100 ms, together', async () => {
    const r = recorder();
    const lines = new StdoutLines(r.out);
    for (let i = 0; i < 10; i++) lines.write(line(i));
    await settle(5);
    expect(r.chunks).toEqual([]);
    await sleep(150);
    expect(r.chunks).toEqual([Array.from({ length: 10 }, (_, i) => line(i)).join('')]);
  });

  it('writes a line longer than 4096 bytes alone, and multi-byte text counted in bytes', async () => {
    const r = recorder();
    const lines = new StdoutLines(r.out);
    const wide = `{"dn":"${'é'.repeat(1500)}"}\n`; // 1,500 characters, 3,000 bytes
    lines.write(wide);
    lines.write(wide);
    lines.write(line(1, 5000));
    await settle();
    expect(r.chunks).toEqual([wide, wide, line(1, 5000)]);
  });

  it('holds what a stalled reader has not taken up to its bound, drops the rest, and says how many once output flows', async () => {
    const r = recorder();
    r.state.stalled = true;
    const lines = new StdoutLines(r.out);
    const big = line(0, 64 * 1024 - 20);
    const fitting = Math.floor(MAX_PENDING_BYTES / Buffer.byteLength(big));
    for (let i = 0; i < fitting + 50; i++) lines.write(big);
    await settle(5);
    expect(r.chunks).toHaveLength(1); // the first write waits for the reader
    r.resume();
    for (let i = 0; i < 400 && !r.chunks.some((c) => c.includes('log lines dropped')); i++) {
      await settle(2);
      r.resume();
    }
    const warning = r.chunks.find((c) => c.includes('log lines dropped'));
    expect(warning).toBeDefined();
    const written = r.chunks.filter((c) => c === big).length;
    expect(written).toBeGreaterThanOrEqual(fitting - 1);
    expect(written + (JSON.parse(warning!) as { dropped: number }).dropped).toBe(fitting + 50);
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, name: 'canopy' });
  });

  it('drops everything once the stream fails (EPIPE: nobody reads any more)', async () => {
    const r = recorder();
    const lines = new StdoutLines(r.out);
    lines.write(line(1));
    await sleep(150);
    r.out.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await settle(5);
    lines.write(line(2));
    await sleep(150);
    expect(r.chunks).toEqual([line(1)]);
  });
});
