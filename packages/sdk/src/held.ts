import type { LicenseState, PlaybackRefusal } from './client.js';

// Refusals that mean the licence's hard window has passed: the server no longer counts it as held.
const ENDED: ReadonlySet<PlaybackRefusal> = new Set([
  'EXPIRED_RENTAL',
  'EXPIRED_PLAYBACK_WINDOW',
  'EXPIRED_LICENSE',
  'TITLE_UNAVAILABLE',
  'EXPIRED',
]);

/**
 * The licence this device holds for `titleId` among `licenses` (from `client.licenses()`, which reads
 * storage only, so this works offline and after a reload), or `null`. Held means what the server means
 * when it refuses a second licence with `ALREADY_LICENSED`: `issued` or `downloaded`, and its rental,
 * playback or licence window not over (a licence waiting for a check-in is still held). Pure; reads and
 * records nothing.
 */
export function heldLicense(licenses: readonly LicenseState[], titleId: string): LicenseState | null {
  for (const license of licenses) {
    if (license.titleId !== titleId) continue;
    if (license.status !== 'issued' && license.status !== 'downloaded') continue;
    if (!license.playback.allowed && ENDED.has(license.playback.reason)) continue;
    return license;
  }
  return null;
}
