import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, LOGGED_VALUE_CHARS, writeInfoLine } from '../../src/observability/logger.js';

/** A logger writing into an array of parsed JSON lines. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', out), lines };
}

describe('log lines', () => {
  it('censor passwords and credentials at the top level and one object down, in fields and in a child logger\'s bindings', () => {
    const { logger, lines } = capture();
    const secret = 'Secret-Passw0rd!';
    const conn = { peer: '127.0.0.1', password: secret };
    logger.info({ password: secret, credentials: { dn: 'cn=x', password: secret }, bind: { dn: 'cn=x', password: secret }, conn }, 'one');
    logger.child({ password: secret, session: { credentials: secret, id: 3 } }).info({ n: 1 }, 'two');
    logger.child({ conn: 1 }).child({ bind: { password: secret } }).info('three');
    expect(JSON.stringify(lines)).not.toContain(secret);
    expect(lines[0]).toMatchObject({ password: '[redacted]', credentials: '[redacted]', bind: { dn: 'cn=x', password: '[redacted]' }, conn: { peer: '127.0.0.1' } });
    expect(lines[1]).toMatchObject({ password: '[redacted]', session: { credentials: '[redacted]', id: 3 }, n: 1 });
    expect(lines[2]).toMatchObject({ conn: 1, bind: { password: '[redacted]' } });
    // The caller's objects are not changed.
    expect(conn.password).toBe(secret);
  });

  it('cap long string fields, so one request cannot write megabytes of log', () => {
    const { logger, lines } = capture();
    logger.info({ filter: 'x'.repeat(100_000), short: 'ok', list: ['y'.repeat(5000)] }, 'long');
    expect(String(lines[0].filter).length).toBeLessThan(LOGGED_VALUE_CHARS + 40);
    expect(String(lines[0].filter)).toContain('(100000 characters)');
    expect((lines[0].list as string[])[0]).toContain('(5000 characters)');
    expect(lines[0].short).toBe('ok');
  });
});

/** A destination keeping each write as written. */
function rawLines() {
  const raw: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(chunk.toString());
      done();
    },
  });
  return { raw, out };
}

describe('lines written without pino (writeInfoLine, for the access log)', () => {
  it('are the lines pino writes for the same fields: level, time, the bindings of a child, fields, message', () => {
    const { raw, out } = rawLines();
    const log = createLogger('info', out).child({ conn: 7, peer: '[::1]:5000' });
    const dn = 'CN=José "quoted" \\ back,DC=example';
    log.info({ msgId: 3, op: 'search', dn, code: 0, ms: 1.5 }, 'operation');
    writeInfoLine(log, `,"msgId":3,"op":"search","dn":${JSON.stringify(dn)},"code":0,"ms":1.5`, 'operation');
    expect(raw).toHaveLength(2);
    const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');
    expect(withoutTime(raw[1]!)).toBe(withoutTime(raw[0]!));
    expect(JSON.parse(raw[1]!)).toMatchObject({ level: 30, name: 'canopy', conn: 7, peer: '[::1]:5000', dn, msg: 'operation' });
  });

  it('follow the logger\'s level: nothing below info', () => {
    const { raw, out } = rawLines();
    const log = createLogger('warn', out);
    writeInfoLine(log, ',"n":1', 'operation');
    log.level = 'info';
    writeInfoLine(log, ',"n":2', 'operation');
    expect(raw.map((l) => (JSON.parse(l) as { n: number }).n)).toEqual([2]);
  });
});
