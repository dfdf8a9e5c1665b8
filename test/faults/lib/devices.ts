import { randomBytes } from 'node:crypto';
import type { Queryable } from '@satchel/server';

/** A UUIDv7 (time-ordered), as the SDK assigns to every device event. */
export function uuidv7(now = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | ((b[6] ?? 0) & 0x0f);
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface Envelope {
  eventId: string;
  seq: number;
  type: 'ClockRollbackDetected' | 'PlaybackStopped';
  v: number;
  occurredAt: number;
  trustedAt: number;
  data: Record<string, unknown>;
}

export interface PushStats {
  requests: number;
  ok: number;
  network: number;
  byStatus: Record<number, number>;
  seqGaps: number;
}

/**
 * A device that speaks the sync protocol as the SDK does, over real HTTP: a durable (in memory) outbox
 * with gap-free seqs, batches in seq order, an event leaves the outbox only once `ackSeq` covers it, and
 * every failure (network error, 5xx, 429) is simply retried. Half its events are accepted by the server
 * (a clock rollback, one stream event each), half rejected for good (a stop for an unknown licence).
 */
export class ProtocolDevice {
  readonly recorded = new Map<number, Envelope>();
  outbox: Envelope[] = [];
  ackSeq = 0;
  private nextSeq = 1;
  /** Events the server answered `accepted` more than once: each is a duplicate application. */
  acceptedTwice = 0;
  private readonly answered = new Map<number, string>();
  readonly stats: PushStats = { requests: 0, ok: 0, network: 0, byStatus: {}, seqGaps: 0 };

  constructor(
    readonly accountId: string,
    readonly deviceId: string,
    private readonly token: string,
    private readonly baseUrl: () => string,
    private readonly timeoutMs = 5_000,
  ) {}

  /** Records `n` events (durable in the outbox as soon as this returns). */
  record(n: number, now = Date.now()): void {
    for (let i = 0; i < n; i++) {
      const seq = this.nextSeq++;
      const accepted = seq % 2 === 1;
      const envelope: Envelope = accepted
        ? {
            eventId: uuidv7(now),
            seq,
            type: 'ClockRollbackDetected',
            v: 1,
            occurredAt: now - 60_000,
            trustedAt: now,
            data: { deviceId: this.deviceId, at: now, wallClockAt: now - 60_000, behindMs: 60_000 },
          }
        : {
            eventId: uuidv7(now),
            seq,
            type: 'PlaybackStopped',
            v: 3,
            occurredAt: now,
            trustedAt: now,
            data: { deviceId: this.deviceId, licenseId: uuidv7(now), at: now, positionMs: seq },
          };
      this.recorded.set(seq, envelope);
      this.outbox.push(envelope);
    }
  }

  /** One sync request with up to `max` outbox events. Resolves true on a 2xx (the ack was applied). */
  async push(max = 50): Promise<boolean> {
    const batch = this.outbox.slice(0, max);
    this.stats.requests++;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl()}/v1/sync`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.token}`,
          'content-type': 'application/json',
          'satchel-protocol-version': '1',
        },
        body: JSON.stringify({
          protocolVersion: 1,
          deviceId: this.deviceId,
          snapshotVersion: null,
          events: batch,
        }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      this.stats.network++;
      return false;
    }
    this.stats.byStatus[res.status] = (this.stats.byStatus[res.status] ?? 0) + 1;
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      this.stats.network++;
      return false;
    }
    if (res.status === 409) this.stats.seqGaps++;
    if (res.status !== 200) return false;
    this.stats.ok++;
    const answer = body as { ackSeq: number; results: Array<{ seq: number; status: string }> };
    for (const r of answer.results) {
      if (r.status === 'accepted' && this.answered.get(r.seq) === 'accepted') this.acceptedTwice++;
      if (!this.answered.has(r.seq) || r.status === 'accepted') this.answered.set(r.seq, r.status);
    }
    if (answer.ackSeq < this.ackSeq)
      throw new Error(`ackSeq went back from ${this.ackSeq} to ${answer.ackSeq}`);
    this.ackSeq = answer.ackSeq;
    this.outbox = this.outbox.filter((e) => e.seq > answer.ackSeq);
    return true;
  }
}

export interface Verdict {
  acked: number;
  lost: number;
  duplicated: number;
  problems: string[];
}

/**
 * Checks the store against what devices were told: every acknowledged event has exactly one receipt with
 * its eventId; an accepted one is exactly one stream event with that id and (device, seq), a rejected one
 * none; no (device, seq) was applied twice; the device cursor equals the device's ack.
 */
/** What a device knows of its own events: what it recorded (by seq) and the highest seq acknowledged. */
export interface DeviceRecord {
  accountId: string;
  deviceId: string;
  ackSeq: number;
  recorded: ReadonlyMap<number, { eventId: string; type: string }>;
  /** Events the server answered `accepted` more than once. */
  acceptedTwice: number;
}

export async function verifyStore(db: Queryable, devices: readonly DeviceRecord[]): Promise<Verdict> {
  const verdict: Verdict = { acked: 0, lost: 0, duplicated: 0, problems: [] };
  const problem = (text: string) => {
    if (verdict.problems.length < 20) verdict.problems.push(text);
  };
  for (const d of devices) {
    const receipts = new Map(
      (
        await db.query<{ seq: string | number; event_id: string; status: string }>(
          'SELECT seq, event_id::text AS event_id, status FROM device_receipts WHERE account_id = $1 AND device_id = $2',
          [d.accountId, d.deviceId],
        )
      ).map((r) => [Number(r.seq), r]),
    );
    const rows = await db.query<{ seq: string; event_id: string }>(
      `SELECT metadata->>'seq' AS seq, event_id::text AS event_id FROM events
       WHERE account_id = $1 AND metadata->>'deviceId' = $2`,
      [d.accountId, d.deviceId],
    );
    const rowsBySeq = new Map<number, string[]>();
    for (const r of rows) rowsBySeq.set(Number(r.seq), [...(rowsBySeq.get(Number(r.seq)) ?? []), r.event_id]);
    const cursor = await db.query<{ last_seq: string | number }>(
      'SELECT last_seq FROM device_cursors WHERE account_id = $1 AND device_id = $2',
      [d.accountId, d.deviceId],
    );
    const lastSeq = Number(cursor[0]?.last_seq ?? 0);
    if (lastSeq !== d.ackSeq) problem(`${d.deviceId}: server cursor ${lastSeq}, device ack ${d.ackSeq}`);
    verdict.duplicated += d.acceptedTwice;
    for (const [seq, ids] of rowsBySeq) {
      if (ids.length > 1) {
        verdict.duplicated += ids.length - 1;
        problem(`${d.deviceId} seq ${seq}: ${ids.length} stream events`);
      }
      if (!d.recorded.has(seq)) problem(`${d.deviceId} seq ${seq}: a stream event the device never recorded`);
    }
    for (let seq = 1; seq <= d.ackSeq; seq++) {
      verdict.acked++;
      const e = d.recorded.get(seq);
      const r = receipts.get(seq);
      if (!e || !r || r.event_id !== e.eventId) {
        verdict.lost++;
        problem(`${d.deviceId} seq ${seq}: acknowledged but no matching receipt`);
        continue;
      }
      const ids = rowsBySeq.get(seq) ?? [];
      if (r.status === 'accepted' && (ids.length !== 1 || ids[0] !== e.eventId)) {
        if (ids.length === 0) verdict.lost++;
        problem(`${d.deviceId} seq ${seq}: accepted, ${ids.length} stream events`);
      }
      if (r.status === 'rejected' && ids.length > 0) {
        verdict.duplicated += ids.length;
        problem(`${d.deviceId} seq ${seq}: rejected yet applied`);
      }
      if (e.type === 'ClockRollbackDetected' && r.status !== 'accepted')
        problem(`${d.deviceId} seq ${seq}: ${r.status}`);
    }
  }
  return verdict;
}
