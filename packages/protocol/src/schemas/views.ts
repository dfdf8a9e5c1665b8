import * as z from 'zod/mini';
import { DEVICE_STATUSES, EXPIRY_REASONS, LICENSE_STATUSES } from '../constants.js';
import { EpochMs, Id, NonNegativeInt, Plan, Policy, Uuid } from './primitives.js';

/** One of `LICENSE_STATUSES`. */
export const LicenseStatus = z.enum(LICENSE_STATUSES);
export type LicenseStatus = z.infer<typeof LicenseStatus>;

/** One of `EXPIRY_REASONS`. */
export const ExpiryReason = z.enum(EXPIRY_REASONS);
export type ExpiryReason = z.infer<typeof ExpiryReason>;

/**
 * A licence as the device sees it. `expiresAt` is computed by the server at the snapshot's `serverTime`
 * (the device's last check-in) and `expiryReason` names the rule that bounds it. `statusReason` explains a
 * terminal status (e.g. why a licence was revoked) and is null otherwise.
 */
export const LicenseView = z.object({
  licenseId: Uuid,
  titleId: Id,
  deviceId: Id,
  status: LicenseStatus,
  statusReason: z.nullable(z.string()),
  policy: Policy,
  issuedAt: EpochMs,
  firstPlayedAt: z.nullable(EpochMs),
  downloadedAt: z.nullable(EpochMs),
  renewals: NonNegativeInt,
  lastPositionMs: z.nullable(NonNegativeInt),
  endedAt: z.nullable(EpochMs),
  expiresAt: EpochMs,
  expiryReason: ExpiryReason,
});
export type LicenseView = z.infer<typeof LicenseView>;

/** One of `DEVICE_STATUSES`. */
export const DeviceStatus = z.enum(DEVICE_STATUSES);
export type DeviceStatus = z.infer<typeof DeviceStatus>;

/** A device of the account, as any of its devices may see it: names and states only, never credentials. */
export const DeviceView = z.object({
  deviceId: Id,
  name: z.string().check(z.minLength(1), z.maxLength(100)),
  status: DeviceStatus,
  registeredAt: EpochMs,
  deactivatedAt: z.nullable(EpochMs),
});
export type DeviceView = z.infer<typeof DeviceView>;

/**
 * How many more downloads of a title the account may take under the rolling limits. `null` `limit` and
 * `remaining` mean unlimited; `nextAvailableAt` is when the next slot frees up (null when one is free or
 * the title is unlimited).
 */
export const Allowance = z.object({
  titleId: Id,
  limit: z.nullable(NonNegativeInt),
  used: NonNegativeInt,
  remaining: z.nullable(NonNegativeInt),
  nextAvailableAt: z.nullable(EpochMs),
});
export type Allowance = z.infer<typeof Allowance>;

/**
 * The authoritative state for one device, as of account stream `version`. `serverTime` is also the
 * device's check-in instant (the offline check-in window runs from it). `licenses` are this device's
 * licences; `devices` are all the account's devices.
 */
export const LicenseSnapshot = z.object({
  accountId: Id,
  deviceId: Id,
  version: NonNegativeInt,
  serverTime: EpochMs,
  plan: Plan,
  device: DeviceView,
  devices: z.array(DeviceView),
  licenses: z.array(LicenseView),
  allowances: z.array(Allowance),
});
export type LicenseSnapshot = z.infer<typeof LicenseSnapshot>;
