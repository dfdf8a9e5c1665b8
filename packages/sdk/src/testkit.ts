import type { LicenseSnapshot, LicenseView } from '@satchel/protocol';
import type { NewOutboxEvent } from './storage/types.js';

export const DAY = 86_400_000;
export const T0 = Date.UTC(2026, 0, 1);

export const POLICY: LicenseView['policy'] = {
  licenseDurationSec: 30 * 86_400,
  rentalDurationSec: 30 * 86_400,
  playbackDurationSec: 48 * 3600,
  offlineCheckInSec: 30 * 86_400,
  maxDownloadsPerYear: null,
  maxRenewals: null,
  availableUntil: null,
};

export function licenseView(overrides: Partial<LicenseView> = {}): LicenseView {
  return {
    licenseId: '01890000-0000-7000-8000-000000000001',
    titleId: 'title-1',
    deviceId: 'device-1',
    status: 'downloaded',
    statusReason: null,
    policy: POLICY,
    issuedAt: T0,
    firstPlayedAt: null,
    downloadedAt: T0,
    renewals: 0,
    lastPositionMs: null,
    endedAt: null,
    expiresAt: T0 + 30 * DAY,
    expiryReason: 'RENTAL',
    ...overrides,
  };
}

export function snapshot(version: number, overrides: Partial<LicenseSnapshot> = {}): LicenseSnapshot {
  const device = {
    deviceId: 'device-1',
    name: 'Test',
    status: 'active' as const,
    registeredAt: T0,
    deactivatedAt: null,
  };
  return {
    accountId: 'account-1',
    deviceId: 'device-1',
    version,
    serverTime: T0,
    plan: { planId: 'basic', maxDownloadDevices: 2, maxDownloadsPerDevice: 100, maxDownloadsPerMonth: null },
    device,
    devices: [device],
    licenses: [],
    allowances: [],
    ...overrides,
  };
}

export function deviceEvent(n: number, at: number = T0): NewOutboxEvent {
  return {
    type: 'PlaybackStarted',
    v: 1,
    occurredAt: at,
    trustedAt: at,
    data: { licenseId: '01890000-0000-7000-8000-000000000001', n },
  };
}
