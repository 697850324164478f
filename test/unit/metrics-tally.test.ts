import { describe, expect, it } from 'vitest';
import { metrics, metricValue, registry } from '../../src/observability/metrics.js';

/** One line of the exposition text, by metric name and labels as printed; undefined when absent. */
async function exposed(line: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('tallied metrics', () => {
  it('counts a tally into its series whenever the metrics are read, exactly and once', async () => {
    const tally = metrics.operations.tally('tally-test', '0');
    expect(metrics.operations.tally('tally-test', '0')).toBe(tally); // one tally per series
    for (let i = 0; i < 5; i++) tally.inc();
    expect(await exposed('canopy_operations_total{op="tally-test",code="0"}')).toBe(5);
    tally.inc();
    expect(await metricValue(metrics.operations, { op: 'tally-test', code: '0' })).toBe(6);
    // Read again without new counts: nothing added twice.
    expect(await exposed('canopy_operations_total{op="tally-test",code="0"}')).toBe(6);
    // A series counted through prom-client directly adds up with the tally's.
    metrics.operations.inc({ op: 'tally-test', code: '0' });
    expect(await exposed('canopy_operations_total{op="tally-test",code="0"}')).toBe(7);
  });

  it('reads a gauge tally as the value last set, also after the registry was reset', async () => {
    const tally = metrics.upstreamPoolInUse.tally('tally-test');
    expect(metrics.upstreamPoolInUse.tally('tally-test')).toBe(tally);
    tally.set(3);
    tally.set(2);
    expect(await exposed('canopy_upstream_pool_in_use{forest="tally-test"}')).toBe(2);
    expect(await metricValue(metrics.upstreamPoolInUse, { forest: 'tally-test' })).toBe(2);
    registry.resetMetrics();
    expect(await exposed('canopy_upstream_pool_in_use{forest="tally-test"}')).toBe(2);
    tally.set(0);
    expect(await exposed('canopy_upstream_pool_in_use{forest="tally-test"}')).toBe(0);
  });

  it('observes into buckets, sum and count as prom-client would', async () => {
    const tally = metrics.operationSeconds.tally('tally-test');
    const values = [0.0001, 0.0005, 0.0007, 0.003, 0.2, 31];
    for (const v of values) tally.observe(v);
    const series = (le: string) => exposed(`canopy_operation_duration_seconds_bucket{le="${le}",op="tally-test"}`);
    expect(await series('0.0005')).toBe(2); // a value on a bound is in its bucket
    expect(await series('0.001')).toBe(3);
    expect(await series('0.005')).toBe(4);
    expect(await series('0.25')).toBe(5);
    expect(await series('30')).toBe(5);
    expect(await series('+Inf')).toBe(6); // above the last bound: counted in no bucket
    expect(await exposed('canopy_operation_duration_seconds_count{op="tally-test"}')).toBe(6);
    expect(await exposed('canopy_operation_duration_seconds_sum{op="tally-test"}')).toBeCloseTo(values.reduce((a, b) => a + b), 9);
    tally.observe(0.002);
    expect(await series('0.0025')).toBe(4);
    expect(await series('0.001')).toBe(3);
    expect(await exposed('canopy_operation_duration_seconds_count{op="tally-test"}')).toBe(7);
  });
});
