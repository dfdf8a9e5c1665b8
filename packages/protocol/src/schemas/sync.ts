import * as z from 'zod/mini';
import { DEVICE_EVENT_TYPES, MAX_EVENT_SCHEMA_VERSION, MAX_SYNC_BATCH_EVENTS } from '../constants.js';
import { EventRejectionCode } from './codes.js';
import { DeviceEventEnvelope } from './events.js';
import {
  EpochMs,
  ID_PATTERN,
  Id,
  MAX_EPOCH_MS,
  NonNegativeInt,
  UUID_V7_PATTERN,
  UuidV7,
} from './primitives.js';
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

const EVENT_TYPES: ReadonlySet<string> = new Set(DEVICE_EVENT_TYPES);
const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const isId = (v: unknown): v is string =>
  typeof v === 'string' && v.length >= 1 && v.length <= 128 && ID_PATTERN.test(v);
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/**
 * A fast check that `value` (as `JSON.parse` returns it) is a valid {@link SyncRequest}, without building
 * a copy: it walks each field once and never accepts what `SyncRequest.safeParse` refuses (a property
 * test holds it to that). It may refuse what the schema accepts: a caller then asks the schema, which also
 * gives the issues of a request that is invalid. Unknown keys are left in place (the schema would strip
 * them); `data` is only checked to be an object — its fields are the domain's to validate, once.
 */
export function isSyncRequest(value: unknown): value is SyncRequest {
  if (!isRecord(value)) return false;
  const { protocolVersion, deviceId, snapshotVersion, events } = value;
  if (!isInt(protocolVersion, 1) || !isId(deviceId)) return false;
  if (snapshotVersion !== null && !isInt(snapshotVersion, 0)) return false;
  if (!Array.isArray(events) || events.length > MAX_SYNC_BATCH_EVENTS) return false;
  let last = 0;
  for (const e of events as unknown[]) {
    if (!isRecord(e)) return false;
    const { eventId, seq, type, v, occurredAt, trustedAt, data } = e;
    if (!isInt(seq, 1) || seq <= last) return false;
    last = seq;
    if (typeof eventId !== 'string' || !UUID_V7_PATTERN.test(eventId)) return false;
    if (typeof type !== 'string' || !EVENT_TYPES.has(type)) return false;
    if (!isInt(v, 1, MAX_EVENT_SCHEMA_VERSION)) return false;
    if (!isInt(occurredAt, 0, MAX_EPOCH_MS) || !isInt(trustedAt, 0, MAX_EPOCH_MS)) return false;
    if (!isRecord(data) || Object.hasOwn(data, '__proto__')) return false;
  }
  return true;
}

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
