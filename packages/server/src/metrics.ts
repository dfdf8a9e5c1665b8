type Labels = Readonly<Record<string, string>>;

const key = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map(
      (k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
    )
    .join(',');

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(labels: Labels, value: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    this.buckets.forEach((b, i) => {
      if (value <= b && s) s.counts[i] = (s.counts[i] ?? 0) + 1;
    });
    s.sum += value;
    s.count += 1;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      this.buckets.forEach((b, i) => {
        lines.push(`${this.name}_bucket{${sep}le="${b}"} ${s.counts[i] ?? 0}`);
      });
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/**
 * The server's Prometheus metrics, kept per process (each instance exposes its own; Prometheus sums them).
 * `render()` returns the text exposition format, version 0.0.4.
 */
export class Metrics {
  readonly httpRequests = new Counter(
    'satchel_http_requests_total',
    'HTTP requests by route, method and status.',
  );
  readonly httpDuration = new Histogram(
    'satchel_http_request_duration_seconds',
    'HTTP request latency by route and method.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  readonly eventsAppended = new Counter(
    'satchel_events_appended_total',
    'Events appended to account streams, by type.',
  );
  readonly syncEvents = new Counter(
    'satchel_sync_events_total',
    'Device events received in syncs, by result status.',
  );
  readonly conflictsRetried = new Counter(
    'satchel_concurrency_conflicts_retried_total',
    'Account transactions retried after losing an optimistic-concurrency race.',
  );
  readonly conflictsExhausted = new Counter(
    'satchel_concurrency_conflicts_exhausted_total',
    'Account transactions that kept conflicting and were answered with a retryable error.',
  );
  readonly snapshotLoads = new Counter(
    'satchel_snapshot_loads_total',
    'Account loads, by whether a snapshot of the current fold version was used (hit/miss).',
  );
  readonly snapshotsWritten = new Counter('satchel_snapshots_written_total', 'Account snapshots written.');
  readonly loadTail = new Histogram(
    'satchel_account_load_tail_events',
    'Events folded after the snapshot when loading an account.',
    [0, 1, 10, 50, 100, 500, 1000, 10000],
  );

  render(): string {
    return `${[
      this.httpRequests,
      this.httpDuration,
      this.eventsAppended,
      this.syncEvents,
      this.conflictsRetried,
      this.conflictsExhausted,
      this.snapshotLoads,
      this.snapshotsWritten,
      this.loadTail,
    ]
      .map((m) => m.render())
      .join('\n')}\n`;
  }
}
