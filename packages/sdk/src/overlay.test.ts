import { describe, expect, it } from 'vitest';
import { overlayLicenses } from './overlay.js';
import type { OutboxEntry } from './storage/types.js';
import { DAY, licenseView, T0 } from './testkit.js';

const HOUR = 3_600_000;
let seq = 0;
const pending = (type: OutboxEntry['type'], data: Record<string, unknown>): OutboxEntry => ({
  eventId: `01890000-0000-7000-8000-${String(++seq).padStart(12, '0')}`,
  seq,
  type,
  v: 1,
  occurredAt: Number(data.at),
  trustedAt: Number(data.at),
  data: { deviceId: 'device-1', licenseId: licenseView().licenseId, ...data },
});

describe('the optimistic overlay of pending device events', () => {
  it('opens the playback window on an unsynced start: the expiry becomes the 48 h window', () => {
    const [license] = overlayLicenses(
      [licenseView()],
      [pending('PlaybackStarted', { at: T0 + DAY, positionMs: 0 })],
      T0,
    );
    expect(license).toMatchObject({
      firstPlayedAt: T0 + DAY,
      expiresAt: T0 + DAY + 48 * HOUR,
      expiryReason: 'PLAYBACK_WINDOW',
    });
  });

  it('keeps the first start: a second one moves neither the window nor the expiry', () => {
    const [license] = overlayLicenses(
      [licenseView()],
      [
        pending('PlaybackStarted', { at: T0 + DAY, positionMs: 0 }),
        pending('PlaybackStarted', { at: T0 + 2 * DAY, positionMs: 5000 }),
      ],
      T0,
    );
    expect(license).toMatchObject({
      firstPlayedAt: T0 + DAY,
      expiresAt: T0 + DAY + 48 * HOUR,
      lastPositionMs: 5000,
    });
  });

  it('opens no window for a start dated before the current term (a renewal overtook it), as core does', () => {
    const renewed = licenseView({ issuedAt: T0 + 3 * DAY, renewals: 1, expiresAt: T0 + 33 * DAY });
    const [license] = overlayLicenses(
      [renewed],
      [pending('PlaybackStarted', { at: T0 + DAY, positionMs: 0 })],
      T0,
    );
    expect(license).toMatchObject({ firstPlayedAt: null, expiresAt: T0 + 33 * DAY, expiryReason: 'RENTAL' });
  });

  it('applies downloads, deletions and observed expiries, and leaves ended licences alone', () => {
    const [downloaded] = overlayLicenses(
      [licenseView({ status: 'issued', downloadedAt: null })],
      [pending('DownloadCompleted', { at: T0 + HOUR })],
    );
    expect(downloaded).toMatchObject({ status: 'downloaded', downloadedAt: T0 + HOUR });
    const [deleted] = overlayLicenses([licenseView()], [pending('DownloadDeleted', { at: T0 + HOUR })]);
    expect(deleted).toMatchObject({ status: 'released', endedAt: T0 + HOUR });
    const [revoked] = overlayLicenses(
      [licenseView({ status: 'revoked', statusReason: 'ADMIN' })],
      [pending('PlaybackStarted', { at: T0 + HOUR, positionMs: 0 })],
    );
    expect(revoked).toMatchObject({ status: 'revoked', firstPlayedAt: null });
  });
});
