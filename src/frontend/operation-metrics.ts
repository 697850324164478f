import { metrics, type ObservationTally, type Tally } from '../observability/metrics.js';

const counted = new Map<string, Tally>();
const timed = new Map<string, ObservationTally>();

/**
 * Counts an answered operation and observes its latency (refusals answered before the operation
 * ran have none), in tallies kept per op/code (see metrics' Tallied).
 */
export function recordOperation(op: string, code: number, seconds?: number): void {
  const key = `${op}:${code}`;
  let counter = counted.get(key);
  if (!counter) counted.set(key, (counter = metrics.operations.tally(op, String(code))));
  counter.inc();
  if (seconds === undefined) return;
  let histogram = timed.get(op);
  if (!histogram) timed.set(op, (histogram = metrics.operationSeconds.tally(op)));
  histogram.observe(seconds);
}
