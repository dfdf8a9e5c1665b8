import * as z from 'zod/mini';
import { MAX_SYNC_BATCH_EVENTS } from '../constants.js';
import { EventRejectionCode } from './codes.js';
import { DeviceEventEnvelope } from './events.js';
import { EpochMs, Id, NonNegativeInt, UuidV7 } from './primitives.js';
import { LicenseSnapshot } from './views.js';

/** A protocol version number as a client announces it (negotiated separately, see `negotiateProtocolVersion`). */
export const ProtocolVersionNumber = z.int().check(z.minimum(1));

/**
 * The body of `POST /v1/sync`: a batch of the device's events, in strictly increasing `seq` order, and the
 * snapshot version it holds (null if none). The schema refuses a batch out of order; a gap (a `seq` not
 * following the last acknowledged one) is the server's to detect and answer with `SEQ_GAP`.
 */
export const SyncRequest = z.object({
  protocolVersion: ProtocolVersionNumber,
  deviceId: Id,
  snapshotVersion: z.nullable(NonNegativeInt),
  events: z.array(DeviceEventEnvelope).check(
    z.maxLength(MAX_SYNC_BATCH_EVENTS),
    z.refine(
      (events) => events.every((event, i) => i === 0 || event.seq > (events[i - 1]?.seq ?? 0)),
      'Events must be in strictly increasing seq order',
    ),
  ),
});
export type SyncRequest = z.infer<typeof SyncRequest>;

const Seq = z.int().check(z.minimum(1));

/** The event was applied now. */
export const AcceptedEventResult = z.object({ status: z.literal('accepted'), seq: Seq, eventId: UuidV7 });
/** The event had already been applied (same device, seq and eventId); nothing changed. */
export const DuplicateEventResult = z.object({ status: z.literal('duplicate'), seq: Seq, eventId: UuidV7 });
/** The event was refused for good and is acknowledged anyway: the device must drop it, never resend it. */
export const RejectedEventResult = z.object({
  status: z.literal('rejected'),
  seq: Seq,
  eventId: UuidV7,
  code: EventRejectionCode,
  message: z.string(),
});

/** The outcome of one event of a sync batch, discriminated by `status`. */
export const EventResult = z.discriminatedUnion('status', [
  AcceptedEventResult,
  DuplicateEventResult,
  RejectedEventResult,
]);
export type EventResult = z.infer<typeof EventResult>;

/**
 * The answer to `POST /v1/sync`. `ackSeq` is the highest seq acknowledged, in order, for this device
 * (0 when nothing was ever acknowledged): the device may drop every outbox event with `seq <= ackSeq`.
 * `snapshot` is authoritative and replaces the device's cached one.
 */
export const SyncResponse = z.object({
  protocolVersion: ProtocolVersionNumber,
  results: z.array(EventResult),
  ackSeq: NonNegativeInt,
  serverTime: EpochMs,
  snapshot: LicenseSnapshot,
});
export type SyncResponse = z.infer<typeof SyncResponse>;
