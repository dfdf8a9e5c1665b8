import {
  CURRENT_EVENT_VERSIONS,
  computeExpiry,
  evolveLicense,
  isHeldStatus,
  type LicenseEvent,
} from '@satchel/core';
import type { ExpiryReason, LicenseView } from '@satchel/protocol';
import type { OutboxEntry } from './storage/types.js';

/**
 * What a pending device event does to its licence, as core's rules ({@link evolveLicense}) apply it: the
 * event itself, or for an expiry the device observed, the `LicenseExpired` the server records for it.
 * `null` for an event of another schema version than core's current one (an older SDK wrote it; the
 * next snapshot shows what it did).
 */
function licenseEventOf(entry: OutboxEntry): LicenseEvent | null {
  if (entry.type === 'LicenseExpiryObserved') {
    const { licenseId, at, reason } = entry.data;
    return { type: 'LicenseExpired', data: { licenseId, at, reason } } as LicenseEvent;
  }
  if (entry.type === 'ClockRollbackDetected' || entry.v !== CURRENT_EVENT_VERSIONS[entry.type]) return null;
  return { type: entry.type, data: entry.data } as LicenseEvent;
}

/**
 * The device's optimistic view: the server's licences with the not yet acknowledged device events
 * applied on top, in seq order, by core's rules. The next snapshot replaces it. A playback start opens
 * the playback window, so the expiry of a licence it starts is computed again, by core, with the
 * check-in of the snapshot (`lastCheckInAt`, the snapshot's server time).
 */
export function overlayLicenses(
  licenses: readonly LicenseView[],
  pending: readonly OutboxEntry[],
  lastCheckInAt: number | null = null,
): LicenseView[] {
  const byId = new Map(licenses.map((l) => [l.licenseId, l]));
  for (const entry of pending) {
    const licenseId = entry.data.licenseId;
    if (typeof licenseId !== 'string') continue;
    const license = byId.get(licenseId);
    // The server refuses a device event about a licence its device no longer holds.
    if (license === undefined || !isHeldStatus(license.status)) continue;
    const event = licenseEventOf(entry);
    if (event === null) continue;
    let next = evolveLicense(license, event);
    if (next.firstPlayedAt !== license.firstPlayedAt) {
      const expiry = computeExpiry({ ...next, lastCheckInAt });
      next = { ...next, expiresAt: expiry.expiresAt, expiryReason: expiry.reason };
    }
    if (event.type === 'LicenseExpired') next = { ...next, expiryReason: event.data.reason as ExpiryReason };
    byId.set(licenseId, next);
  }
  return [...byId.values()];
}
