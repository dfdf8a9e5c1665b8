import type * as z from 'zod/mini';
import type { PlanSchema, PolicySchema } from './schemas/policy.js';
import { DAY_MS, HOUR_MS } from './time.js';

/**
 * A title's offline-licence policy, set by the studio. Durations are seconds, with the
 * Widevine/FairPlay meanings (docs/domain.md). `0` means "no limit" for `rentalDurationSec`,
 * `playbackDurationSec` and `offlineCheckInSec`; `licenseDurationSec` is always a finite cap.
 */
export type Policy = z.infer<typeof PolicySchema>;

/** An account's plan: how many devices may hold downloads, and how many downloads. */
export type Plan = z.infer<typeof PlanSchema>;

/** Active registered devices per account when the plan does not say (R26). */
export const DEFAULT_MAX_REGISTERED_DEVICES = 10;

/** The defaults of DESIGN.md: 30 d licence, 30 d to start, 48 h once started, check in every 30 d. */
export const DEFAULT_POLICY: Policy = Object.freeze({
  licenseDurationSec: (30 * DAY_MS) / 1000,
  rentalDurationSec: (30 * DAY_MS) / 1000,
  playbackDurationSec: (48 * HOUR_MS) / 1000,
  offlineCheckInSec: (30 * DAY_MS) / 1000,
  maxDownloadsPerYear: null,
  maxRenewals: null,
  availableUntil: null,
});

/** A two-device plan with the per-device cap of 100 active licences and no monthly cap. */
export const DEFAULT_PLAN: Plan = Object.freeze({
  planId: 'standard',
  maxDownloadDevices: 2,
  maxDownloadsPerDevice: 100,
  maxDownloadsPerMonth: null,
});

/** Builds a policy from the defaults and the fields a studio sets. */
export function policy(overrides: Partial<Policy> = {}): Policy {
  return { ...DEFAULT_POLICY, ...overrides };
}
