import * as z from 'zod/mini';
import { DEVICE_PLATFORMS } from '../constants.js';
import { EpochMs, Id, Uuid } from './primitives.js';
import { DeviceView, LicenseSnapshot } from './views.js';

/** One of `DEVICE_PLATFORMS`. */
export const DevicePlatform = z.enum(DEVICE_PLATFORMS);
export type DevicePlatform = z.infer<typeof DevicePlatform>;

/**
 * The body of `POST /v1/devices`, authorised by the account's enrolment token. A client-chosen `deviceId`
 * makes a retry idempotent; without one, the server chooses it.
 */
export const RegisterDeviceRequest = z.object({
  deviceId: z.optional(Uuid),
  name: z.string().check(z.minLength(1), z.maxLength(100)),
  platform: z.optional(DevicePlatform),
});
export type RegisterDeviceRequest = z.infer<typeof RegisterDeviceRequest>;

/**
 * The answer to `POST /v1/devices`: the device's id and its bearer token (shown once; the device must
 * store it), when the token expires, and the device's first snapshot.
 */
export const RegisterDeviceResponse = z.object({
  deviceId: Id,
  token: z.string().check(z.minLength(1)),
  tokenExpiresAt: EpochMs,
  snapshot: LicenseSnapshot,
});
export type RegisterDeviceResponse = z.infer<typeof RegisterDeviceResponse>;

/** The answer to `GET /v1/devices` (and `DELETE /v1/devices/{deviceId}`): the account's devices. */
export const DevicesResponse = z.object({ devices: z.array(DeviceView) });
export type DevicesResponse = z.infer<typeof DevicesResponse>;
