import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics.js';

describe('Metrics (prom-client)', () => {
  it("exports the process's default metrics and Satchel's, with the names operators know", async () => {
    const metrics = new Metrics();
    metrics.httpRequests.inc({ route: '/v1/sync', method: 'POST', status: '200' });
    metrics.httpDuration.observe({ route: '/v1/sync', method: 'POST' }, 0.02);
    metrics.eventsAppended.inc({ type: 'LicenseIssued' }, 3);
    metrics.loadTail.observe({}, 12);
    const text = await metrics.render();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'satchel_concurrency_conflicts_retried_total 0',
      'satchel_snapshots_written_total 0',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toContain('satchel_http_requests_total{route="/v1/sync",method="POST",status="200"} 1');
    expect(text).toContain(
      'satchel_http_request_duration_seconds_bucket{le="0.025",route="/v1/sync",method="POST"} 1',
    );
    expect(text).toContain('satchel_events_appended_total{type="LicenseIssued"} 3');
    expect(text).toContain('satchel_account_load_tail_events_bucket{le="50"} 1');
    expect(await metrics.eventsAppended.get({ type: 'LicenseIssued' })).toBe(3);
    expect(metrics.contentType).toMatch(/^text\/plain/);
  });

  it('keeps each instance in its own registry', async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    a.snapshotsWritten.inc();
    expect(await a.snapshotsWritten.get()).toBe(1);
    expect(await b.snapshotsWritten.get()).toBe(0);
    expect(await b.render()).not.toContain('process_cpu');
  });
});
