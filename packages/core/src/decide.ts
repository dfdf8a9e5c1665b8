import { type DeviceEvent, type DomainEvent, type EventOf, event, type RevocationReason } from './events.js';
import { DEFAULT_MAX_REGISTERED_DEVICES, type Plan, type Policy } from './policy.js';
import { type AccountState, hardExpiry, isActive, type License, own, REFUSAL_WINDOW_MS } from './state.js';
import { MONTH_WINDOW_MS, YEAR_WINDOW_MS } from './time.js';

/** What the account aggregate is asked to do. Every command carries the instant it is decided at. */
export type Command =
  | { readonly type: 'OpenAccount'; readonly accountId: string; readonly plan: Plan; readonly now: number }
  | { readonly type: 'ChangePlan'; readonly plan: Plan; readonly now: number }
  | {
      readonly type: 'RegisterDevice';
      readonly deviceId: string;
      readonly name: string;
      readonly now: number;
    }
  | { readonly type: 'DeactivateDevice'; readonly deviceId: string; readonly now: number }
  | {
      readonly type: 'IssueLicense';
      readonly licenseId: string;
      readonly deviceId: string;
      readonly titleId: string;
      readonly policy: Policy;
      /** The catalogue version of `policy`, recorded in `LicenseIssued`. */
      readonly policyVersion?: number;
      readonly now: number;
    }
  | {
      readonly type: 'RenewLicense';
      readonly licenseId: string;
      readonly deviceId: string;
      readonly now: number;
    }
  | {
      readonly type: 'ReleaseLicense';
      readonly licenseId: string;
      readonly deviceId: string;
      readonly now: number;
    }
  | {
      readonly type: 'RevokeLicense';
      readonly licenseId: string;
      readonly reason: RevocationReason;
      readonly now: number;
    }
  | { readonly type: 'ExpireLicenses'; readonly now: number }
  | {
      readonly type: 'WithdrawTitle';
      readonly titleId: string;
      readonly availableUntil: number;
      readonly now: number;
    };

import { REJECTION_CODES, type RejectionCode } from './rejections.js';

export { REJECTION_CODES, type RejectionCode };

/**
 * A refusal by the rules, with what a player needs to tell the member: the limit, how much of it
 * is used, and when the next download becomes possible.
 */
export interface Rejection {
  readonly code: RejectionCode;
  readonly message: string;
  readonly limit?: number;
  readonly used?: number;
  readonly remaining?: number;
  /** When the limit frees up again (the oldest counted download leaves the window). */
  readonly nextAvailableAt?: number;
  readonly titleId?: string;
  readonly licenseId?: string;
}

/** The outcome of `decide`: the events to append, or a rejection. */
export type Decision =
  | { readonly ok: true; readonly events: readonly DomainEvent[] }
  | { readonly ok: false; readonly rejection: Rejection };

const accept = (...events: DomainEvent[]): Decision => ({ ok: true, events });
const reject = (
  code: RejectionCode,
  message: string,
  extra: Omit<Rejection, 'code' | 'message'> = {},
): Decision => ({
  ok: false,
  rejection: { code, message, ...extra },
});

function byIssue(a: License, b: License): number {
  return (
    a.firstIssuedAt - b.firstIssuedAt || (a.licenseId < b.licenseId ? -1 : a.licenseId > b.licenseId ? 1 : 0)
  );
}

/** Licences of the account that hold a slot at `now`, oldest first. */
export function activeLicenses(state: AccountState, now: number): License[] {
  return Object.values(state.licenses)
    .filter((license) => isActive(license, now))
    .sort(byIssue);
}

/** Devices that hold at least one active licence at `now`. */
export function devicesHoldingDownloads(state: AccountState, now: number): Set<string> {
  return new Set(activeLicenses(state, now).map((license) => license.deviceId));
}

/** How many more times a title may be downloaded (issued or renewed) in the rolling year. */
export interface DownloadAllowance {
  readonly titleId: string;
  /** The policy's yearly limit, or `null` when there is none. */
  readonly limit: number | null;
  readonly used: number;
  readonly remaining: number | null;
  /** When one more download becomes possible, if none remains; otherwise when the oldest counted one leaves the window. */
  readonly nextAvailableAt: number | null;
}

/**
 * Counts the grants in the window ending at `now`. `nextAvailableAt` is when the count drops below
 * `limit` (a limit lowered under existing grants needs several to leave), or, with room left or no
 * limit, when the oldest counted grant leaves the window.
 */
function windowCount(grants: readonly number[], now: number, windowMs: number, limit: number | null) {
  const inWindow = grants.filter((at) => at > now - windowMs && at <= now).sort((a, b) => a - b);
  const freeing = limit === null || inWindow.length < limit ? 0 : inWindow.length - limit;
  const at = inWindow[freeing];
  return { used: inWindow.length, nextAvailableAt: at === undefined ? null : at + windowMs };
}

/** The yearly allowance of a title for the account at `now` ("1 more time before 3 March"). */
export function downloadAllowance(
  state: AccountState,
  titleId: string,
  policy: Pick<Policy, 'maxDownloadsPerYear'>,
  now: number,
): DownloadAllowance {
  const { used, nextAvailableAt } = windowCount(
    own(state.grants, titleId) ?? [],
    now,
    YEAR_WINDOW_MS,
    policy.maxDownloadsPerYear,
  );
  const limit = policy.maxDownloadsPerYear;
  return {
    titleId,
    limit,
    used,
    remaining: limit === null ? null : Math.max(0, limit - used),
    nextAvailableAt,
  };
}

function availableUntil(state: AccountState, titleId: string, policy: Policy): number {
  return Math.min(policy.availableUntil ?? Infinity, own(state.withdrawals, titleId) ?? Infinity);
}

/** The rules every new download (issue or renewal) must pass: availability, yearly and monthly limits. */
function checkDownloadLimits(
  state: AccountState,
  titleId: string,
  policy: Policy,
  now: number,
): Decision | null {
  if (availableUntil(state, titleId, policy) <= now) {
    return reject('TITLE_UNAVAILABLE', 'This title is no longer available for download.', { titleId });
  }
  const yearly = downloadAllowance(state, titleId, policy, now);
  if (yearly.limit !== null && yearly.used >= yearly.limit) {
    return reject('YEARLY_LIMIT', `This title can be downloaded ${yearly.limit} times a year.`, {
      titleId,
      limit: yearly.limit,
      used: yearly.used,
      remaining: 0,
      ...(yearly.nextAvailableAt === null ? {} : { nextAvailableAt: yearly.nextAvailableAt }),
    });
  }
  const monthlyLimit = state.plan.maxDownloadsPerMonth;
  if (monthlyLimit !== null) {
    const monthly = windowCount(Object.values(state.grants).flat(), now, MONTH_WINDOW_MS, monthlyLimit);
    if (monthly.used >= monthlyLimit) {
      return reject('MONTHLY_LIMIT', `Your plan allows ${monthlyLimit} downloads every 30 days.`, {
        limit: monthlyLimit,
        used: monthly.used,
        remaining: 0,
        ...(monthly.nextAvailableAt === null ? {} : { nextAvailableAt: monthly.nextAvailableAt }),
      });
    }
  }
  return null;
}

/** The device rules: the slot (devices holding downloads) and the per-device cap of active licences. */
function checkDeviceCapacity(state: AccountState, deviceId: string, now: number): Decision | null {
  const active = activeLicenses(state, now);
  const onDevice = active.filter((license) => license.deviceId === deviceId).length;
  if (onDevice >= state.plan.maxDownloadsPerDevice) {
    return reject(
      'DEVICE_LICENSE_LIMIT',
      `A device can hold ${state.plan.maxDownloadsPerDevice} downloads at once.`,
      {
        limit: state.plan.maxDownloadsPerDevice,
        used: onDevice,
        remaining: 0,
      },
    );
  }
  const holding = new Set(active.map((license) => license.deviceId));
  if (!holding.has(deviceId) && holding.size >= state.plan.maxDownloadDevices) {
    return reject(
      'DEVICE_LIMIT',
      `Your plan allows downloads on ${state.plan.maxDownloadDevices} devices at once.`,
      {
        limit: state.plan.maxDownloadDevices,
        used: holding.size,
        remaining: 0,
      },
    );
  }
  return null;
}

function checkDevice(state: AccountState, deviceId: string): Decision | null {
  if (!state.opened) return reject('ACCOUNT_NOT_OPEN', 'The account is not open.');
  const device = own(state.devices, deviceId);
  if (device === undefined) return reject('DEVICE_NOT_REGISTERED', 'This device is not registered.');
  if (device.status === 'deactivated') return reject('DEVICE_DEACTIVATED', 'This device was deactivated.');
  return null;
}

function licenseOf(state: AccountState, licenseId: string, deviceId: string): License | Decision {
  const license = own(state.licenses, licenseId);
  if (license === undefined) return reject('LICENSE_NOT_FOUND', 'No such licence.', { licenseId });
  if (license.deviceId !== deviceId)
    return reject('WRONG_DEVICE', 'This licence belongs to another device.', { licenseId });
  return license;
}

const isDecision = (value: License | Decision): value is Decision => 'ok' in value;
const isFinal = (license: License) =>
  license.status === 'released' || license.status === 'revoked' || license.status === 'expired';

function revocations(licenses: readonly License[], reason: RevocationReason, now: number): DomainEvent[] {
  return licenses.map((license) =>
    event('LicenseRevoked', { licenseId: license.licenseId, at: now, reason }),
  );
}

/** Revokes what a (new) plan no longer allows: the devices and licences granted last lose first. */
function limitConflicts(state: AccountState, plan: Plan, now: number): DomainEvent[] {
  const active = activeLicenses(state, now);
  const byDevice = new Map<string, License[]>();
  for (const license of active)
    byDevice.set(license.deviceId, [...(byDevice.get(license.deviceId) ?? []), license]);
  const revoked: License[] = [];
  const devices = [...byDevice.entries()].sort(
    ([a, la], [b, lb]) =>
      Math.min(...la.map((l) => l.firstIssuedAt)) - Math.min(...lb.map((l) => l.firstIssuedAt)) ||
      (a < b ? -1 : 1),
  );
  devices.forEach(([, licenses], index) => {
    if (index >= plan.maxDownloadDevices) revoked.push(...licenses);
    else revoked.push(...licenses.slice(plan.maxDownloadsPerDevice));
  });
  return revocations(revoked.sort(byIssue), 'LIMIT_CONFLICT', now);
}

/**
 * Decides a command against the account's state: the events it produces, or a rejection with a
 * typed reason. Pure: it reads nothing but its arguments.
 */
export function decide(state: AccountState, command: Command): Decision {
  const { now } = command;
  switch (command.type) {
    case 'OpenAccount':
      if (state.opened) return reject('ACCOUNT_ALREADY_OPEN', 'The account is already open.');
      return accept(event('AccountOpened', { accountId: command.accountId, plan: command.plan, at: now }));

    case 'ChangePlan': {
      if (!state.opened) return reject('ACCOUNT_NOT_OPEN', 'The account is not open.');
      return accept(
        event('AccountPlanChanged', { plan: command.plan, at: now }),
        ...limitConflicts(state, command.plan, now),
      );
    }

    case 'RegisterDevice': {
      if (!state.opened) return reject('ACCOUNT_NOT_OPEN', 'The account is not open.');
      const device = own(state.devices, command.deviceId);
      if (device?.status === 'active') {
        return reject('DEVICE_ALREADY_REGISTERED', 'This device is already registered.');
      }
      const limit = state.plan.maxRegisteredDevices ?? DEFAULT_MAX_REGISTERED_DEVICES;
      const used = Object.values(state.devices).filter((d) => d.status === 'active').length;
      if (used >= limit) {
        return reject('DEVICE_LIMIT', `An account can have ${limit} active devices.`, {
          limit,
          used,
          remaining: 0,
        });
      }
      return accept(event('DeviceRegistered', { deviceId: command.deviceId, name: command.name, at: now }));
    }

    case 'DeactivateDevice': {
      const refused = checkDevice(state, command.deviceId);
      if (refused) return refused;
      const held = Object.values(state.licenses)
        .filter((license) => license.deviceId === command.deviceId && !isFinal(license))
        .sort(byIssue);
      return accept(
        event('DeviceDeactivated', { deviceId: command.deviceId, at: now }),
        ...revocations(held, 'DEVICE_DEACTIVATED', now),
      );
    }

    case 'IssueLicense': {
      const refused = checkDevice(state, command.deviceId);
      if (refused) return refused;
      const existing = own(state.licenses, command.licenseId);
      if (existing !== undefined) {
        // A retried request with the same client-chosen id: nothing more to do.
        if (existing.deviceId === command.deviceId && existing.titleId === command.titleId) return accept();
        return reject('INVALID_COMMAND', 'This licence id is already used.', {
          licenseId: command.licenseId,
        });
      }
      const held = activeLicenses(state, now).find(
        (license) => license.deviceId === command.deviceId && license.titleId === command.titleId,
      );
      if (held !== undefined) {
        return reject('ALREADY_LICENSED', 'This device already holds a licence for this title.', {
          titleId: command.titleId,
          licenseId: held.licenseId,
        });
      }
      const limited =
        checkDownloadLimits(state, command.titleId, command.policy, now) ??
        checkDeviceCapacity(state, command.deviceId, now);
      if (limited) return limited;
      const until = availableUntil(state, command.titleId, command.policy);
      return accept(
        event('LicenseIssued', {
          licenseId: command.licenseId,
          deviceId: command.deviceId,
          titleId: command.titleId,
          policy: { ...command.policy, availableUntil: Number.isFinite(until) ? until : null },
          ...(command.policyVersion === undefined ? {} : { policyVersion: command.policyVersion }),
          at: now,
        }),
      );
    }

    case 'RenewLicense': {
      const refused = checkDevice(state, command.deviceId);
      if (refused) return refused;
      const license = licenseOf(state, command.licenseId, command.deviceId);
      if (isDecision(license)) return license;
      if (license.status === 'released' || license.status === 'revoked') {
        return reject('LICENSE_NOT_ACTIVE', `This licence was ${license.status}.`, {
          licenseId: license.licenseId,
        });
      }
      const { maxRenewals } = license.policy;
      if (maxRenewals !== null && license.renewals >= maxRenewals) {
        return reject('RENEWAL_LIMIT', `This licence can be renewed ${maxRenewals} times.`, {
          licenseId: license.licenseId,
          limit: maxRenewals,
          used: license.renewals,
          remaining: 0,
        });
      }
      if (!isActive(license, now)) {
        const held = activeLicenses(state, now).find(
          (other) => other.deviceId === command.deviceId && other.titleId === license.titleId,
        );
        if (held !== undefined) {
          return reject('ALREADY_LICENSED', 'This device already holds a licence for this title.', {
            titleId: license.titleId,
            licenseId: held.licenseId,
          });
        }
      }
      const limited =
        checkDownloadLimits(state, license.titleId, license.policy, now) ??
        (isActive(license, now) ? null : checkDeviceCapacity(state, command.deviceId, now));
      if (limited) return limited;
      return accept(
        event('LicenseRenewed', { licenseId: license.licenseId, at: now, renewal: license.renewals + 1 }),
      );
    }

    case 'ReleaseLicense': {
      if (!state.opened) return reject('ACCOUNT_NOT_OPEN', 'The account is not open.');
      const license = licenseOf(state, command.licenseId, command.deviceId);
      if (isDecision(license)) return license;
      if (isFinal(license))
        return reject('LICENSE_NOT_ACTIVE', `This licence was ${license.status}.`, {
          licenseId: license.licenseId,
        });
      return accept(event('LicenseReleased', { licenseId: license.licenseId, at: now }));
    }

    case 'RevokeLicense': {
      const license = own(state.licenses, command.licenseId);
      if (license === undefined)
        return reject('LICENSE_NOT_FOUND', 'No such licence.', { licenseId: command.licenseId });
      if (isFinal(license))
        return reject('LICENSE_NOT_ACTIVE', `This licence was ${license.status}.`, {
          licenseId: license.licenseId,
        });
      return accept(...revocations([license], command.reason, now));
    }

    case 'ExpireLicenses': {
      const expired = Object.values(state.licenses)
        .filter((license) => !isFinal(license) && hardExpiry(license).expiresAt <= now)
        .sort(byIssue);
      return accept(
        ...expired.map((license) => {
          const { expiresAt, reason } = hardExpiry(license);
          return event('LicenseExpired', { licenseId: license.licenseId, at: expiresAt, reason });
        }),
      );
    }

    case 'WithdrawTitle': {
      if (!state.opened) return reject('ACCOUNT_NOT_OPEN', 'The account is not open.');
      const withdrawn = event('TitleWithdrawn', {
        titleId: command.titleId,
        availableUntil: command.availableUntil,
        at: now,
      });
      if (command.availableUntil > now) return accept(withdrawn);
      const affected = activeLicenses(state, now).filter((license) => license.titleId === command.titleId);
      return accept(withdrawn, ...revocations(affected, 'TITLE_WITHDRAWN', now));
    }
  }
}

/** Where the server received a device event: the device it authenticated, and when the request arrived. */
export interface DeviceEventContext {
  readonly deviceId: string;
  readonly receivedAt: number;
}

const clamp = (value: number, min: number, max: number) => Math.min(Math.max(value, min), Math.max(min, max));

/**
 * Decides a device-recorded event (the merge's entry point): checks it against the same rules the
 * device applied, clamps its device-reported instant into what the server can believe (not before
 * the licence was issued, not after the request arrived), and returns the event to append — or none
 * when it changes nothing (e.g. a download deleted twice) — or a rejection.
 */
export function decideDeviceEvent(
  state: AccountState,
  incoming: DeviceEvent,
  context: DeviceEventContext,
): Decision {
  if (!state.opened) return reject('ACCOUNT_NOT_OPEN', 'The account is not open.');
  if (incoming.data.deviceId !== context.deviceId) {
    return reject('WRONG_DEVICE', 'The event names another device than the one that sent it.');
  }
  const device = own(state.devices, context.deviceId);
  if (device === undefined) return reject('DEVICE_NOT_REGISTERED', 'This device is not registered.');
  // Authorisation rests on the server's state and time only: a deactivated device is refused whatever
  // date its events carry (R8), and a playback start is judged at receipt (R21).
  if (device.status === 'deactivated') return reject('DEVICE_DEACTIVATED', 'This device was deactivated.');

  if (incoming.type === 'ClockRollbackDetected') {
    return accept({
      ...incoming,
      data: { ...incoming.data, at: clamp(incoming.data.at, device.registeredAt, context.receivedAt) },
    });
  }

  const license = licenseOf(state, incoming.data.licenseId, context.deviceId);
  if (isDecision(license)) return license;
  const at = clamp(incoming.data.at, license.firstIssuedAt, context.receivedAt);

  switch (incoming.type) {
    case 'DownloadCompleted':
      if (license.status === 'downloaded') return accept();
      if (license.status !== 'issued') {
        return reject('LICENSE_NOT_ACTIVE', `This licence was ${license.status}.`, {
          licenseId: license.licenseId,
        });
      }
      return accept(event('DownloadCompleted', { ...incoming.data, at }));

    case 'PlaybackStarted': {
      if (license.downloadedAt === null) {
        return reject('NOT_DOWNLOADED', 'This title has not finished downloading.', {
          licenseId: license.licenseId,
        });
      }
      if (isFinal(license) || context.receivedAt >= hardExpiry(license).expiresAt) {
        return reject('LICENSE_NOT_ACTIVE', 'The licence has ended.', {
          licenseId: license.licenseId,
        });
      }
      return accept(event('PlaybackStarted', { ...incoming.data, at }));
    }

    case 'PlaybackStopped':
      return accept(event('PlaybackStopped', { ...incoming.data, at }));

    case 'DownloadDeleted':
      if (isFinal(license)) return accept();
      return accept(event('DownloadDeleted', { ...incoming.data, at }));

    case 'LicenseExpiryObserved':
      return accept(event('LicenseExpiryObserved', { ...incoming.data, at }));
  }
}

/** How many refusals an account records per rolling 24 hours (R24); later ones are answered, not recorded. */
export const REFUSAL_QUOTA = 50;

/**
 * The event that records a refused licence request or renewal (R24), or `null` when nothing is recorded:
 * the quota of {@link REFUSAL_QUOTA} refusals per account per 24 hours is used up, or the request named
 * no licence or device the account has (`LICENSE_NOT_FOUND`, `WRONG_DEVICE`, `DEVICE_NOT_REGISTERED`,
 * `ACCOUNT_NOT_OPEN`: answered as errors, not refusals). Pure.
 */
export function refusalEvent(
  state: AccountState,
  command: Extract<Command, { type: 'IssueLicense' | 'RenewLicense' }>,
  rejection: Rejection,
  quota: number = REFUSAL_QUOTA,
): EventOf<'LicenseRefused'> | null {
  if (!state.opened || !own(state.devices, command.deviceId)) return null;
  if (['LICENSE_NOT_FOUND', 'WRONG_DEVICE', 'INVALID_COMMAND'].includes(rejection.code)) return null;
  const recent = state.recentRefusals.filter((at) => at > command.now - REFUSAL_WINDOW_MS).length;
  if (recent >= quota) return null;
  if (command.type === 'IssueLicense') {
    return event('LicenseRefused', {
      request: 'issue',
      licenseId: command.licenseId,
      deviceId: command.deviceId,
      titleId: command.titleId,
      policy: command.policy,
      code: rejection.code,
      at: command.now,
    });
  }
  const license = own(state.licenses, command.licenseId);
  if (license === undefined) return null;
  return event('LicenseRefused', {
    request: 'renew',
    licenseId: command.licenseId,
    deviceId: command.deviceId,
    titleId: license.titleId,
    code: rejection.code,
    at: command.now,
  });
}
