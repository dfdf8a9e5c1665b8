import * as z from 'zod/mini';

/** Largest instant a JavaScript `Date` can represent: 8.64e15 ms after the epoch. */
export const MAX_EPOCH_MS = 8.64e15;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const UUID_V7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const ID_PATTERN = /^[A-Za-z0-9._:-]+$/;

/** An instant on the wire: integer milliseconds since the Unix epoch, within the range of `Date`. */
export const EpochMs = z.int().check(z.minimum(0), z.maximum(MAX_EPOCH_MS));
export type EpochMs = z.infer<typeof EpochMs>;

/** A UUID of any version in lowercase canonical form (`8-4-4-4-12` hex digits). Uppercase is refused. */
export const Uuid = z.string().check(z.regex(UUID_PATTERN, 'Expected a lowercase canonical UUID'));
export type Uuid = z.infer<typeof Uuid>;

/** A lowercase canonical UUID whose version nibble is 7 and whose variant is RFC 9562 (time-ordered). */
export const UuidV7 = z.string().check(z.regex(UUID_V7_PATTERN, 'Expected a lowercase canonical UUIDv7'));
export type UuidV7 = z.infer<typeof UuidV7>;

/** An opaque identifier (account, device, title): 1 to 128 characters from `[A-Za-z0-9._:-]`. */
export const Id = z
  .string()
  .check(z.minLength(1), z.maxLength(128), z.regex(ID_PATTERN, 'Expected an identifier'));
export type Id = z.infer<typeof Id>;

/** Internal (not re-exported by the package): a non-negative integer. */
export const NonNegativeInt = z.int().check(z.minimum(0));
const DurationSec = NonNegativeInt;

/**
 * The studio's rules for one title. Durations are whole seconds. A zero `rentalDurationSec`,
 * `playbackDurationSec` or `offlineCheckInSec` means that bound does not apply; `licenseDurationSec` is
 * at least 1 (every licence has a finite hard cap). `null` counts mean "no limit".
 */
export const Policy = z.object({
  licenseDurationSec: z.int().check(z.minimum(1)),
  rentalDurationSec: DurationSec,
  playbackDurationSec: DurationSec,
  offlineCheckInSec: DurationSec,
  maxDownloadsPerYear: z.nullable(NonNegativeInt),
  maxRenewals: z.nullable(NonNegativeInt),
  availableUntil: z.nullable(EpochMs),
});
export type Policy = z.infer<typeof Policy>;

/**
 * The account's subscription plan limits. `maxDownloadsPerMonth` null means no monthly limit;
 * `maxRegisteredDevices` absent means the server's default (10).
 */
export const Plan = z.object({
  planId: Id,
  maxDownloadDevices: NonNegativeInt,
  maxDownloadsPerDevice: NonNegativeInt,
  maxDownloadsPerMonth: z.nullable(NonNegativeInt),
  maxRegisteredDevices: z.optional(NonNegativeInt),
});
export type Plan = z.infer<typeof Plan>;
