import type { DomainEvent, RevocationReason } from './events.js';
import { computeExpiry, isHeldStatus, type LicenseStatus } from './expiry.js';
import { DEFAULT_PLAN, type Plan, type Policy } from './policy.js';
import { DAY_MS, YEAR_WINDOW_MS } from './time.js';

/**
 * The version of the fold code. Bump it whenever `evolve` changes what it derives: snapshots
 * folded by another version are ignored and rebuilt from the events.
 */
export const FOLD_VERSION = 4;

/** A device of the account. */
export interface Device {
  readonly deviceId: string;
  readonly name: string;
  readonly status: 'active' | 'deactivated';
  readonly registeredAt: number;
  readonly deactivatedAt: number | null;
}

/** A licence as the account's history determines it. */
export interface License {
  readonly licenseId: string;
  readonly deviceId: string;
  readonly titleId: string;
  /** The policy at issue, with `availableUntil` lowered by any later withdrawal of the title. */
  readonly policy: Policy;
  /** When the current term started: the issue, or the latest renewal. */
  readonly issuedAt: number;
  /** When the licence was first issued (renewals do not move it). */
  readonly firstIssuedAt: number;
  readonly firstPlayedAt: number | null;
  readonly downloadedAt: number | null;
  readonly renewals: number;
  readonly lastPositionMs: number | null;
  readonly status: LicenseStatus;
  /** The revocation or expiry reason of a final status. */
  readonly statusReason:
    | RevocationReason
    | 'RENTAL'
    | 'PLAYBACK_WINDOW'
    | 'LICENSE_DURATION'
    | 'CHECK_IN'
    | 'AVAILABILITY'
    | null;
  readonly endedAt: number | null;
}

/**
 * The downloads that count towards the yearly and monthly limits (issues and renewals): per title, their
 * instants. Kept this compact because it is most of an account's state, and the state is what a load reads.
 */
export type Grants = Readonly<Record<string, readonly number[]>>;

/** The state of one account: the consistency boundary. Plain JSON, so it can be snapshotted. */
export interface AccountState {
  readonly accountId: string;
  readonly opened: boolean;
  readonly plan: Plan;
  /** How many events have been folded: the stream version this state reflects. */
  readonly version: number;
  readonly devices: Readonly<Record<string, Device>>;
  readonly licenses: Readonly<Record<string, License>>;
  /** Issues and renewals of the last 366 days, per title (older ones can no longer count towards a limit). */
  readonly grants: Grants;
  /** Titles withdrawn from the catalogue, and when they leave it. */
  readonly withdrawals: Readonly<Record<string, number>>;
  readonly clockRollbacks: number;
  /** When the refusals recorded in the last 24 hours were made (`LicenseRefused`), for their quota (R24). */
  readonly recentRefusals: readonly number[];
  /** The latest instant any folded event carries. */
  readonly lastEventAt: number;
}

/**
 * Ended licences stay in the state this long after they end (so devices see what was revoked or expired),
 * then leave it — not the events. What counts towards a limit is in `grants`, so the state, and with it
 * the cost of loading an account, is bounded by recent activity rather than the length of its history.
 */
export const ENDED_LICENSE_RETENTION_MS = 30 * DAY_MS;
const GRANT_RETENTION_MS = YEAR_WINDOW_MS + DAY_MS;
/** The window of the refusal quota (R24): refusals recorded in the last 24 hours count. */
export const REFUSAL_WINDOW_MS = DAY_MS;

/** The state of an account before its first event. */
export function initialState(accountId: string): AccountState {
  return {
    accountId,
    opened: false,
    plan: DEFAULT_PLAN,
    version: 0,
    devices: {},
    licenses: {},
    grants: {},
    withdrawals: {},
    clockRollbacks: 0,
    recentRefusals: [],
    lastEventAt: 0,
  };
}

/** Reads an own entry of a record (never one inherited from Object.prototype). */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface Draft extends Omit<Mutable<AccountState>, 'devices' | 'licenses' | 'grants' | 'withdrawals'> {
  devices: Record<string, Device>;
  licenses: Record<string, License>;
  grants: Record<string, readonly number[]>;
  withdrawals: Record<string, number>;
}

function draftOf(state: AccountState): Draft {
  return {
    ...state,
    plan: { ...state.plan },
    devices: { ...state.devices },
    licenses: { ...state.licenses },
    grants: { ...state.grants },
    withdrawals: { ...state.withdrawals },
  };
}

function updateLicense(draft: Draft, licenseId: string, change: (license: License) => License): void {
  const license = own(draft.licenses, licenseId);
  if (license !== undefined) draft.licenses[licenseId] = change(license);
}

function grant(draft: Draft, titleId: string, at: number): void {
  draft.grants[titleId] = [...(own(draft.grants, titleId) ?? []), at];
}

function apply(draft: Draft, event: DomainEvent): void {
  switch (event.type) {
    case 'AccountOpened':
      draft.opened = true;
      draft.accountId = event.data.accountId;
      draft.plan = event.data.plan;
      break;
    case 'AccountPlanChanged':
      draft.plan = event.data.plan;
      break;
    case 'DeviceRegistered':
      draft.devices[event.data.deviceId] = {
        deviceId: event.data.deviceId,
        name: event.data.name,
        status: 'active',
        registeredAt: event.data.at,
        deactivatedAt: null,
      };
      break;
    case 'DeviceDeactivated': {
      const device = own(draft.devices, event.data.deviceId);
      if (device !== undefined) {
        draft.devices[device.deviceId] = { ...device, status: 'deactivated', deactivatedAt: event.data.at };
      }
      break;
    }
    case 'LicenseIssued': {
      const { licenseId, deviceId, titleId, at } = event.data;
      const withdrawn = own(draft.withdrawals, titleId);
      const policy =
        withdrawn === undefined || (event.data.policy.availableUntil ?? Infinity) <= withdrawn
          ? event.data.policy
          : { ...event.data.policy, availableUntil: withdrawn };
      draft.licenses[licenseId] = {
        licenseId,
        deviceId,
        titleId,
        policy,
        issuedAt: at,
        firstIssuedAt: at,
        firstPlayedAt: null,
        downloadedAt: null,
        renewals: 0,
        lastPositionMs: null,
        status: 'issued',
        statusReason: null,
        endedAt: null,
      };
      grant(draft, titleId, at);
      break;
    }
    case 'LicenseRenewed': {
      const license = own(draft.licenses, event.data.licenseId);
      if (license === undefined) break;
      draft.licenses[license.licenseId] = {
        ...license,
        issuedAt: event.data.at,
        firstPlayedAt: null,
        renewals: event.data.renewal,
        status: license.downloadedAt === null ? 'issued' : 'downloaded',
        statusReason: null,
        endedAt: null,
      };
      grant(draft, license.titleId, event.data.at);
      break;
    }
    case 'LicenseReleased':
    case 'DownloadDeleted':
    case 'LicenseRevoked':
    case 'LicenseExpired':
    case 'DownloadCompleted':
    case 'PlaybackStarted':
    case 'PlaybackStopped':
      updateLicense(draft, event.data.licenseId, (l) => evolveLicense(l, event));
      break;
    case 'TitleWithdrawn': {
      const { titleId, availableUntil } = event.data;
      draft.withdrawals[titleId] = Math.min(own(draft.withdrawals, titleId) ?? Infinity, availableUntil);
      for (const license of Object.values(draft.licenses)) {
        if (license.titleId === titleId && (license.policy.availableUntil ?? Infinity) > availableUntil) {
          draft.licenses[license.licenseId] = { ...license, policy: { ...license.policy, availableUntil } };
        }
      }
      break;
    }
    case 'DeviceHistoryRebased':
      // History only: what the lost events did is not known, so nothing of the state changes.
      break;
    case 'ClockRollbackDetected':
      draft.clockRollbacks += 1;
      break;
    case 'LicenseExpiryObserved':
      break;
    case 'LicenseRefused':
      draft.recentRefusals = [
        ...draft.recentRefusals.filter((at) => at > event.data.at - REFUSAL_WINDOW_MS),
        event.data.at,
      ];
      break;
  }
  draft.version += 1;
  draft.lastEventAt = Math.max(draft.lastEventAt, event.data.at);
}

function prune(draft: Draft): void {
  const grantHorizon = draft.lastEventAt - GRANT_RETENTION_MS;
  for (const [titleId, instants] of Object.entries(draft.grants)) {
    if (instants.some((at) => at < grantHorizon)) {
      const kept = instants.filter((at) => at >= grantHorizon);
      if (kept.length === 0) delete draft.grants[titleId];
      else draft.grants[titleId] = kept;
    }
  }
  if (draft.recentRefusals.some((at) => at <= draft.lastEventAt - REFUSAL_WINDOW_MS)) {
    draft.recentRefusals = draft.recentRefusals.filter((at) => at > draft.lastEventAt - REFUSAL_WINDOW_MS);
  }
  const licenseHorizon = draft.lastEventAt - ENDED_LICENSE_RETENTION_MS;
  for (const license of Object.values(draft.licenses)) {
    if (license.endedAt !== null && license.endedAt < licenseHorizon)
      delete draft.licenses[license.licenseId];
  }
}

/** The fields of a licence that the events about it alone change (a view of a licence has them too). */
export interface LicenseProgress {
  readonly issuedAt: number;
  readonly status: LicenseStatus;
  readonly statusReason: string | null;
  readonly downloadedAt: number | null;
  readonly firstPlayedAt: number | null;
  readonly lastPositionMs: number | null;
  readonly endedAt: number | null;
}

/** The events {@link evolveLicense} applies: those whose whole effect is on the one licence they name. */
export type LicenseEvent = Extract<
  DomainEvent,
  {
    type:
      | 'DownloadCompleted'
      | 'PlaybackStarted'
      | 'PlaybackStopped'
      | 'DownloadDeleted'
      | 'LicenseReleased'
      | 'LicenseRevoked'
      | 'LicenseExpired';
  }
>;

/**
 * What an event about one licence does to it — the one implementation of these rules: {@link evolve}
 * applies it to the account's licences, and the SDK to a snapshot's licence views when it lays the
 * device's pending events over them. Pure; returns a new object (or `license` when nothing changes).
 */
export function evolveLicense<L extends LicenseProgress>(license: L, event: LicenseEvent): L {
  const change = (fields: Partial<LicenseProgress>): L => ({ ...license, ...fields });
  switch (event.type) {
    case 'LicenseReleased':
    case 'DownloadDeleted':
      return change({ status: 'released', statusReason: null, endedAt: event.data.at });
    case 'LicenseRevoked':
    case 'LicenseExpired':
      return change({
        status: event.type === 'LicenseRevoked' ? 'revoked' : 'expired',
        statusReason: event.data.reason,
        endedAt: event.data.at,
      });
    case 'DownloadCompleted':
      return license.status === 'issued'
        ? change({ status: 'downloaded', downloadedAt: event.data.at })
        : license;
    case 'PlaybackStarted':
      // A start recorded before a renewal (synced late) belongs to the previous term.
      return change({
        firstPlayedAt: license.firstPlayedAt ?? (event.data.at >= license.issuedAt ? event.data.at : null),
        lastPositionMs: event.data.positionMs,
      });
    case 'PlaybackStopped':
      return change({ lastPositionMs: event.data.positionMs });
  }
}

/** Applies one event. Pure and deterministic: the result depends only on the state and the event. */
export function evolve(state: AccountState, event: DomainEvent): AccountState {
  return fold([event], state);
}

/** Applies events in order, from `from` (a snapshot) or from the initial state of `from`'s account. */
export function fold(events: Iterable<DomainEvent>, from: AccountState = initialState('')): AccountState {
  const draft = draftOf(from);
  let count = 0;
  for (const event of events) {
    apply(draft, event);
    count += 1;
    if (count % 1024 === 0) prune(draft);
  }
  prune(draft);
  return draft;
}

/** The hard expiry of a licence (without the device's check-in, which only the device applies). */
export function hardExpiry(license: License) {
  return computeExpiry({ ...license, lastCheckInAt: null });
}

/**
 * True when a licence holds a slot at `now`: issued or downloaded, and not past its hard expiry (its
 * rental, playback or licence window, or the title's availability; a licence waiting for a check-in
 * still holds its slot). The one definition of "active": the server's rules, the SDK's `heldLicense`,
 * the player and the simulator use it, on an account's licence or on a snapshot's licence view alike.
 */
export function isActive(
  license: Pick<License, 'status' | 'issuedAt' | 'firstPlayedAt' | 'policy'>,
  now: number,
): boolean {
  return isHeldStatus(license.status) && computeExpiry({ ...license, lastCheckInAt: null }).expiresAt > now;
}
