import type { ProtocolDevice } from './devices.js';
import { sleep } from './server-process.js';

/**
 * Heavy sync traffic from several devices at once: each records a few events and pushes a batch, in a
 * loop, retrying every failure after a short jittered pause, until told to stop; then each drains its
 * outbox. A device that cannot drain before the deadline is stuck.
 */
export class Traffic {
  private recording = true;
  private loops: Promise<void>[] = [];

  constructor(
    readonly devices: readonly ProtocolDevice[],
    private readonly options: { maxRecord?: number; batch?: number; pauseMs?: number } = {},
  ) {}

  start(): void {
    this.loops = this.devices.map((d) => this.loop(d));
  }

  private async loop(d: ProtocolDevice): Promise<void> {
    const maxRecord = this.options.maxRecord ?? 8;
    let failures = 0;
    while (this.recording) {
      d.record(1 + Math.floor(Math.random() * maxRecord));
      const ok = await d.push(this.options.batch ?? 50);
      failures = ok ? 0 : failures + 1;
      await sleep(
        ok
          ? Math.random() * (this.options.pauseMs ?? 20)
          : Math.min(1000, 25 * 2 ** Math.min(failures, 5)) * Math.random() + 10,
      );
    }
  }

  /** Stops recording and drains every outbox; resolves with the devices still holding events at the deadline. */
  async drain(deadlineMs = 60_000): Promise<ProtocolDevice[]> {
    this.recording = false;
    await Promise.all(this.loops);
    const deadline = Date.now() + deadlineMs;
    await Promise.all(
      this.devices.map(async (d) => {
        let failures = 0;
        while (Date.now() < deadline) {
          const ok = await d.push(this.options.batch ?? 50);
          if (ok && d.outbox.length === 0) return;
          failures = ok ? 0 : failures + 1;
          if (!ok) await sleep(Math.min(1000, 25 * 2 ** Math.min(failures, 5)) * Math.random() + 10);
        }
      }),
    );
    return this.devices.filter((d) => d.outbox.length > 0 || d.ackSeq !== d.recorded.size);
  }

  /** Sum of every device's push statistics. */
  stats(): {
    requests: number;
    ok: number;
    network: number;
    byStatus: Record<number, number>;
    seqGaps: number;
  } {
    const total = { requests: 0, ok: 0, network: 0, byStatus: {} as Record<number, number>, seqGaps: 0 };
    for (const d of this.devices) {
      total.requests += d.stats.requests;
      total.ok += d.stats.ok;
      total.network += d.stats.network;
      total.seqGaps += d.stats.seqGaps;
      for (const [k, v] of Object.entries(d.stats.byStatus))
        total.byStatus[Number(k)] = (total.byStatus[Number(k)] ?? 0) + v;
    }
    return total;
  }
}
