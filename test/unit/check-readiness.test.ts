/** /readyz's verdict: a replica serves while its listener accepts and any forest answers. */
import { describe, expect, it } from 'vitest';
import { checkReadiness, readinessReport } from '../../src/http/check-readiness.js';
import { metrics, metricValue } from '../../src/observability/metrics.js';

const up = (name: string) => ({ name, ready: () => Promise.resolve({ ready: true }) });
const down = (name: string, reason: string) => ({ name, ready: () => Promise.resolve({ ready: false, reason }) });

describe('checkReadiness', () => {
  it('is ready with one forest of two down, and names it', async () => {
    const r = await checkReadiness(true, [down('avvid', 'no server reachable'), up('vse')]);
    expect(r.ready).toBe(true);
    expect(readinessReport(r, false)).toBe('ready\nldap listener: listening\nforests ready: 1 of 2 (not ready: avvid)\n');
    expect(readinessReport(r, true)).toBe(
      'ready\nldap listener: listening\nforests ready: 1 of 2 (not ready: avvid)\nforest avvid: not ready: no server reachable\nforest vse: ready\n',
    );
    expect(await metricValue(metrics.forestReady, { forest: 'avvid' })).toBe(0);
    expect(await metricValue(metrics.forestReady, { forest: 'vse' })).toBe(1);
  });

  it('is not ready when no forest answers', async () => {
    const r = await checkReadiness(true, [down('avvid', 'a'), down('vse', 'b')]);
    expect(r.ready).toBe(false);
    expect(readinessReport(r, false)).toBe('not ready\nldap listener: listening\nforests ready: 0 of 2 (not ready: avvid, vse)\n');
  });

  it('is not ready while the LDAP listener does not accept, whatever the forests', async () => {
    const r = await checkReadiness(false, [up('avvid')]);
    expect(r.ready).toBe(false);
    expect(readinessReport(r, false)).toBe('not ready\nldap listener: not listening\nforests ready: 1 of 1\n');
  });

  it('drops the series of a forest no longer checked (removed by a reload)', async () => {
    await checkReadiness(true, [up('avvid'), up('old')]);
    await checkReadiness(true, [up('avvid')]);
    const { values } = await metrics.forestReady.get();
    expect(values.map((v) => v.labels.forest)).toEqual(['avvid']);
  });
});
