import * as z from 'zod/mini';

const nonNegativeInt = () => z.int().check(z.nonnegative());
const positiveInt = () => z.int().check(z.positive());

/**
 * A title's offline-licence policy, set by the studio. Durations are seconds, with the
 * Widevine/FairPlay meanings (docs/domain.md). `0` means "no limit" for `rentalDurationSec`,
 * `playbackDurationSec` and `offlineCheckInSec`; `licenseDurationSec` is always a finite cap.
 */
export const PolicySchema = z.object({
  licenseDurationSec: positiveInt(),
  rentalDurationSec: nonNegativeInt(),
  playbackDurationSec: nonNegativeInt(),
  offlineCheckInSec: nonNegativeInt(),
  maxDownloadsPerYear: z.nullable(positiveInt()),
  maxRenewals: z.nullable(nonNegativeInt()),
  availableUntil: z.nullable(nonNegativeInt()),
});

/** An account's plan: how many devices may hold downloads, and how many downloads. */
export const PlanSchema = z.object({
  planId: z.string().check(z.minLength(1), z.maxLength(128)),
  maxDownloadDevices: positiveInt(),
  maxDownloadsPerDevice: positiveInt(),
  maxDownloadsPerMonth: z.nullable(positiveInt()),
  /** Devices the account may have registered (active) at once; DEFAULT_MAX_REGISTERED_DEVICES (10) when absent (R26). */
  maxRegisteredDevices: z.optional(positiveInt()),
});
