import * as prom from 'prom-client';

type Labels = Readonly<Record<string, string>>;

/** A Prometheus counter (prom-client) with the label names it was declared with. */
class Counter<L extends string> {
  readonly metric: prom.Counter<L>;
  constructor(registry: prom.Registry, name: string, help: string, labelNames: readonly L[] = []) {
    this.metric = new prom.Counter({ name, help, labelNames, registers: [registry] });
  }
  inc(labels: Partial<Record<L, string>> = {}, by = 1): void {
    this.metric.inc(labels as prom.LabelValues<L>, by);
  }
  /** The counter's value for exactly these labels (0 when never incremented). */
  async get(labels: Labels = {}): Promise<number> {
    const { values } = await this.metric.get();
    const wanted = Object.entries(labels);
    const match = values.find(
      (v) =>
        Object.keys(v.labels).length === wanted.length &&
        wanted.every(([k, value]) => String((v.labels as Labels)[k]) === value),
    );
    return match?.value ?? 0;
  }
}

/** A Prometheus histogram (prom-client). */
class Histogram<L extends string> {
  readonly metric: prom.Histogram<L>;
  constructor(
    registry: prom.Registry,
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly L[] = [],
  ) {
    this.metric = new prom.Histogram({
      name,
      help,
      buckets: [...buckets],
      labelNames,
      registers: [registry],
    });
  }
  observe(labels: Partial<Record<L, string>>, value: number): void {
    this.metric.observe(labels as prom.LabelValues<L>, value);
  }
}

/** A Prometheus gauge (prom-client). */
class Gauge<L extends string> {
  readonly metric: prom.Gauge<L>;
  constructor(registry: prom.Registry, name: string, help: string, labelNames: readonly L[] = []) {
    this.metric = new prom.Gauge({ name, help, labelNames, registers: [registry] });
  }
  set(labels: Partial<Record<L, string>>, value: number): void {
    this.metric.set(labels as prom.LabelValues<L>, value);
  }
}

/** Options of {@link Metrics}. */
export interface MetricsOptions {
  /** Also export prom-client's default process metrics (CPU, memory, event loop lag, GC; default true). */
  readonly processMetrics?: boolean;
}

/**
 * The server's Prometheus metrics (prom-client), kept per process in their own registry (each instance
 * exposes its own; Prometheus sums them): prom-client's default process metrics (`process_*`, `nodejs_*`)
 * and Satchel's own (`satchel_*`, listed in docs/operations.md). `render()` resolves with the text
 * exposition format.
 */
export class Metrics {
  readonly registry = new prom.Registry();
  readonly httpRequests = new Counter(
    this.registry,
    'satchel_http_requests_total',
    'HTTP requests by route, method and status.',
    ['route', 'method', 'status'],
  );
  readonly httpDuration = new Histogram(
    this.registry,
    'satchel_http_request_duration_seconds',
    'HTTP request latency by route and method.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ['route', 'method'],
  );
  readonly eventsAppended = new Counter(
    this.registry,
    'satchel_events_appended_total',
    'Events appended to account streams, by type.',
    ['type'],
  );
  readonly syncEvents = new Counter(
    this.registry,
    'satchel_sync_events_total',
    'Device events received in syncs, by result status.',
    ['status'],
  );
  readonly conflictsRetried = new Counter(
    this.registry,
    'satchel_concurrency_conflicts_retried_total',
    'Account transactions retried after losing an optimistic-concurrency race.',
  );
  readonly conflictsExhausted = new Counter(
    this.registry,
    'satchel_concurrency_conflicts_exhausted_total',
    'Account transactions that kept conflicting and were answered with a retryable error.',
  );
  readonly snapshotLoads = new Counter(
    this.registry,
    'satchel_snapshot_loads_total',
    'Account loads, by whether a snapshot of the current fold version was used (hit/miss).',
    ['result'],
  );
  readonly snapshotsWritten = new Counter(
    this.registry,
    'satchel_snapshots_written_total',
    'Account snapshots written.',
  );
  readonly loadTail = new Histogram(
    this.registry,
    'satchel_account_load_tail_events',
    'Events folded after the snapshot when loading an account.',
    [0, 1, 10, 50, 100, 500, 1000, 10000],
  );

  readonly refusals = new Counter(
    this.registry,
    'satchel_license_refusals_total',
    'Licence requests and renewals refused by the rules, by code.',
    ['code'],
  );
  readonly refusalsNotRecorded = new Counter(
    this.registry,
    'satchel_license_refusals_unrecorded_total',
    'Refusals answered but not recorded as LicenseRefused because the account used its quota.',
  );
  readonly projectionLagEvents = new Gauge(
    this.registry,
    'satchel_projection_lag_events',
    'Events in the global feed after a projection checkpoint, by projection and generation.',
    ['projection', 'generation', 'status'],
  );
  readonly projectionLagSeconds = new Gauge(
    this.registry,
    'satchel_projection_lag_seconds',
    'Age of the oldest event a projection has not processed yet, by projection and generation.',
    ['projection', 'generation', 'status'],
  );
  readonly projectionEvents = new Counter(
    this.registry,
    'satchel_projection_events_total',
    'Events processed by this instance, by projection.',
    ['projection'],
  );
  readonly projectionBatches = new Counter(
    this.registry,
    'satchel_projection_batches_total',
    'Batches by projection and result (committed, leased_elsewhere, failed).',
    ['projection', 'result'],
  );

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics ?? true) prom.collectDefaultMetrics({ register: this.registry });
  }

  /** The content type of {@link render}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
