import type { LicenseState, PlaybackResult, SatchelStatus } from '@satchel/sdk';
import { useMemo, useSyncExternalStore } from 'react';
import { useSatchel } from './context.js';
import { type LiveQuery, licensesQuery, type SatchelQueryResult, statusQuery } from './live.js';

function useLive<T>(query: LiveQuery<T>): SatchelQueryResult<T> {
  return useSyncExternalStore(query.subscribe, query.getSnapshot, query.getSnapshot);
}

/**
 * The device's licences (`client.licenses()`: the snapshot with pending events applied, each with what
 * `startPlayback` would decide now), kept current: re-read after every licence change in this tab or
 * another, and at the next instant a decision flips by itself (an expiry), without polling. `data` is `[]`
 * until the first read. Reads storage only; records nothing.
 */
export function useLicenses(): SatchelQueryResult<LicenseState[]> {
  return useLive(licensesQuery(useSatchel()));
}

/**
 * One licence as {@link useLicenses} sees it, or `null` while loading (`isLoading`) or when this device
 * holds no licence with that id.
 */
export function useLicense(licenseId: string): SatchelQueryResult<LicenseState | null> {
  const all = useLicenses();
  return useMemo(
    () => ({ ...all, data: all.data.find((license) => license.licenseId === licenseId) ?? null }),
    [all, licenseId],
  );
}

/**
 * What `startPlayback(licenseId)` would decide now — `{ allowed: true, expiresAt, timeLeftMs, … }` or
 * `{ allowed: false, reason, message, … }` — re-evaluated when the licence changes and again at the
 * instant it expires (the playback, rental or licence window ending, the offline check-in deadline, the
 * title leaving the catalogue), so a play button greys out on time. `null` while loading or when this
 * device holds no licence with that id. It records nothing: call `startPlayback` to play (which records
 * `PlaybackStarted`). `timeLeftMs` is as of the read; count down from `expiresAt` for a live clock.
 */
export function usePlaybackDecision(licenseId: string): SatchelQueryResult<PlaybackResult | null> {
  const one = useLicense(licenseId);
  return useMemo(() => ({ ...one, data: one.data?.playback ?? null }), [one]);
}

/**
 * The sync status (`client.status()`: registered, online, pending events, last sync and its error,
 * syncing, check-in deadline…), re-read when a sync starts or ends, an event is recorded (in any tab) and
 * the browser goes on- or offline. `null` until the first read.
 */
export function useSyncStatus(): SatchelQueryResult<SatchelStatus | null> {
  return useLive(statusQuery(useSatchel()));
}
