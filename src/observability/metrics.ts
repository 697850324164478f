import { Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { version } from '../version.js';

/**
 * Canopy's metrics, in one process-wide prom-client registry that the HTTP listener exposes as
 * `/metrics`. Every metric is declared here so that the catalogue (and the Grafana dashboard built
 * on it) is readable in one place; modules import the one they update. Updating a prom-client
 * series hashes its label set: per-operation updates go through tallies instead (SeriesTallies).
 */
export const registry = new Registry();

/**
 * Tallies of one metric, one per label set (values in `labelNames`' order), made on first use:
 * prom-client's `inc` and `observe` validate and hash the label set on every call (a child's from
 * `labels()` too), a measurable part of a forwarded bind. A tally counts in plain numbers, added to
 * its series whenever the metrics are read (`/metrics`, a worker's report, a test's `get()`), so what
 * is read is exact.
 */
class SeriesTallies<T> {
  private readonly byKey = new Map<string, { readonly labels: Record<string, string>; readonly tally: T }>();

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: () => T,
  ) {}

  of(values: readonly string[]): T {
    const key = values.join('\0');
    let series = this.byKey.get(key);
    if (!series) this.byKey.set(key, (series = { labels: Object.fromEntries(this.labelNames.map((l, i) => [l, values[i]])), tally: this.make() }));
    return series.tally;
  }

  values(): IterableIterator<{ readonly labels: Record<string, string>; readonly tally: T }> {
    return this.byKey.values();
  }
}

/** One series of a counter, counted in a plain number until the metrics are read (see SeriesTallies). */
export interface Tally {
  inc(): void;
}

class CountTally implements Tally {
  count = 0;

  inc(): void {
    this.count++;
  }
}

/** A counter whose busiest series are tallied (see SeriesTallies); asking again for a series gives the same tally. */
export type Tallied<L extends string> = Counter<L> & { tally(...values: string[]): Tally };

function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Tallied<L> {
  const tallies = new SeriesTallies(labelNames, () => new CountTally());
  const metric = new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const { labels, tally } of tallies.values()) {
        if (tally.count === 0) continue;
        this.inc(labels as Partial<Record<L, string>>, tally.count);
        tally.count = 0;
      }
    },
  });
  return Object.assign(metric, { tally: (...values: string[]): Tally => tallies.of(values) });
}

/**
 * With workers (serve.workers), the primary's `/metrics` sums each series over them: right for
 * counts (connections, cache bytes). A gauge that states a fact rather than counts (a version, an
 * expiry, a server up) names how the workers' values combine instead.
 */
function gauge<L extends string>(name: string, help: string, labelNames: readonly L[], aggregator?: 'min' | 'max' | 'first'): TalliedGauge<L> {
  const tallies = new SeriesTallies(labelNames, () => new ValueTally());
  const metric = new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    ...(aggregator && { aggregator }),
    collect() {
      for (const { labels, tally } of tallies.values()) this.set(labels as Partial<Record<L, string>>, tally.value);
    },
  });
  return Object.assign(metric, { tally: (...values: string[]): GaugeTally => tallies.of(values) });
}

/** One series of a gauge set often (a pool's connections in use), kept in a plain number until the metrics are read (see SeriesTallies). */
export interface GaugeTally {
  set(value: number): void;
}

class ValueTally implements GaugeTally {
  value = 0;

  set(value: number): void {
    this.value = value;
  }
}

/** A gauge whose busiest series may be tallied (see SeriesTallies); asking again for a series gives the same tally. */
export type TalliedGauge<L extends string> = Gauge<L> & { tally(...values: string[]): GaugeTally };

/** Latency buckets from 0.5 ms to 30 s: a cached lookup and a full paged sync page both land in range. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One series of a histogram, observed into plain numbers until the metrics are read (see SeriesTallies). */
export interface ObservationTally {
  observe(value: number): void;
}

/** A bucket's count (a value above the last bound in none: +Inf, as prom-client counts it), a sum and a count. */
class BucketTally implements ObservationTally {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/** What prom-client 15's Histogram keeps per series (not part of its types): a tally's counts are added to it when read. */
interface HistogramSeries {
  readonly labels: Record<string, string>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

export type TalliedHistogram<L extends string> = Histogram<L> & { tally(...values: string[]): ObservationTally };

/** A histogram whose series are tallied as the counters' are (see SeriesTallies). */
function histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): TalliedHistogram<L> {
  const tallies = new SeriesTallies(labelNames, () => new BucketTally(buckets));
  const metric = new Histogram<L>({
    name,
    help,
    labelNames,
    buckets: [...buckets],
    registers: [registry],
    collect() {
      const series = (this as unknown as { hashMap: Record<string, HistogramSeries> }).hashMap;
      for (const { labels, tally } of tallies.values()) {
        if (tally.count === 0) continue;
        const same = (s: HistogramSeries): boolean => labelNames.every((l) => s.labels[l] === labels[l]);
        let target = Object.values(series).find(same);
        if (!target) {
          this.zero(labels as Partial<Record<L, string>>);
          target = Object.values(series).find(same)!;
        }
        for (let i = 0; i < buckets.length; i++) target.bucketValues[buckets[i]] += tally.counts[i];
        target.sum += tally.sum;
        target.count += tally.count;
        tally.counts.fill(0);
        tally.sum = 0;
        tally.count = 0;
      }
    },
  });
  return Object.assign(metric, { tally: (...values: string[]): ObservationTally => tallies.of(values) });
}

export const metrics = {
  // Front end
  operations: counter('canopy_operations_total', 'LDAP operations answered, by operation and result code', ['op', 'code']),
  operationSeconds: histogram('canopy_operation_duration_seconds', 'Time from request to result, by operation', ['op'], LATENCY_BUCKETS),
  openConnections: gauge('canopy_open_connections', 'Client connections open (LDAPS ones from the start of their TLS handshake)', []),
  connectionsRefused: counter('canopy_connections_refused_total', 'Client connections closed at once, by limit (maxConnections, maxConnectionsPerAddress)', ['limit']),
  openPagedSearches: gauge('canopy_open_paged_searches', 'Paged searches (cursors) kept between pages', []),
  pagedSearchesFailed: counter(
    'canopy_paged_searches_failed_total',
    'Paged searches (syncs) ended by an error result on one of their pages, by result code (52: a forest failed or the sync guard tripped; 51: busy)',
    ['code'],
  ),
  bindsThrottled: counter('canopy_binds_throttled_total', 'Binds refused by the failed-bind throttle', []),
  bindsFailed: counter(
    'canopy_binds_failed_total',
    'Simple binds refused or not checked, by forest (empty: a local account, or a name that leads to no entry) and reason',
    ['forest', 'reason'],
  ),

  // Forests and their upstream servers
  upstreamRequests: counter('canopy_upstream_requests_total', 'Operations sent to an upstream server', ['forest', 'server']),
  upstreamErrors: counter('canopy_upstream_errors_total', 'Upstream operations that failed for want of a server (connect, timeout, busy, unavailable)', ['forest', 'server']),
  upstreamServerUp: gauge('canopy_upstream_server_up', '1 while an upstream server is considered up, 0 while it is marked down', ['forest', 'server'], 'min'),
  upstreamServiceBindRefused: gauge(
    'canopy_upstream_service_bind_refused',
    "1 while a forest's service account password is refused (invalidCredentials) and no further binds are tried with it, else 0",
    ['forest'],
    'max',
  ),
  forestReady: gauge(
    'canopy_forest_ready',
    "1 while a forest can serve (its readiness probe: a server takes the service bind and reads the base), else 0; refreshed by each /readyz request",
    ['forest'],
    'min',
  ),
  upstreamFailovers: counter('canopy_upstream_failovers_total', 'Times a forest moved to another server', ['forest']),
  upstreamPoolInUse: gauge('canopy_upstream_pool_in_use', 'Upstream connections busy with an operation', ['forest']),
  partialSearches: counter(
    'canopy_search_forest_missing_total',
    'Searches answered with success without a failed forest (namespace.onForestError: partial), by forest',
    ['forest'],
  ),

  syncGuardTrips: counter(
    'canopy_sync_guard_trips_total',
    'Sync-shaped searches failed because a forest returned far fewer entries than its last complete result (sync.guard), by forest',
    ['forest'],
  ),

  buildInfo: gauge('canopy_build_info', "Always 1: Canopy's version and the Node.js version running it", ['version', 'node'], 'first'),
  tlsCertificateExpiry: gauge(
    'canopy_tls_certificate_expiry_timestamp_seconds',
    "When Canopy's own LDAPS/StartTLS certificate (the first in tls.certFile, the label) expires, as a Unix time; subtract time() for the seconds left",
    ['file'],
    'min',
  ),
  upstreamCertificateExpiry: gauge(
    'canopy_upstream_tls_certificate_expiry_timestamp_seconds',
    "When an upstream server's certificate expires, as a Unix time, as last seen on a TLS connection to it (ldaps:// or tls.startTls); subtract time() for the seconds left",
    ['forest', 'server'],
    'min',
  ),

  // Result cache
  cacheHits: counter('canopy_cache_hits_total', 'Searches answered from the result cache', []),
  cacheMisses: counter('canopy_cache_misses_total', 'Cacheable searches not found in the result cache', []),
  cacheEvictions: counter('canopy_cache_evictions_total', 'Cached results removed, by reason (size: the cache\'s or an identity\'s share; expired; write)', ['reason']),
  cacheStaleServed: counter('canopy_cache_stale_served_total', 'Cached results served past their TTL because a forest was unavailable', []),
  cacheResults: gauge('canopy_cache_results', 'Search results held in the cache', []),
  cacheBytes: gauge('canopy_cache_bytes', 'Bytes held by cached results (encoded entries plus a per-result overhead), as cache.maxBytes counts them', []),

  // Mock directory
  mockFaultsInjected: counter('canopy_mock_faults_injected_total', 'Faults switched on in mock directories, by kind', ['kind']),
  mockFaultsTriggered: counter('canopy_mock_faults_triggered_total', 'Operations and entries a mock fault acted on, by forest', ['forest']),
} as const;

metrics.buildInfo.set({ version, node: process.version }, 1);

/** One series' current value (0 when it has never been set): for tests and the logged summary. */
export async function metricValue(
  metric: { get(): Promise<MetricObjectWithValues<MetricValue<string>>> },
  labels: Record<string, string | number> = {},
): Promise<number> {
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  // A histogram's series carry a metricName; its count is the value of interest.
  const series = values.find(
    (v) => (!('metricName' in v) || String(v.metricName).endsWith('_count')) && wanted.every(([k, x]) => String(v.labels[k]) === String(x)),
  );
  return series?.value ?? 0;
}
