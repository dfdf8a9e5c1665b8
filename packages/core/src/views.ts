import { type DownloadAllowance, downloadAllowance } from './decide.js';
import type { ExpiryReason } from './events.js';
import { computeExpiry, type LicenseStatus } from './expiry.js';
import type { Policy } from './policy.js';
import { type AccountState, type Device, type License, own } from './state.js';

/** A licence as a device sees it (the protocol's `LicenseView`), with its binding expiry. */
export interface LicenseView {
  readonly licenseId: string;
  readonly titleId: string;
  readonly deviceId: string;
  readonly status: LicenseStatus;
  readonly statusReason: string | null;
  readonly policy: Policy;
  readonly issuedAt: number;
  readonly firstPlayedAt: number | null;
  readonly downloadedAt: number | null;
  readonly renewals: number;
  readonly lastPositionMs: number | null;
  readonly endedAt: number | null;
  readonly expiresAt: number;
  readonly expiryReason: ExpiryReason;
}

/** A device as other devices of the account see it. */
export interface DeviceView {
  readonly deviceId: string;
  readonly name: string;
  readonly status: 'active' | 'deactivated';
  readonly registeredAt: number;
  readonly deactivatedAt: number | null;
}

/** The view of one licence, its expiry computed with the device's last check-in. */
export function licenseView(license: License, lastCheckInAt: number | null): LicenseView {
  const { expiresAt, reason } = computeExpiry({ ...license, lastCheckInAt });
  return {
    licenseId: license.licenseId,
    titleId: license.titleId,
    deviceId: license.deviceId,
    status: license.status,
    statusReason: license.statusReason,
    policy: license.policy,
    issuedAt: license.issuedAt,
    firstPlayedAt: license.firstPlayedAt,
    downloadedAt: license.downloadedAt,
    renewals: license.renewals,
    lastPositionMs: license.lastPositionMs,
    endedAt: license.endedAt,
    expiresAt,
    expiryReason: reason,
  };
}

/** A device's licences, oldest first, as of its check-in at `lastCheckInAt`. */
export function deviceLicenseViews(
  state: AccountState,
  deviceId: string,
  lastCheckInAt: number | null,
): LicenseView[] {
  return Object.values(state.licenses)
    .filter((license) => license.deviceId === deviceId)
    .sort((a, b) => a.firstIssuedAt - b.firstIssuedAt || (a.licenseId < b.licenseId ? -1 : 1))
    .map((license) => licenseView(license, lastCheckInAt));
}

export function deviceView(device: Device): DeviceView {
  return {
    deviceId: device.deviceId,
    name: device.name,
    status: device.status,
    registeredAt: device.registeredAt,
    deactivatedAt: device.deactivatedAt,
  };
}

/** The content of the authoritative snapshot the server sends a device after each sync. */
export interface DeviceSnapshotContent {
  readonly accountId: string;
  readonly deviceId: string;
  readonly version: number;
  readonly serverTime: number;
  readonly plan: AccountState['plan'];
  readonly device: DeviceView;
  readonly devices: DeviceView[];
  readonly licenses: LicenseView[];
  readonly allowances: DownloadAllowance[];
}

/**
 * Builds a device's snapshot at `serverTime`, which is also its check-in instant. `policies`
 * gives the current catalogue policy of titles whose yearly allowance the device should know.
 * Returns `null` when the device is not part of the account.
 */
export function deviceSnapshot(
  state: AccountState,
  deviceId: string,
  serverTime: number,
  policies: ReadonlyMap<string, Pick<Policy, 'maxDownloadsPerYear'>> = new Map(),
): DeviceSnapshotContent | null {
  const device = own(state.devices, deviceId);
  if (device === undefined) return null;
  const licenses = deviceLicenseViews(state, deviceId, serverTime);
  const titles = new Set([...policies.keys(), ...licenses.map((license) => license.titleId)]);
  const allowances = [...titles].sort().map((titleId) => {
    const policy = policies.get(titleId) ??
      licenses.find((license) => license.titleId === titleId)?.policy ?? { maxDownloadsPerYear: null };
    return downloadAllowance(state, titleId, policy, serverTime);
  });
  return {
    accountId: state.accountId,
    deviceId,
    version: state.version,
    serverTime,
    plan: state.plan,
    device: deviceView(device),
    devices: Object.values(state.devices).map(deviceView),
    licenses,
    allowances,
  };
}
