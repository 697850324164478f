import type { Counter, Histogram } from 'prom-client';
import { metrics } from '../observability/metrics.js';

type CounterChild = ReturnType<Counter<'op' | 'code'>['labels']>;
type HistogramChild = ReturnType<Histogram<'op'>['labels']>;

const counted = new Map<string, CounterChild>();
const timed = new Map<string, HistogramChild>();

/**
 * Counts an answered operation and observes its latency (refusals answered before the operation
 * ran have none). Resolving a prom-client child builds and validates its label set, so each
 * op/code child is resolved once and kept.
 */
export function recordOperation(op: string, code: number, seconds?: number): void {
  const key = `${op}:${code}`;
  let counter = counted.get(key);
  if (!counter) counted.set(key, (counter = metrics.operations.labels(op, String(code))));
  counter.inc();
  if (seconds === undefined) return;
  let histogram = timed.get(op);
  if (!histogram) timed.set(op, (histogram = metrics.operationSeconds.labels(op)));
  histogram.observe(seconds);
}
