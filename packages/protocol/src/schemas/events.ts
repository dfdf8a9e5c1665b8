import * as z from 'zod/mini';
import { DEVICE_EVENT_TYPES, MAX_EVENT_SCHEMA_VERSION } from '../constants.js';
import { EpochMs, UuidV7 } from './primitives.js';

/** One of `DEVICE_EVENT_TYPES`. */
export const DeviceEventType = z.enum(DEVICE_EVENT_TYPES);
export type DeviceEventType = z.infer<typeof DeviceEventType>;

/**
 * A device event on the wire. `seq` is the per-device sequence number assigned when the event was
 * stored; `v` is the event's schema version (old versions are upcast by the domain, never rewritten);
 * `occurredAt` is the device's wall clock and `trustedAt` its secure clock. `data` is a plain JSON object
 * whose shape the domain validates per `type` and `v`: this schema does not look inside it, except
 * that a top-level `__proto__` key is dropped (never assigned as a prototype).
 */
export const DeviceEventEnvelope = z.object({
  eventId: UuidV7,
  seq: z.int().check(z.minimum(1)),
  type: DeviceEventType,
  v: z.int().check(z.minimum(1), z.maximum(MAX_EVENT_SCHEMA_VERSION)),
  occurredAt: EpochMs,
  trustedAt: EpochMs,
  data: z.record(z.string(), z.unknown()),
});
export type DeviceEventEnvelope = z.infer<typeof DeviceEventEnvelope>;
