import type { ExpiryReason } from './events.js';
import type { Policy } from './policy.js';
import { SECOND_MS } from './time.js';

/** What the expiry of a licence depends on. */
export interface ExpiryTerms {
  readonly issuedAt: number;
  readonly firstPlayedAt: number | null;
  readonly policy: Policy;
  /** The device's last successful sync (server time), or `null` when the check-in bound is not applied. */
  readonly lastCheckInAt: number | null;
}

/** The instant a licence stops playing and the bound that sets it. */
export interface Expiry {
  readonly expiresAt: number;
  readonly reason: ExpiryReason;
}

/**
 * When several bounds fall on the same instant, the one a member can do least about is named:
 * the playback window and the rental window first, the check-in (which a sync lifts) last.
 */
const TIE_ORDER: readonly ExpiryReason[] = [
  'PLAYBACK_WINDOW',
  'RENTAL',
  'LICENSE_DURATION',
  'AVAILABILITY',
  'CHECK_IN',
];

/**
 * The expiry of a licence exactly as DESIGN.md states it:
 * - before the first playback: `issuedAt + min(rental, license)`;
 * - after it: `min(issuedAt + license, firstPlayedAt + playback)`;
 * - never later than `lastCheckIn + offlineCheckIn`, nor `availableUntil`.
 * A zero rental, playback or check-in duration means that bound does not apply.
 */
export function computeExpiry(terms: ExpiryTerms): Expiry {
  const bounds = expiryBounds(terms);
  let best = bounds[0] as ExpiryBound;
  for (const bound of bounds) {
    if (
      bound.at < best.at ||
      (bound.at === best.at && TIE_ORDER.indexOf(bound.reason) < TIE_ORDER.indexOf(best.reason))
    ) {
      best = bound;
    }
  }
  return { expiresAt: best.at, reason: best.reason };
}

/** One candidate bound of a licence's expiry: the instant it falls on and the rule it comes from. */
export interface ExpiryBound {
  readonly reason: ExpiryReason;
  readonly at: number;
}

/**
 * Every bound that applies to a licence's terms (the licence duration always; the rental window before
 * the first playback, the playback window after it, the check-in and the availability where set), in
 * that order. {@link computeExpiry} takes the earliest; an operator's view shows them all.
 */
export function expiryBounds(terms: ExpiryTerms): ExpiryBound[] {
  const { issuedAt, firstPlayedAt, policy, lastCheckInAt } = terms;
  const bounds: ExpiryBound[] = [
    { reason: 'LICENSE_DURATION', at: issuedAt + policy.licenseDurationSec * SECOND_MS },
  ];
  if (firstPlayedAt === null) {
    if (policy.rentalDurationSec > 0)
      bounds.push({ reason: 'RENTAL', at: issuedAt + policy.rentalDurationSec * SECOND_MS });
  } else if (policy.playbackDurationSec > 0) {
    bounds.push({ reason: 'PLAYBACK_WINDOW', at: firstPlayedAt + policy.playbackDurationSec * SECOND_MS });
  }
  if (lastCheckInAt !== null && policy.offlineCheckInSec > 0) {
    bounds.push({ reason: 'CHECK_IN', at: lastCheckInAt + policy.offlineCheckInSec * SECOND_MS });
  }
  if (policy.availableUntil !== null) bounds.push({ reason: 'AVAILABILITY', at: policy.availableUntil });
  return bounds;
}

/** The lifecycle of a licence. `issued` and `downloaded` are active; the rest are final. */
export const LICENSE_STATUSES = ['issued', 'downloaded', 'released', 'revoked', 'expired'] as const;
export type LicenseStatus = (typeof LICENSE_STATUSES)[number];

/**
 * Whether a licence in this status is held by its device (`issued` or `downloaded`): it counts against
 * the limits and may play until it expires. The one definition every package uses.
 */
export function isHeldStatus(status: string): status is 'issued' | 'downloaded' {
  return status === 'issued' || status === 'downloaded';
}

/** What an offline playback decision needs to know about a licence (a snapshot's licence plus the check-in). */
export interface LicenseLike {
  readonly status: LicenseStatus;
  readonly statusReason: string | null;
  readonly issuedAt: number;
  readonly firstPlayedAt: number | null;
  readonly policy: Policy;
  readonly lastCheckInAt: number | null;
}

/** Why playback is refused. */
export const PLAYBACK_REFUSAL_REASONS = [
  'EXPIRED_RENTAL',
  'EXPIRED_PLAYBACK_WINDOW',
  'EXPIRED_LICENSE',
  'CHECK_IN_REQUIRED',
  'TITLE_UNAVAILABLE',
  'REVOKED',
  'RELEASED',
  'NOT_DOWNLOADED',
  'EXPIRED',
] as const;
export type PlaybackRefusalReason = (typeof PLAYBACK_REFUSAL_REASONS)[number];

/** The outcome of {@link evaluatePlayback}. */
export type PlaybackDecision =
  | {
      readonly allowed: true;
      /** When playback must stop if it starts now (the playback window opens on the first start). */
      readonly expiresAt: number;
      readonly reason: ExpiryReason;
      readonly timeLeftMs: number;
    }
  | {
      readonly allowed: false;
      readonly reason: PlaybackRefusalReason;
      /** When the licence stopped playing, where known. */
      readonly expiredAt: number | null;
      readonly message: string;
    };

const REFUSAL_FOR_EXPIRY: Record<ExpiryReason, PlaybackRefusalReason> = {
  RENTAL: 'EXPIRED_RENTAL',
  PLAYBACK_WINDOW: 'EXPIRED_PLAYBACK_WINDOW',
  LICENSE_DURATION: 'EXPIRED_LICENSE',
  CHECK_IN: 'CHECK_IN_REQUIRED',
  AVAILABILITY: 'TITLE_UNAVAILABLE',
};

const MESSAGES: Record<PlaybackRefusalReason, string> = {
  EXPIRED_RENTAL: 'The time to start watching this download has run out.',
  EXPIRED_PLAYBACK_WINDOW: 'The viewing window that opened when you started watching has ended.',
  EXPIRED_LICENSE: 'This download has reached the end of its licence.',
  CHECK_IN_REQUIRED: 'Connect to the internet so this device can check in, then play again.',
  TITLE_UNAVAILABLE: 'This title is no longer available.',
  REVOKED: 'This download was revoked.',
  RELEASED: 'This download was deleted.',
  NOT_DOWNLOADED: 'This title has not finished downloading.',
  EXPIRED: 'This download has expired.',
};

/** The refusal reason for an expiry bound. */
export function refusalForExpiry(reason: ExpiryReason): PlaybackRefusalReason {
  return REFUSAL_FOR_EXPIRY[reason];
}

function refuse(reason: PlaybackRefusalReason, expiredAt: number | null): PlaybackDecision {
  return { allowed: false, reason, expiredAt, message: MESSAGES[reason] };
}

/**
 * Decides offline whether a licence may play at `secureNow` (the secure clock, never the raw wall
 * clock). Pure: it records nothing; starting playback is the caller's event.
 */
export function evaluatePlayback(license: LicenseLike, secureNow: number): PlaybackDecision {
  switch (license.status) {
    case 'revoked':
      return refuse('REVOKED', null);
    case 'released':
      return refuse('RELEASED', null);
    case 'expired': {
      const reason = license.statusReason as ExpiryReason | null;
      return refuse(
        reason !== null && Object.hasOwn(REFUSAL_FOR_EXPIRY, reason) ? REFUSAL_FOR_EXPIRY[reason] : 'EXPIRED',
        null,
      );
    }
    case 'issued':
      return refuse('NOT_DOWNLOADED', null);
    case 'downloaded':
      break;
  }
  const now = computeExpiry(license);
  if (secureNow >= now.expiresAt) return refuse(REFUSAL_FOR_EXPIRY[now.reason], now.expiresAt);
  const once = computeExpiry({ ...license, firstPlayedAt: license.firstPlayedAt ?? secureNow });
  return {
    allowed: true,
    expiresAt: once.expiresAt,
    reason: once.reason,
    timeLeftMs: once.expiresAt - secureNow,
  };
}
