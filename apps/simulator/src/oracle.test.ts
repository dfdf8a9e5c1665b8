import type { AccountState } from '@satchel/core';
import type { LicenseSnapshot } from '@satchel/protocol';
import type { OutboxEntry } from '@satchel/sdk';
import { describe, expect, it } from 'vitest';
import { deviceLicence, expiryOf, grantInstants, limitBreaches } from './oracle.js';

const DAY = 86_400_000;
const policy = {
  licenseDurationSec: 30 * 86_400,
  rentalDurationSec: 30 * 86_400,
  playbackDurationSec: 48 * 3600,
  offlineCheckInSec: 30 * 86_400,
  maxDownloadsPerYear: null,
  maxRenewals: null,
  availableUntil: null,
};

describe('the checker’s own expiry', () => {
  const policy = {
    licenseDurationSec: 30 * 86_400,
    rentalDurationSec: 30 * 86_400,
    playbackDurationSec: 48 * 3600,
    offlineCheckInSec: 30 * 86_400,
    maxDownloadsPerYear: null,
    maxRenewals: null,
    availableUntil: null,
  };
  it('follows the Widevine formula', () => {
    expect(expiryOf({ issuedAt: 0, firstPlayedAt: null, policy })).toBe(30 * 86_400_000);
    expect(expiryOf({ issuedAt: 0, firstPlayedAt: 1000, policy })).toBe(1000 + 48 * 3_600_000);
    expect(
      expiryOf({ issuedAt: 0, firstPlayedAt: 1000, policy: { ...policy, playbackDurationSec: 0 } }),
    ).toBe(30 * 86_400_000);
    expect(expiryOf({ issuedAt: 0, firstPlayedAt: null, policy: { ...policy, availableUntil: 5 } })).toBe(5);
  });
});

describe('the checker’s view of a device’s licence', () => {
  const view = {
    licenseId: '01890000-0000-7000-8000-000000000001',
    titleId: 't',
    deviceId: 'd',
    status: 'downloaded' as const,
    statusReason: null,
    policy,
    issuedAt: 0,
    firstPlayedAt: null,
    downloadedAt: 0,
    renewals: 0,
    lastPositionMs: null,
    endedAt: null,
    expiresAt: 30 * DAY,
    expiryReason: 'RENTAL' as const,
  };
  const snapshot = { serverTime: 5 * DAY, licenses: [view] } as unknown as LicenseSnapshot;
  const pending = (type: string, at: number) =>
    ({ type, trustedAt: at, data: { licenseId: view.licenseId, at } }) as unknown as OutboxEntry;

  it('applies the events not synced yet: a start opens the window, a deletion ends the licence', () => {
    expect(deviceLicence(snapshot, [], view.licenseId)).toMatchObject({
      status: 'downloaded',
      expiresAt: 30 * DAY,
      checkInDeadline: 35 * DAY,
    });
    expect(deviceLicence(snapshot, [pending('PlaybackStarted', DAY)], view.licenseId).expiresAt).toBe(
      3 * DAY,
    );
    expect(deviceLicence(snapshot, [pending('DownloadDeleted', DAY)], view.licenseId).status).toBe(
      'released',
    );
    expect(deviceLicence(snapshot, [], 'other').status).toBe('missing');
  });
});

describe('the checker’s limits', () => {
  const licence = (id: string, deviceId: string, titleId = 't') => ({
    licenseId: id,
    deviceId,
    titleId,
    policy,
    issuedAt: 0,
    firstIssuedAt: 0,
    firstPlayedAt: null,
    downloadedAt: 0,
    renewals: 0,
    lastPositionMs: null,
    status: 'downloaded' as const,
    statusReason: null,
    endedAt: null,
  });
  const state = (grants: unknown) =>
    ({
      accountId: 'a',
      plan: { planId: 'p', maxDownloadDevices: 1, maxDownloadsPerDevice: 100, maxDownloadsPerMonth: 2 },
      licenses: { l1: licence('l1', 'd1'), l2: licence('l2', 'd2') },
      grants,
    }) as unknown as AccountState;

  it('finds two devices on a one-device plan, and a yearly and a monthly limit exceeded', () => {
    const breaches = limitBreaches(state({ t: [0, 1, 2] }), DAY, new Map([['t', 2]]));
    expect(breaches.map((b) => b.limit).sort()).toEqual([
      'maxDownloadDevices',
      'maxDownloadsPerMonth',
      'maxDownloadsPerYear',
    ]);
    expect(limitBreaches(state({ t: [0] }), 31 * DAY, new Map([['t', 2]]))).toEqual([]);
  });

  it('reads both shapes of the grants', () => {
    expect(grantInstants([{ titleId: 't', at: 1, licenseId: 'l' }])).toEqual(new Map([['t', [1]]]));
    expect(grantInstants({ t: [1, 2] })).toEqual(new Map([['t', [1, 2]]]));
  });
});
