import * as z from 'zod/mini';
import { DEVICE_PLATFORMS } from '../constants.js';
import { EpochMs, Id, Uuid } from './primitives.js';
import { DeviceView, LicenseSnapshot } from './views.js';

/** One of `DEVICE_PLATFORMS`. */
export const DevicePlatform = z.enum(DEVICE_PLATFORMS);
export type DevicePlatform = z.infer<typeof DevicePlatform>;

/**
 * A device's own secret (32–256 characters; the SDK sends 43, base64url of 32 random bytes): generated on
 * the device at its first registration and kept there. The server stores only its SHA-256 hash, and
 * registering a known `deviceId` again needs it (`DEVICE_ALREADY_REGISTERED` otherwise).
 */
export const DeviceSecret = z.string().check(z.minLength(32), z.maxLength(256), z.regex(/^[\x21-\x7e]+$/));

/**
 * The body of `POST /v1/devices`, authorised by the account's enrolment token. A client-chosen `deviceId`
 * makes a retry idempotent; without one, the server chooses it. `deviceSecret` proves, on a later
 * registration of the same `deviceId` (a retry, a lost token, coming back after deactivation), that the
 * caller is that device: a known `deviceId` without its secret is refused with 409
 * `DEVICE_ALREADY_REGISTERED`, whatever token comes with it. Without one at the first registration, the
 * server generates it and answers it once (`deviceSecret` in the response).
 */
export const RegisterDeviceRequest = z.object({
  deviceId: z.optional(Uuid),
  name: z.string().check(z.minLength(1), z.maxLength(100)),
  platform: z.optional(DevicePlatform),
  deviceSecret: z.optional(DeviceSecret),
});
export type RegisterDeviceRequest = z.infer<typeof RegisterDeviceRequest>;

/**
 * The answer to `POST /v1/devices`: the device's id and its bearer token (shown once; the device must
 * store it; every earlier token of this device stops working), when the token expires, the device's
 * first snapshot, and — only when the request carried none — the device secret the server generated.
 */
export const RegisterDeviceResponse = z.object({
  deviceId: Id,
  token: z.string().check(z.minLength(1)),
  tokenExpiresAt: EpochMs,
  snapshot: LicenseSnapshot,
  deviceSecret: z.optional(DeviceSecret),
});
export type RegisterDeviceResponse = z.infer<typeof RegisterDeviceResponse>;

/** The answer to `GET /v1/devices` (and `DELETE /v1/devices/{deviceId}`): the account's devices. */
export const DevicesResponse = z.object({ devices: z.array(DeviceView) });
export type DevicesResponse = z.infer<typeof DevicesResponse>;
