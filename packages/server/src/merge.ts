import {
  type AccountState,
  type DomainEvent,
  decide,
  decideDeviceEvent,
  fold,
  isDeviceEvent,
  isSatchelError,
} from '@satchel/core';
import { upcast } from '@satchel/core/schemas';
import type { DeviceEventEnvelope, EventRejectionCode, EventResult } from '@satchel/protocol';
import type { DeviceReceipt, EventMetadata } from './store/types.js';

/** What the store already holds for a batch: receipts of replayed seqs, and receipts of reused event ids. */
export interface SeenReceipts {
  /** This device's receipts, by `seq`, for the batch's events at or below the cursor. */
  readonly bySeq: ReadonlyMap<number, DeviceReceipt>;
  /** Any device's receipts of the account, by event id, for the batch's events above the cursor. */
  readonly byEventId: ReadonlyMap<string, DeviceReceipt>;
}

/** Everything {@link mergeBatch} decides from: no I/O happens inside it. */
export interface MergeInput {
  /** The account as loaded (the merge expires licences first). */
  readonly state: AccountState;
  readonly deviceId: string;
  /** The device's highest acknowledged `seq` (0 when none). */
  readonly cursor: number;
  /** The batch, in strictly increasing `seq` order (the wire schema guarantees it). */
  readonly events: readonly DeviceEventEnvelope[];
  readonly seen: SeenReceipts;
  /** The server clock, epoch ms. */
  readonly now: number;
  /** Stamped on every appended event's metadata when given. */
  readonly requestId?: string | undefined;
}

/** One event to append, in order: a device's own event keeps its `eventId`, the server's get a fresh one. */
export interface MergeAppend {
  readonly event: DomainEvent;
  readonly eventId: string | undefined;
  readonly metadata: EventMetadata;
}

/** The merge's decision: what to answer, what to append and record, and the account after it. */
export interface MergeOutcome {
  readonly ok: true;
  /** One result per batch event, in batch order. */
  readonly results: EventResult[];
  /** Receipts to record: one per new (above-cursor) event that was accepted or rejected for good. */
  readonly receipts: DeviceReceipt[];
  /** Events to append, in order (expiries first, then each accepted event and what it caused). */
  readonly appends: MergeAppend[];
  /** The highest acknowledged `seq` after the batch: the new cursor. */
  readonly ackSeq: number;
  /** The account with every append folded in. */
  readonly state: AccountState;
}

/** The batch was refused as a whole; nothing is to be written. */
export type MergeRefusal =
  | { readonly ok: false; readonly reason: 'UNKNOWN_DEVICE' }
  | {
      readonly ok: false;
      readonly reason: 'SEQ_GAP';
      readonly expectedSeq: number;
      readonly receivedSeq: number;
    };

/**
 * The sync merge as a pure function: (account, cursor, receipts, batch) → (results, receipts, appends, ack).
 *
 * - A device the account never registered is refused (`UNKNOWN_DEVICE`); a `seq` that does not follow
 *   the cursor is refused (`SEQ_GAP`) — in both cases nothing is written.
 * - Licences due to expire by `now` expire first (core's `ExpireLicenses`).
 * - An event at or below the cursor is a replay: answered from its receipt (`duplicate`, or the same
 *   rejection), or `EVENT_ID_REUSED` when the seq was acknowledged for another event id.
 * - A new event whose id was already used (by any device of the account, or earlier in the batch) is
 *   rejected `EVENT_ID_REUSED` without a receipt; one naming another device is `DEVICE_MISMATCH`; one core
 *   cannot read is rejected with core's schema code; otherwise core's `decideDeviceEvent` accepts it (its
 *   events are appended, the device's own with the device's event id) or rejects it for good.
 */
export function mergeBatch(input: MergeInput): MergeOutcome | MergeRefusal {
  const { deviceId, cursor, events, seen, now, requestId } = input;
  if (!Object.hasOwn(input.state.devices, deviceId)) return { ok: false, reason: 'UNKNOWN_DEVICE' };
  let expected = cursor + 1;
  for (const e of events) {
    if (e.seq <= cursor) continue;
    if (e.seq !== expected)
      return { ok: false, reason: 'SEQ_GAP', expectedSeq: cursor + 1, receivedSeq: e.seq };
    expected += 1;
  }

  let state = input.state;
  const appends: MergeAppend[] = [];
  const results: EventResult[] = [];
  const receipts: DeviceReceipt[] = [];
  const append = (
    produced: readonly DomainEvent[],
    metadata: EventMetadata,
    ownIndex = -1,
    ownId?: string,
  ) => {
    produced.forEach((event, i) => {
      appends.push({ event, eventId: i === ownIndex ? ownId : undefined, metadata });
    });
    state = fold(produced, state);
  };
  const reject = (
    e: { seq: number; eventId: string },
    code: EventRejectionCode,
    message: string,
    record = true,
  ) => {
    results.push({ status: 'rejected', seq: e.seq, eventId: e.eventId, code, message });
    if (record)
      receipts.push({ deviceId, seq: e.seq, eventId: e.eventId, status: 'rejected', code, message });
  };

  const expiry = decide(state, { type: 'ExpireLicenses', now });
  if (expiry.ok && expiry.events.length > 0) append(expiry.events, requestId ? { requestId } : {});

  const usedInBatch = new Set<string>();
  for (const e of events) {
    if (e.seq <= cursor) {
      const r = seen.bySeq.get(e.seq);
      if (r?.eventId !== e.eventId) {
        reject(e, 'EVENT_ID_REUSED', `seq ${e.seq} was already acknowledged for another event`, false);
      } else if (r.status === 'rejected') {
        reject(e, (r.code ?? 'INVALID_EVENT') as EventRejectionCode, r.message ?? '', false);
      } else {
        results.push({ status: 'duplicate', seq: e.seq, eventId: e.eventId });
      }
      continue;
    }
    if (seen.byEventId.has(e.eventId) || usedInBatch.has(e.eventId)) {
      reject(e, 'EVENT_ID_REUSED', `eventId ${e.eventId} was already used by another seq`, false);
      continue;
    }
    usedInBatch.add(e.eventId);
    if (e.data.deviceId !== deviceId) {
      reject(e, 'DEVICE_MISMATCH', 'The event names another device than the one that sent it');
      continue;
    }
    let incoming: DomainEvent;
    try {
      incoming = upcast({ type: e.type, v: e.v, data: e.data });
    } catch (err) {
      if (!isSatchelError(err)) throw err;
      reject(e, err.code as EventRejectionCode, err.message);
      continue;
    }
    if (!isDeviceEvent(incoming)) {
      reject(e, 'UNKNOWN_EVENT_TYPE', `${e.type} is not a device event`);
      continue;
    }
    const d = decideDeviceEvent(state, incoming, { deviceId, receivedAt: now });
    if (!d.ok) {
      reject(e, d.rejection.code, d.rejection.message);
      continue;
    }
    const metadata: EventMetadata = {
      deviceId,
      seq: e.seq,
      deviceTime: e.occurredAt,
      trustedTime: e.trustedAt,
      receivedAt: now,
      ...(requestId ? { requestId } : {}),
    };
    append(
      d.events,
      metadata,
      d.events.findIndex((x) => x.type === incoming.type),
      e.eventId,
    );
    results.push({ status: 'accepted', seq: e.seq, eventId: e.eventId });
    receipts.push({
      deviceId,
      seq: e.seq,
      eventId: e.eventId,
      status: 'accepted',
      code: null,
      message: null,
    });
  }
  return { ok: true, results, receipts, appends, ackSeq: Math.max(cursor, events.at(-1)?.seq ?? 0), state };
}
