import { anchorSecureClock, type ClockReading, initialSecureClock } from '@satchel/core';
import { PROTOCOL_VERSION, type SyncResponse } from '@satchel/protocol';
import { ClientError } from '../errors.js';
import type { OutboxEntry, SatchelStorage } from '../storage/types.js';
import type { Transport } from './http.js';

/** An event the server refused for good; it was acknowledged and dropped from the outbox. */
export interface RejectedEvent {
  seq: number;
  eventId: string;
  code: string;
  message: string;
}

/** What one sync achieved. */
export interface SyncResult {
  /** Events sent (over all batches). */
  sent: number;
  /** Outbox entries dropped because the server acknowledged them. */
  acknowledged: number;
  /** Acknowledged events the server refused. */
  rejected: RejectedEvent[];
  /** Version of the snapshot now stored. */
  snapshotVersion: number;
  /** The server's time at the last answer (the device's check-in). */
  serverTime: number;
  /** Outbox entries still pending. */
  pending: number;
}

export interface EngineDeps {
  storage: SatchelStorage;
  transport: Transport;
  token: () => Promise<string>;
  reading: () => ClockReading;
  maxEvents: number;
  maxBytes: number;
}

const encoder = new TextEncoder();

/** The longest prefix of `pending` within `maxBytes` (at least one event, so a large one still goes). */
export function takeBatch(pending: readonly OutboxEntry[], maxBytes: number): OutboxEntry[] {
  const batch: OutboxEntry[] = [];
  let bytes = 128;
  for (const entry of pending) {
    bytes += encoder.encode(JSON.stringify(entry)).length + 1;
    if (batch.length > 0 && bytes > maxBytes) break;
    batch.push(entry);
  }
  return batch;
}

/**
 * Sends the outbox in seq order, batch by batch, until it is empty; each answer's acknowledgement, snapshot
 * and clock anchor are committed in one storage transaction before the next batch goes. Always sends at
 * least one request (an empty batch fetches the snapshot).
 */
export async function drainOutbox(deps: EngineDeps): Promise<SyncResult> {
  let meta = await deps.storage.readMeta();
  const identity = meta.identity;
  if (identity === null) throw new ClientError('NOT_REGISTERED', 'The device is not registered');
  const token = await deps.token();
  const result: SyncResult = {
    sent: 0,
    acknowledged: 0,
    rejected: [],
    snapshotVersion: 0,
    serverTime: 0,
    pending: 0,
  };
  for (let requests = 0; ; requests++) {
    const pending = await deps.storage.pending(deps.maxEvents);
    if (requests > 0 && pending.length === 0) break;
    const batch = takeBatch(pending, deps.maxBytes);
    const response: SyncResponse = await deps.transport.sync(token, {
      protocolVersion: PROTOCOL_VERSION,
      deviceId: identity.deviceId,
      snapshotVersion: meta.snapshot?.version ?? null,
      events: batch,
    });
    const reading = deps.reading();
    const clock = anchorSecureClock(
      meta.clock ?? initialSecureClock(reading.wallNow),
      response.serverTime,
      reading,
    );
    result.acknowledged += await deps.storage.commit(response.ackSeq, {
      snapshot: response.snapshot,
      clock,
      cursor: { lastSyncAt: reading.wallNow, lastError: null, updateRequired: null },
    });
    meta = { ...meta, snapshot: response.snapshot, clock };
    result.sent += batch.length;
    result.snapshotVersion = response.snapshot.version;
    result.serverTime = response.serverTime;
    for (const r of response.results) {
      if (r.status === 'rejected')
        result.rejected.push({ seq: r.seq, eventId: r.eventId, code: r.code, message: r.message });
    }
    const first = batch[0];
    const last = batch[batch.length - 1];
    if (first === undefined || last === undefined) break;
    if (response.ackSeq < first.seq) {
      throw new ClientError(
        'SERVER',
        `The server acknowledged nothing of a batch starting at seq ${first.seq}`,
        {
          retryable: true,
          details: { code: null, ackSeq: response.ackSeq, firstSeq: first.seq },
        },
      );
    }
    if (response.ackSeq >= last.seq && pending.length === batch.length && pending.length < deps.maxEvents)
      break;
  }
  result.pending = await deps.storage.pendingCount();
  return result;
}
