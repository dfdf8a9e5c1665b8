import { anchorSecureClock, type ClockReading, initialSecureClock, isSatchelError } from '@satchel/core';
import {
  MAX_SYNC_BATCH_EVENTS,
  MAX_SYNC_BODY_BYTES,
  PROTOCOL_VERSION,
  type SyncRequest,
  type SyncResponse,
} from '@satchel/protocol';
import { ClientError } from '../errors.js';
import type { SatchelLogger } from '../logger.js';
import type { OutboxEntry, RetainedEvent, SatchelStorage, StoredMeta } from '../storage/types.js';
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

/**
 * The server and the device disagree about where the device's history stands: the server expects
 * `expectedSeq` next, but the device's outbox starts at `firstSeq` (the server lost what lies between,
 * e.g. restored from a backup). The handler refills the server from retained events or has it re-base.
 * It resolves with the entries to send before the outbox (the retained ones), or rejects.
 */
export type GapHandler = (gap: { expectedSeq: number; firstSeq: number }) => Promise<OutboxEntry[]>;

/**
 * The other disagreement: the server already acknowledged seqs this device assigns again (its storage
 * was restored from an older backup), so it refused `reused` as `EVENT_ID_REUSED` and its cursor stands
 * at `serverSeq`. The handler renumbers those events and every pending one after `serverSeq` (ids kept)
 * and records the recovery; the run then sends them again.
 */
export type ReuseHandler = (reuse: { reused: number[]; serverSeq: number }) => Promise<void>;

export interface EngineDeps {
  storage: SatchelStorage;
  transport: Transport;
  /** The bearer token; `refresh` is set after the server refused the previous one (401). */
  token: (refresh: boolean) => Promise<string>;
  reading: () => ClockReading;
  maxEvents: number;
  maxBytes: number;
  /** Waits for the request budget (bounds the request rate whatever the answers). */
  beforeRequest: () => Promise<void>;
  onGap: GapHandler;
  onReuse: ReuseHandler;
  logger: SatchelLogger;
  /** How long, and how many, acknowledged events are kept to refill a server restored from a backup. */
  retention: RetentionOptions;
  /** The wall clock (when an event was acknowledged). */
  now: () => number;
}

/** The retention window of acknowledged events: `maxAgeMs` after their acknowledgement, at most `maxEvents`. */
export interface RetentionOptions {
  maxAgeMs: number;
  maxEvents: number;
}

/** Default retention: the default offline check-in period (30 days), at most 500 events. */
export const DEFAULT_RETENTION: RetentionOptions = { maxAgeMs: 30 * 86_400_000, maxEvents: 500 };

/** Adds newly acknowledged events to the retained ones and drops what left the window. */
export function retain(
  retained: readonly RetainedEvent[],
  acknowledged: readonly OutboxEntry[],
  now: number,
  options: RetentionOptions,
): RetainedEvent[] {
  const seqs = new Set(acknowledged.map((e) => e.seq));
  const next = [
    ...retained.filter((r) => !seqs.has(r.entry.seq)),
    ...acknowledged.map((entry) => ({ entry, ackedAt: now })),
  ].filter((r) => now - r.ackedAt < options.maxAgeMs);
  next.sort((a, b) => a.entry.seq - b.entry.seq);
  return options.maxEvents <= 0 ? [] : next.slice(-options.maxEvents);
}

const encoder = new TextEncoder();
const ENVELOPE_OVERHEAD = 256;

/** Caps batch options at the protocol's limits: a larger batch could only be refused. */
export function batchLimits(options: { maxEvents?: number; maxBytes?: number } | undefined): {
  maxEvents: number;
  maxBytes: number;
} {
  const events = Math.floor(options?.maxEvents ?? DEFAULT_BATCH_EVENTS);
  const bytes = Math.floor(options?.maxBytes ?? DEFAULT_BATCH_BYTES);
  return {
    maxEvents: Math.min(MAX_SYNC_BATCH_EVENTS, Math.max(1, Number.isFinite(events) ? events : 1)),
    maxBytes: Math.min(MAX_SYNC_BODY_BYTES, Math.max(4096, Number.isFinite(bytes) ? bytes : 4096)),
  };
}

/** Default batch bounds: the protocol's 500 events, and half its 1 MiB body limit. */
export const DEFAULT_BATCH_EVENTS = MAX_SYNC_BATCH_EVENTS;
export const DEFAULT_BATCH_BYTES = MAX_SYNC_BODY_BYTES / 2;

/** The longest prefix of `pending` within `maxBytes` (at least one event, so a large one still goes). */
export function takeBatch(pending: readonly OutboxEntry[], maxBytes: number): OutboxEntry[] {
  const batch: OutboxEntry[] = [];
  let bytes = ENVELOPE_OVERHEAD;
  for (const entry of pending) {
    bytes += encoder.encode(JSON.stringify(entry)).length + 1;
    if (batch.length > 0 && bytes > maxBytes) break;
    batch.push(entry);
  }
  return batch;
}

/** Whether the server refused a batch as a whole for its size or content (so a smaller one may pass). */
function refusedAsBatch(error: unknown): boolean {
  if (!(error instanceof ClientError) || error.code !== 'SERVER') return false;
  const code = error.details?.code;
  return (
    code === 'PAYLOAD_TOO_LARGE' ||
    code === 'VALIDATION_FAILED' ||
    code === 'BAD_REQUEST' ||
    error.status === 413 ||
    error.status === 400
  );
}

function seqGap(error: unknown): { expectedSeq: number; receivedSeq: number } | null {
  if (!(error instanceof ClientError) || error.details?.code !== 'SEQ_GAP') return null;
  const details = (error.details.wire as { details?: { expectedSeq?: unknown; receivedSeq?: unknown } })
    .details;
  const expectedSeq = details?.expectedSeq;
  const receivedSeq = details?.receivedSeq;
  return typeof expectedSeq === 'number' && typeof receivedSeq === 'number'
    ? { expectedSeq, receivedSeq }
    : null;
}

/**
 * What is left of an event the server cannot take at all (too large, or not even readable): its place
 * in the sequence and its device, without the payload. The server reads it, refuses it for good
 * (`INVALID_EVENT`) and acknowledges it, so the queue behind it moves.
 */
export function husk(entry: OutboxEntry, deviceId: string): OutboxEntry {
  const clampInstant = (t: unknown) =>
    typeof t === 'number' && Number.isSafeInteger(t) && t >= 0 && t <= 8.64e15 ? t : 0;
  return {
    eventId: entry.eventId,
    seq: entry.seq,
    type: entry.type,
    v: 1,
    occurredAt: clampInstant(entry.occurredAt),
    trustedAt: clampInstant(entry.trustedAt),
    data: { deviceId, unsendable: true },
  };
}

/**
 * Sends the outbox in seq order, batch by batch, until it is empty; each answer's acknowledgement, snapshot
 * and clock anchor are committed in one storage transaction before the next batch goes. Always sends at
 * least one request (an empty batch fetches the snapshot).
 *
 * The queue always moves: a batch the server refuses as too large or invalid is halved until the one bad
 * event is alone, which is then sent as its {@link husk} and acknowledged as rejected. A `SEQ_GAP` behind
 * the outbox goes to `onGap` (refill or re-base). A 401 asks for a fresh token once.
 */
export async function drainOutbox(deps: EngineDeps): Promise<SyncResult> {
  let meta: StoredMeta = await deps.storage.readMeta();
  const identity = meta.identity;
  if (identity === null) throw new ClientError('NOT_REGISTERED', 'The device is not registered');
  let token = await deps.token(false);
  let refreshed = false;
  const result: SyncResult = {
    sent: 0,
    acknowledged: 0,
    rejected: [],
    snapshotVersion: 0,
    serverTime: 0,
    pending: 0,
  };
  let limit = deps.maxEvents;
  let refill: OutboxEntry[] = [];
  let retained = meta.cursor.retained ?? [];
  // The highest seq this device ever had acknowledged: an answer below it means the server lost events.
  const deviceAck = meta.cursor.ackSeq;
  let recovered = false;
  let renumbering = false;
  const husks = new Set<number>();
  for (let requests = 0; ; requests++) {
    const outbox = await deps.storage.pending(limit);
    const pending = refill.length > 0 ? [...refill, ...outbox].slice(0, limit) : outbox;
    if (requests > 0 && pending.length === 0) break;
    const batch = takeBatch(pending, deps.maxBytes).map((e) =>
      husks.has(e.seq) ? husk(e, identity.deviceId) : e,
    );
    const request: SyncRequest = {
      protocolVersion: PROTOCOL_VERSION,
      deviceId: identity.deviceId,
      snapshotVersion: meta.snapshot?.version ?? null,
      events: batch,
    };
    let response: SyncResponse;
    await deps.beforeRequest();
    try {
      response = await deps.transport.sync(token, request);
    } catch (error) {
      if (isSatchelError(error, 'UNAUTHORIZED') && !refreshed) {
        refreshed = true;
        token = await deps.token(true);
        continue;
      }
      const gap = seqGap(error);
      const first = batch[0];
      if (gap !== null && first !== undefined && gap.expectedSeq < first.seq && !recovered) {
        recovered = true;
        refill = await deps.onGap({ expectedSeq: gap.expectedSeq, firstSeq: first.seq });
        continue;
      }
      if (refusedAsBatch(error) && first !== undefined) {
        if (batch.length > 1) {
          limit = Math.max(1, Math.floor(batch.length / 2));
          deps.logger.log('warn', `sync: batch of ${batch.length} refused; splitting`, { error });
          continue;
        }
        if (!husks.has(first.seq)) {
          husks.add(first.seq);
          deps.logger.log('warn', `sync: event seq ${first.seq} cannot be sent; sending it as a husk`, {
            error,
            seq: first.seq,
            type: first.type,
          });
          continue;
        }
      }
      throw error;
    }
    // Seqs the server had already acknowledged for other events: this device's storage is behind the
    // server (restored from an older backup). Those events were not applied; renumber them (and what
    // follows) after the server's cursor before acknowledging anything, so none is dropped. Once per run:
    // an event refused again at its new seq had really been applied under another seq.
    const reused = renumbering
      ? []
      : response.results
          .filter((r) => r.status === 'rejected' && r.code === 'EVENT_ID_REUSED' && r.seq <= response.ackSeq)
          .map((r) => r.seq)
          .filter((seq) => batch.some((e) => e.seq === seq) && !refill.some((e) => e.seq === seq));
    if (reused.length > 0) {
      renumbering = true;
      deps.logger.log('warn', `sync: the server already holds seqs ${reused.join(', ')}; renumbering`, {
        reused,
        serverSeq: response.ackSeq,
      });
      await deps.onReuse({ reused, serverSeq: response.ackSeq });
    }
    const reading = deps.reading();
    const clock = anchorSecureClock(
      meta.clock ?? initialSecureClock(reading.wallNow),
      response.serverTime,
      reading,
    );
    const before = retained;
    const skipped = new Set(reused);
    retained = retain(
      retained,
      batch.filter((e) => e.seq <= response.ackSeq && !skipped.has(e.seq)),
      deps.now(),
      deps.retention,
    );
    result.acknowledged += await deps.storage.commit(response.ackSeq, {
      snapshot: response.snapshot,
      clock,
      cursor: {
        lastSyncAt: reading.wallNow,
        lastError: null,
        updateRequired: null,
        ...(before.length === 0 && retained.length === 0 ? {} : { retained }),
      },
    });
    refill = refill.filter((e) => e.seq > response.ackSeq);
    meta = { ...meta, snapshot: response.snapshot, clock };
    result.sent += batch.length;
    result.snapshotVersion = response.snapshot.version;
    result.serverTime = response.serverTime;
    for (const r of response.results) {
      if (r.status === 'rejected' && !skipped.has(r.seq))
        result.rejected.push({ seq: r.seq, eventId: r.eventId, code: r.code, message: r.message });
    }
    if (response.ackSeq < deviceAck && !recovered && refill.length === 0) {
      // Restored from a backup, and nothing of ours was pending to make it say SEQ_GAP: refill it now.
      recovered = true;
      refill = await deps.onGap({ expectedSeq: response.ackSeq + 1, firstSeq: deviceAck + 1 });
      continue;
    }
    if (reused.length > 0) continue;
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
    // A split batch grows back once the bad event is behind.
    if (limit < deps.maxEvents && response.ackSeq >= last.seq) limit = Math.min(deps.maxEvents, limit * 2);
    if (response.ackSeq >= last.seq && pending.length === batch.length && pending.length < limit) break;
  }
  result.pending = await deps.storage.pendingCount();
  return result;
}
