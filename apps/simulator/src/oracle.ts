/**
 * The checker's own reading of the rules (DESIGN.md, "Expiry" and the plan limits), written apart from
 * `@satchel/core` on purpose: an invariant that reused the code under test would agree with any bug in it.
 */
import type { AccountState } from '@satchel/core';
import type { LicenseSnapshot, LicenseView } from '@satchel/protocol';
import type { OutboxEntry } from '@satchel/sdk';

const SECOND = 1000;
const YEAR = 365 * 86_400_000;
const MONTH = 30 * 86_400_000;

type Terms = Pick<LicenseView, 'issuedAt' | 'firstPlayedAt' | 'policy'>;

/** When a licence stops playing, without the check-in bound: the Widevine formula. */
export function expiryOf(terms: Terms): number {
  const { issuedAt, firstPlayedAt, policy } = terms;
  let at = issuedAt + policy.licenseDurationSec * SECOND;
  if (firstPlayedAt === null) {
    if (policy.rentalDurationSec > 0) at = Math.min(at, issuedAt + policy.rentalDurationSec * SECOND);
  } else if (policy.playbackDurationSec > 0) {
    at = Math.min(at, firstPlayedAt + policy.playbackDurationSec * SECOND);
  }
  if (policy.availableUntil !== null) at = Math.min(at, policy.availableUntil);
  return at;
}

/** A licence as the device holds it: the snapshot with the events it has not synced yet applied. */
export interface DeviceLicence {
  readonly licenseId: string;
  readonly status: LicenseView['status'] | 'missing';
  readonly issuedAt: number;
  readonly firstPlayedAt: number | null;
  readonly expiresAt: number;
  /** The instant the device must have checked in by (its last sync plus the offline check-in window). */
  readonly checkInDeadline: number;
}

/** What the device knows about `licenseId`, from its stored snapshot and outbox. */
export function deviceLicence(
  snapshot: LicenseSnapshot | null,
  pending: readonly OutboxEntry[],
  licenseId: string,
): DeviceLicence {
  const view = snapshot?.licenses.find((l) => l.licenseId === licenseId);
  if (snapshot === null || view === undefined) {
    return {
      licenseId,
      status: 'missing',
      issuedAt: 0,
      firstPlayedAt: null,
      expiresAt: -Infinity,
      checkInDeadline: -Infinity,
    };
  }
  let status: DeviceLicence['status'] = view.status;
  let firstPlayedAt = view.firstPlayedAt;
  for (const entry of pending) {
    if (entry.data.licenseId !== licenseId) continue;
    if (status !== 'issued' && status !== 'downloaded') break;
    const at = typeof entry.data.at === 'number' ? entry.data.at : entry.trustedAt;
    if (entry.type === 'DownloadCompleted' && status === 'issued') status = 'downloaded';
    if (entry.type === 'PlaybackStarted' && at >= view.issuedAt) firstPlayedAt ??= at;
    if (entry.type === 'DownloadDeleted') status = 'released';
    if (entry.type === 'LicenseExpiryObserved') status = 'expired';
  }
  const checkIn = view.policy.offlineCheckInSec;
  return {
    licenseId,
    status,
    issuedAt: view.issuedAt,
    firstPlayedAt,
    expiresAt: expiryOf({ issuedAt: view.issuedAt, firstPlayedAt, policy: view.policy }),
    checkInDeadline: checkIn > 0 ? snapshot.serverTime + checkIn * SECOND : Infinity,
  };
}

/** A limit the server's state breaks at `at`. */
export interface LimitBreach {
  readonly limit:
    | 'maxDownloadDevices'
    | 'maxDownloadsPerDevice'
    | 'maxDownloadsPerYear'
    | 'maxDownloadsPerMonth';
  readonly allowed: number;
  readonly actual: number;
  readonly deviceId?: string;
  readonly titleId?: string;
  readonly licenseIds: readonly string[];
}

/**
 * The instants of the downloads (issues and renewals) that count towards the limits, per title. Reads
 * both shapes the state has had: a list of `{ titleId, at }` and a record of instants per title.
 */
export function grantInstants(grants: unknown): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (Array.isArray(grants)) {
    for (const g of grants as Array<{ titleId: string; at: number }>) {
      out.set(g.titleId, [...(out.get(g.titleId) ?? []), g.at]);
    }
  } else if (grants !== null && typeof grants === 'object') {
    for (const [titleId, instants] of Object.entries(grants)) {
      if (Array.isArray(instants))
        out.set(
          titleId,
          instants.filter((t): t is number => typeof t === 'number'),
        );
    }
  }
  return out;
}

/**
 * Every plan or title limit the account's licences break at instant `at`. `yearlyLimits` holds each
 * title's `maxDownloadsPerYear` (from the catalogue: a licence can leave the state before its download
 * leaves the rolling year).
 */
export function limitBreaches(
  state: AccountState,
  at: number,
  yearlyLimits: ReadonlyMap<string, number | null>,
): LimitBreach[] {
  const breaches: LimitBreach[] = [];
  const licences = Object.values(state.licenses);
  const active = licences.filter(
    (l) => (l.status === 'issued' || l.status === 'downloaded') && expiryOf(l) > at,
  );
  const byDevice = new Map<string, string[]>();
  for (const l of active) byDevice.set(l.deviceId, [...(byDevice.get(l.deviceId) ?? []), l.licenseId]);
  if (byDevice.size > state.plan.maxDownloadDevices) {
    breaches.push({
      limit: 'maxDownloadDevices',
      allowed: state.plan.maxDownloadDevices,
      actual: byDevice.size,
      licenseIds: active.map((l) => l.licenseId),
    });
  }
  for (const [deviceId, ids] of byDevice) {
    if (ids.length > state.plan.maxDownloadsPerDevice) {
      breaches.push({
        limit: 'maxDownloadsPerDevice',
        allowed: state.plan.maxDownloadsPerDevice,
        actual: ids.length,
        deviceId,
        licenseIds: ids,
      });
    }
  }
  const inWindow = (t: number, window: number) => t > at - window && t <= at;
  const grants = grantInstants(state.grants);
  for (const [titleId, instants] of grants) {
    const limit = yearlyLimits.get(titleId) ?? null;
    const used = instants.filter((t) => inWindow(t, YEAR)).length;
    if (limit !== null && used > limit) {
      breaches.push({
        limit: 'maxDownloadsPerYear',
        allowed: limit,
        actual: used,
        titleId,
        licenseIds: licences.filter((l) => l.titleId === titleId).map((l) => l.licenseId),
      });
    }
  }
  const monthly = state.plan.maxDownloadsPerMonth;
  const month = [...grants.values()].flat().filter((t) => inWindow(t, MONTH)).length;
  if (monthly !== null && month > monthly) {
    breaches.push({ limit: 'maxDownloadsPerMonth', allowed: monthly, actual: month, licenseIds: [] });
  }
  return breaches;
}
