import { activeLicenses, type DownloadAllowance, decide, downloadAllowance } from './decide.js';
import type { DomainEvent, EventType, ExpiryReason } from './events.js';
import { computeExpiry, type ExpiryBound, expiryBounds, type LicenseStatus } from './expiry.js';
import type { Plan, Policy } from './policy.js';
import { type AccountState, fold, initialState, type License, own } from './state.js';
import { MONTH_WINDOW_MS, YEAR_WINDOW_MS } from './time.js';

/** An event of an account's stream as the store returns it: the domain event and where it sits. */
export interface RecordedEvent {
  readonly event: DomainEvent;
  readonly eventId: string;
  /** The stream version (1-based position in the account's stream). */
  readonly version: number;
  /** When the server appended it (epoch ms). */
  readonly recordedAt: number;
  /** The device whose sync carried it, or `null` for an event the server decided. */
  readonly deviceId: string | null;
  /**
   * For an event a device recorded: the server's instant when the merge received and judged it (epoch ms),
   * when the store has it. `recordedAt` is the database's clock, which may differ from the server's.
   */
  readonly receivedAt?: number;
}

/** A pointer to one event, enough for a person to find it in the history. */
export interface EventRef {
  readonly eventId: string;
  readonly version: number;
  readonly type: EventType;
  /** The instant the event carries (`data.at`). */
  readonly at: number;
  readonly recordedAt: number;
}

/**
 * Which instant selects the events of a state at `at`: `occurred` (default) takes every event whose own
 * instant is at or before `at` — what had happened, including what a device recorded offline and synced
 * later; `recorded` takes every event the server had appended by `at` — what the server knew.
 */
export type ExplainBasis = 'occurred' | 'recorded';

/** Why a licence is in its state at the instant. */
export interface LicenseExplanation {
  readonly licenseId: string;
  readonly titleId: string;
  readonly deviceId: string;
  /** The status the rules give it at the instant (an expiry not yet recorded counts: R10). */
  readonly status: LicenseStatus;
  /** Why a final status: the revocation reason or the bound that expired it. */
  readonly statusReason: string | null;
  /** True when the device may play it at the instant (downloaded, before its expiry, check-in included). */
  readonly playable: boolean;
  /** The policy it was issued under (with a later withdrawal's `availableUntil`), and its catalogue version. */
  readonly policy: Policy;
  readonly policyVersion: number | null;
  readonly issuedAt: number;
  readonly firstIssuedAt: number;
  readonly downloadedAt: number | null;
  readonly firstPlayedAt: number | null;
  readonly renewals: number;
  readonly endedAt: number | null;
  /** The expiry with the device's last check-in before the instant, and the bound that binds it. */
  readonly expiresAt: number;
  readonly bound: ExpiryReason;
  /** Every bound that applies, earliest first. */
  readonly bounds: readonly ExpiryBound[];
  /** The rule in words: which bound, from which policy field. */
  readonly rule: string;
  /** The events that set what explains the status: the end, or the binding bound's inputs. */
  readonly setBy: readonly EventRef[];
  /** True when the status is the rules' verdict at the instant but no event records it yet. */
  readonly pending: boolean;
  /** Every event about this licence up to the instant, oldest first. */
  readonly events: readonly EventRef[];
}

/** One counted download of a limited title, and when it stops counting. */
export interface AllowanceUse {
  readonly at: number;
  readonly freesAt: number;
  readonly event: EventRef | null;
}

/** The yearly allowance of a limited title at the instant, with each counted use. */
export interface AllowanceExplanation extends DownloadAllowance {
  readonly uses: readonly AllowanceUse[];
}

/** The plan's download-device slots at the instant. */
export interface SlotsExplanation {
  readonly maxDownloadDevices: number;
  readonly maxDownloadsPerDevice: number;
  readonly maxDownloadsPerMonth: number | null;
  /** Downloads counted in the 30 days ending at the instant (all titles). */
  readonly downloadsThisMonth: number;
  /** Devices holding at least one active licence, with those licences, first holder first. */
  readonly holders: ReadonlyArray<{ readonly deviceId: string; readonly licenseIds: readonly string[] }>;
}

/** A device at the instant. */
export interface DeviceExplanation {
  readonly deviceId: string;
  readonly name: string;
  readonly status: 'active' | 'deactivated';
  readonly registeredAt: number;
  readonly deactivatedAt: number | null;
  /** The device's last check-in at or before the instant (it received an authoritative snapshot). */
  readonly lastCheckInAt: number | null;
  readonly lastCheckInBy: EventRef | null;
  /** The device's last sync at or before the instant, where known. */
  readonly lastSyncAt: number | null;
  readonly clockRollbacks: number;
}

/** A clock rollback a device reported. */
export interface RollbackExplanation {
  readonly deviceId: string;
  readonly at: number;
  readonly wallClockAt: number;
  readonly behindMs: number;
  readonly event: EventRef;
}

/** An account at an instant, and the reasons for it. */
export interface AccountExplanation {
  readonly accountId: string;
  readonly at: number;
  readonly basis: ExplainBasis;
  /** False before the account was opened: nothing else is filled then. */
  readonly exists: boolean;
  readonly version: number;
  readonly plan: Plan | null;
  readonly planSetBy: EventRef | null;
  readonly devices: readonly DeviceExplanation[];
  readonly licenses: readonly LicenseExplanation[];
  readonly allowances: readonly AllowanceExplanation[];
  readonly slots: SlotsExplanation | null;
  readonly clockRollbacks: readonly RollbackExplanation[];
}

/** What {@link explainAccount} needs besides the history. */
export interface ExplainOptions {
  readonly basis?: ExplainBasis;
  /** The catalogue's current policy of limited titles (their allowance is shown even when unused). */
  readonly policies?: ReadonlyMap<string, Pick<Policy, 'maxDownloadsPerYear'>>;
  /** The latest sync per device the server knows of (its cursor), used when at or before the instant. */
  readonly lastSyncs?: Readonly<Record<string, number>>;
}

const ref = (e: RecordedEvent): EventRef => ({
  eventId: e.eventId,
  version: e.version,
  type: e.event.type,
  at: e.event.data.at,
  recordedAt: e.recordedAt,
});

const licenseIdOf = (event: DomainEvent): string | null =>
  'licenseId' in event.data ? (event.data as { licenseId: string }).licenseId : null;

const HOURS = (sec: number) =>
  sec % 86_400 === 0 && sec >= 3 * 86_400
    ? `${sec / 86_400} d`
    : sec % 3600 === 0
      ? `${sec / 3600} h`
      : `${sec} s`;

function ruleText(reason: ExpiryReason, policy: Policy): string {
  switch (reason) {
    case 'RENTAL':
      return `rental window: playback must start within ${HOURS(policy.rentalDurationSec)} of issue (policy.rentalDurationSec)`;
    case 'PLAYBACK_WINDOW':
      return `playback window: ${HOURS(policy.playbackDurationSec)} after the first playback (policy.playbackDurationSec)`;
    case 'LICENSE_DURATION':
      return `licence duration: ${HOURS(policy.licenseDurationSec)} after issue (policy.licenseDurationSec)`;
    case 'CHECK_IN':
      return `offline check-in: the device must sync every ${HOURS(policy.offlineCheckInSec)} (policy.offlineCheckInSec)`;
    case 'AVAILABILITY':
      return 'availability: the title leaves the catalogue (policy.availableUntil or a withdrawal)';
  }
}

/**
 * The account as it was at `at`, with the reasons: the same `fold` and `decide` the server runs (the
 * server's `ExpireLicenses` at `at` included), plus which events set each licence's binding bound, the
 * allowances and their uses, the slots, the devices' check-ins and the clock rollbacks. Pure; `history`
 * is the account's stream in order.
 */
export function explainAccount(
  accountId: string,
  history: readonly RecordedEvent[],
  at: number,
  options: ExplainOptions = {},
): AccountExplanation {
  const basis = options.basis ?? 'occurred';
  const selected = history.filter((e) => (basis === 'occurred' ? e.event.data.at : e.recordedAt) <= at);
  let state: AccountState = fold(
    selected.map((e) => e.event),
    initialState(accountId),
  );
  if (!state.opened) {
    return {
      accountId,
      at,
      basis,
      exists: false,
      version: state.version,
      plan: null,
      planSetBy: null,
      devices: [],
      licenses: [],
      allowances: [],
      slots: null,
      clockRollbacks: [],
    };
  }
  const recorded = new Set(
    Object.values(state.licenses)
      .filter((l) => l.status === 'expired')
      .map((l) => l.licenseId),
  );
  const expiring = decide(state, { type: 'ExpireLicenses', now: at });
  if (expiring.ok && expiring.events.length > 0) state = fold(expiring.events, state);

  let planSetBy: EventRef | null = null;
  const byLicense = new Map<string, RecordedEvent[]>();
  const checkIns = new Map<string, RecordedEvent[]>();
  const withdrawals = new Map<string, RecordedEvent>();
  const rollbacks: RollbackExplanation[] = [];
  const grants = new Map<string, RecordedEvent[]>();
  const licenseDevice = new Map<string, string>();
  const checkIn = (deviceId: string, e: RecordedEvent) =>
    checkIns.set(deviceId, [...(checkIns.get(deviceId) ?? []), e]);
  for (const e of selected) {
    const { event } = e;
    if (event.type === 'AccountOpened' || event.type === 'AccountPlanChanged') planSetBy = ref(e);
    if (event.type === 'TitleWithdrawn') withdrawals.set(event.data.titleId, e);
    if (event.type === 'DeviceRegistered') checkIn(event.data.deviceId, e);
    if (event.type === 'LicenseIssued') {
      licenseDevice.set(event.data.licenseId, event.data.deviceId);
      grants.set(event.data.titleId, [...(grants.get(event.data.titleId) ?? []), e]);
    }
    const licenseId = licenseIdOf(event);
    if (licenseId !== null) byLicense.set(licenseId, [...(byLicense.get(licenseId) ?? []), e]);
    if (event.type === 'LicenseRenewed' || event.type === 'LicenseReleased') {
      const title = byLicense.get(licenseId ?? '')?.[0];
      if (event.type === 'LicenseRenewed' && title?.event.type === 'LicenseIssued') {
        grants.set(title.event.data.titleId, [...(grants.get(title.event.data.titleId) ?? []), e]);
      }
    }
    // A licence request answered with a snapshot is a check-in of the device that asked.
    if (
      event.type === 'LicenseIssued' ||
      event.type === 'LicenseRenewed' ||
      event.type === 'LicenseReleased'
    ) {
      const deviceId = licenseDevice.get(licenseId ?? '');
      if (deviceId !== undefined && e.deviceId === null) checkIn(deviceId, e);
    }
    // A device's sync is a check-in when the server received it.
    if (e.deviceId !== null && e.recordedAt <= at) checkIn(e.deviceId, e);
    if (event.type === 'ClockRollbackDetected') {
      rollbacks.push({
        deviceId: event.data.deviceId,
        at: event.data.at,
        wallClockAt: event.data.wallClockAt,
        behindMs: event.data.behindMs,
        event: ref(e),
      });
    }
  }

  const lastCheckIn = (deviceId: string): { at: number; by: EventRef | null } | null => {
    let best: { at: number; by: EventRef | null } | null = null;
    for (const e of checkIns.get(deviceId) ?? []) {
      const instant = e.deviceId !== null ? e.recordedAt : e.event.data.at;
      if (instant <= at && (best === null || instant >= best.at)) best = { at: instant, by: ref(e) };
    }
    const synced = options.lastSyncs?.[deviceId];
    if (synced !== undefined && synced <= at && (best === null || synced > best.at))
      best = { at: synced, by: null };
    return best;
  };

  const licenses = Object.values(state.licenses)
    .sort((a, b) => a.firstIssuedAt - b.firstIssuedAt || (a.licenseId < b.licenseId ? -1 : 1))
    .map((license) => explainLicense(license));

  function explainLicense(license: License): LicenseExplanation {
    const events = (byLicense.get(license.licenseId) ?? []).map(ref);
    const own_ = byLicense.get(license.licenseId) ?? [];
    const issued = own_.find((e) => e.event.type === 'LicenseIssued');
    const checkedIn = lastCheckIn(license.deviceId);
    const terms = { ...license, lastCheckInAt: checkedIn?.at ?? null };
    const expiry = computeExpiry(terms);
    const bounds = expiryBounds(terms).sort((a, b) => a.at - b.at);
    const term = [...own_]
      .reverse()
      .find((e) => e.event.type === 'LicenseIssued' || e.event.type === 'LicenseRenewed');
    const firstPlay = own_.find(
      (e) => e.event.type === 'PlaybackStarted' && e.event.data.at === license.firstPlayedAt,
    );
    const withdrawn = withdrawals.get(license.titleId);
    const boundBy = (reason: ExpiryReason): EventRef[] => {
      const refs: (RecordedEvent | undefined)[] =
        reason === 'PLAYBACK_WINDOW'
          ? [term, firstPlay]
          : reason === 'AVAILABILITY'
            ? [withdrawn ?? term]
            : reason === 'CHECK_IN'
              ? []
              : [term];
      const out = refs.filter((e): e is RecordedEvent => e !== undefined).map(ref);
      if (reason === 'CHECK_IN' && checkedIn?.by) out.push(checkedIn.by);
      return out;
    };
    const final =
      license.status === 'released' || license.status === 'revoked' || license.status === 'expired';
    const end = final
      ? [...own_]
          .reverse()
          .find((e) =>
            ['LicenseReleased', 'DownloadDeleted', 'LicenseRevoked', 'LicenseExpired'].includes(e.event.type),
          )
      : undefined;
    const observed = own_.filter((e) => e.event.type === 'LicenseExpiryObserved');
    const pending = license.status === 'expired' && !recorded.has(license.licenseId);
    let status: LicenseStatus = license.status;
    let statusReason: string | null = license.statusReason;
    let binding: ExpiryReason = expiry.reason;
    let setBy: EventRef[];
    if (license.status === 'expired') {
      binding = (license.statusReason as ExpiryReason | null) ?? expiry.reason;
      setBy = [...(end ? [ref(end)] : []), ...boundBy(binding), ...observed.map(ref)];
    } else if (final) {
      setBy = [...(end ? [ref(end)] : []), ...observed.map(ref)];
    } else if (expiry.expiresAt <= at) {
      // Only the check-in bound can pass without a recorded expiry: the device stops, the server does not.
      status = 'expired';
      statusReason = expiry.reason;
      setBy = [...boundBy(expiry.reason), ...observed.map(ref)];
    } else {
      setBy = boundBy(expiry.reason);
    }
    const rule =
      final && license.status !== 'expired'
        ? `${license.status}${license.statusReason ? ` (${license.statusReason})` : ''}`
        : ruleText(binding, license.policy);
    return {
      licenseId: license.licenseId,
      titleId: license.titleId,
      deviceId: license.deviceId,
      status,
      statusReason,
      playable: status === 'downloaded' && at < expiry.expiresAt,
      policy: license.policy,
      policyVersion:
        issued?.event.type === 'LicenseIssued' ? (issued.event.data.policyVersion ?? null) : null,
      issuedAt: license.issuedAt,
      firstIssuedAt: license.firstIssuedAt,
      downloadedAt: license.downloadedAt,
      firstPlayedAt: license.firstPlayedAt,
      renewals: license.renewals,
      endedAt: license.endedAt,
      expiresAt:
        license.status === 'expired' && license.endedAt !== null ? license.endedAt : expiry.expiresAt,
      bound: binding,
      bounds,
      rule,
      setBy,
      pending: pending || status !== license.status,
      events,
    };
  }

  const titles = new Set([...(options.policies?.keys() ?? []), ...Object.keys(state.grants)]);
  const allowances: AllowanceExplanation[] = [];
  for (const titleId of [...titles].sort()) {
    const policy =
      options.policies?.get(titleId) ??
      Object.values(state.licenses)
        .filter((l) => l.titleId === titleId)
        .sort((a, b) => b.issuedAt - a.issuedAt)[0]?.policy;
    if (policy === undefined || policy.maxDownloadsPerYear === null) continue;
    const allowance = downloadAllowance(state, titleId, policy, at);
    const counted = (own(state.grants, titleId) ?? []).filter((t) => t > at - YEAR_WINDOW_MS && t <= at);
    const refs = grants.get(titleId) ?? [];
    allowances.push({
      ...allowance,
      uses: [...counted]
        .sort((a, b) => a - b)
        .map((t) => {
          const e = refs.find((r) => r.event.data.at === t);
          return { at: t, freesAt: t + YEAR_WINDOW_MS, event: e ? ref(e) : null };
        }),
    });
  }

  const active = activeLicenses(state, at);
  const holders: { deviceId: string; licenseIds: string[] }[] = [];
  for (const license of active) {
    const holder = holders.find((h) => h.deviceId === license.deviceId);
    if (holder) holder.licenseIds.push(license.licenseId);
    else holders.push({ deviceId: license.deviceId, licenseIds: [license.licenseId] });
  }
  const downloadsThisMonth = Object.values(state.grants)
    .flat()
    .filter((t) => t > at - MONTH_WINDOW_MS && t <= at).length;

  const devices = Object.values(state.devices).map((device): DeviceExplanation => {
    const checkedIn = lastCheckIn(device.deviceId);
    const synced = (checkIns.get(device.deviceId) ?? [])
      .filter((e) => e.deviceId !== null && e.recordedAt <= at)
      .map((e) => e.recordedAt);
    const cursor = options.lastSyncs?.[device.deviceId];
    if (cursor !== undefined && cursor <= at) synced.push(cursor);
    return {
      deviceId: device.deviceId,
      name: device.name,
      status: device.status,
      registeredAt: device.registeredAt,
      deactivatedAt: device.deactivatedAt,
      lastCheckInAt: checkedIn?.at ?? null,
      lastCheckInBy: checkedIn?.by ?? null,
      lastSyncAt: synced.length > 0 ? Math.max(...synced) : null,
      clockRollbacks: rollbacks.filter((r) => r.deviceId === device.deviceId).length,
    };
  });

  return {
    accountId,
    at,
    basis,
    exists: true,
    version: state.version,
    plan: state.plan,
    planSetBy,
    devices,
    licenses,
    allowances,
    slots: {
      maxDownloadDevices: state.plan.maxDownloadDevices,
      maxDownloadsPerDevice: state.plan.maxDownloadsPerDevice,
      maxDownloadsPerMonth: state.plan.maxDownloadsPerMonth,
      downloadsThisMonth,
      holders,
    },
    clockRollbacks: rollbacks,
  };
}
