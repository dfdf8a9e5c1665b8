import { computeExpiry, isHeldStatus } from '@satchel/core';
import type { ExpiryReason, LicenseView } from '@satchel/protocol';
import type { OutboxEntry } from './storage/types.js';

/**
 * The device's optimistic view: the server's licences with the not yet acknowledged device events
 * applied on top, in seq order. The next snapshot replaces it. A playback start opens the playback
 * window, so the expiry of a licence it starts is computed again, by core, with the check-in of the
 * snapshot (`lastCheckInAt`, the snapshot's server time).
 */
export function overlayLicenses(
  licenses: readonly LicenseView[],
  pending: readonly OutboxEntry[],
  lastCheckInAt: number | null = null,
): LicenseView[] {
  const byId = new Map(licenses.map((l) => [l.licenseId, { ...l }]));
  for (const entry of pending) {
    const licenseId = entry.data.licenseId;
    if (typeof licenseId !== 'string') continue;
    const license = byId.get(licenseId);
    if (license === undefined || !isHeldStatus(license.status)) continue;
    const at = typeof entry.data.at === 'number' ? entry.data.at : entry.trustedAt;
    switch (entry.type) {
      case 'DownloadCompleted':
        license.status = 'downloaded';
        license.downloadedAt ??= at;
        break;
      case 'PlaybackStarted':
        // A start dated before the current term (a renewal overtook it) opens no window, as in core.
        if (license.firstPlayedAt === null && at >= license.issuedAt) {
          license.firstPlayedAt = at;
          const expiry = computeExpiry({ ...license, lastCheckInAt });
          license.expiresAt = expiry.expiresAt;
          license.expiryReason = expiry.reason;
        }
        if (typeof entry.data.positionMs === 'number') license.lastPositionMs = entry.data.positionMs;
        break;
      case 'PlaybackStopped':
        if (typeof entry.data.positionMs === 'number') license.lastPositionMs = entry.data.positionMs;
        break;
      case 'DownloadDeleted':
        license.status = 'released';
        license.endedAt = at;
        break;
      case 'LicenseExpiryObserved':
        license.status = 'expired';
        license.statusReason = typeof entry.data.reason === 'string' ? entry.data.reason : null;
        license.endedAt = at;
        if (typeof entry.data.reason === 'string') license.expiryReason = entry.data.reason as ExpiryReason;
        break;
    }
  }
  return [...byId.values()];
}
