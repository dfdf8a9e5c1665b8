import { isActive } from '@satchel/core';
import type { LicenseState } from './client.js';

/**
 * The licence this device holds for `titleId` among `licenses` (from `client.licenses()`, which reads
 * storage only, so this works offline and after a reload), or `null`. Held means what the server means
 * when it refuses a second licence with `ALREADY_LICENSED`: `issued` or `downloaded`, and its rental,
 * playback or licence window not over at the licence's trusted time (a licence waiting for a check-in is
 * still held) — core's `isActive`. Pure; reads and records nothing.
 */
export function heldLicense(licenses: readonly LicenseState[], titleId: string): LicenseState | null {
  for (const license of licenses) {
    if (license.titleId !== titleId) continue;
    if (isActive(license, license.playback.secureNow)) return license;
  }
  return null;
}
