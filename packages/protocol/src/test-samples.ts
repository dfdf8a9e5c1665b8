import type {
  DeviceEventEnvelope,
  DeviceView,
  LicenseSnapshot,
  LicenseView,
  Plan,
  Policy,
  SyncRequest,
} from './index.js';

export const T0 = 1_767_225_600_000;
export const EVENT_ID = '01936f6e-7a00-7b2c-8d3e-4f5a6b7c8d9e';
export const LICENSE_ID = '01936f6e-7a01-7b2c-9d3e-4f5a6b7c8d9e';
export const DEVICE_UUID = '6f1c2a3b-4d5e-4f60-8a1b-2c3d4e5f6a7b';

export const policy: Policy = {
  licenseDurationSec: 2_592_000,
  rentalDurationSec: 2_592_000,
  playbackDurationSec: 172_800,
  offlineCheckInSec: 2_592_000,
  maxDownloadsPerYear: null,
  maxRenewals: 3,
  availableUntil: null,
};

export const plan: Plan = {
  planId: 'standard',
  maxDownloadDevices: 2,
  maxDownloadsPerDevice: 100,
  maxDownloadsPerMonth: 15,
};

export const event: DeviceEventEnvelope = {
  eventId: EVENT_ID,
  seq: 1,
  type: 'PlaybackStarted',
  v: 1,
  occurredAt: T0,
  trustedAt: T0,
  data: { licenseId: LICENSE_ID, positionMs: 0 },
};

export const device: DeviceView = {
  deviceId: 'device-1',
  name: 'Living room',
  status: 'active',
  registeredAt: T0,
  deactivatedAt: null,
};

export const license: LicenseView = {
  licenseId: LICENSE_ID,
  titleId: 'title:42',
  deviceId: 'device-1',
  status: 'downloaded',
  statusReason: null,
  policy,
  issuedAt: T0,
  firstPlayedAt: null,
  downloadedAt: T0 + 60_000,
  renewals: 0,
  lastPositionMs: null,
  endedAt: null,
  expiresAt: T0 + 2_592_000_000,
  expiryReason: 'RENTAL',
};

export const snapshot: LicenseSnapshot = {
  accountId: 'account-1',
  deviceId: 'device-1',
  version: 7,
  serverTime: T0 + 120_000,
  plan,
  device,
  devices: [device, { ...device, deviceId: 'device-2', status: 'deactivated', deactivatedAt: T0 + 1 }],
  licenses: [license],
  allowances: [{ titleId: 'title:42', limit: 3, used: 1, remaining: 2, nextAvailableAt: null }],
};

export const syncRequest: SyncRequest = {
  protocolVersion: 1,
  deviceId: 'device-1',
  snapshotVersion: 6,
  events: [
    event,
    { ...event, eventId: '01936f6e-7a02-7b2c-ad3e-4f5a6b7c8d9e', seq: 2, type: 'PlaybackStopped' },
  ],
};
