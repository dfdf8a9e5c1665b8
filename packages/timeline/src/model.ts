import {
  computeExpiry,
  type DomainEvent,
  type ExpiryReason,
  expiryBounds,
  fold,
  initialState,
  type RecordedEvent,
} from '@satchel/core';

/** What a mark on a lane stands for. */
export const TIMELINE_MARK_KINDS = [
  'opened',
  'plan',
  'withdrawn',
  'registered',
  'deactivated',
  'check-in',
  'rollback',
  'issued',
  'renewed',
  'downloaded',
  'first-play',
  'bound',
  'expiry',
  'observed',
  'expired',
  'revoked',
  'released',
  'play',
  'play-refused',
  'clock-set',
] as const;
export type TimelineMarkKind = (typeof TIMELINE_MARK_KINDS)[number];

/** One instant on a lane. */
export interface TimelineMark {
  readonly at: number;
  readonly kind: TimelineMarkKind;
  /** A short text for people ("first play", "playback window ends"). */
  readonly label: string;
  /** The event behind the mark, or `null` for a computed instant (a bound). */
  readonly eventId: string | null;
  /** For `bound` and `expiry` marks: the rule. */
  readonly reason?: ExpiryReason;
}

/** A stretch of time on a lane: a licence's term, a playback window, a device's registration. */
export interface TimelineSpan {
  readonly from: number;
  readonly to: number;
  readonly kind: 'term' | 'window' | 'registered';
  /** True when the span's end is its expiry bound, not a recorded end. */
  readonly open: boolean;
}

/** One row: the account, a device or a licence. */
export interface TimelineLane {
  /** `account`, the device id or the licence id. */
  readonly id: string;
  readonly kind: 'account' | 'device' | 'license';
  /** The device of a device or licence lane; `null` for the account lane. */
  readonly deviceId: string | null;
  readonly label: string;
  /** A second line: a licence's device and status, a device's id. */
  readonly detail: string;
  readonly spans: readonly TimelineSpan[];
  readonly marks: readonly TimelineMark[];
}

/** An account's history laid out on lanes between `from` and `to` (epoch ms). */
export interface TimelineModel {
  readonly accountId: string;
  readonly from: number;
  readonly to: number;
  readonly lanes: readonly TimelineLane[];
}

/** Options of {@link buildTimeline}. */
export interface TimelineOptions {
  /** Start of the axis (default: the first event, or `to` minus a day). */
  readonly from?: number;
  /** End of the axis (default: the latest instant of the history: events and bounds, capped at a year past the last event). */
  readonly to?: number;
  /** People's names for titles, by id. */
  readonly titles?: Readonly<Record<string, string>>;
  /** Latest sync per device (the server's cursor), drawn as a check-in. */
  readonly lastSyncs?: Readonly<Record<string, number>>;
  /** More check-ins per device (e.g. syncs a simulator recorded), drawn like the ones the stream shows. */
  readonly checkIns?: Readonly<Record<string, readonly number[]>>;
  /**
   * Marks the stream does not hold, by lane id (a device id or a licence id): what a device saw, e.g.
   * `play`, `play-refused` or `clock-set` from a simulator's or a player's own log.
   */
  readonly extraMarks?: Readonly<Record<string, readonly TimelineMark[]>>;
}

const BOUND_LABEL: Record<ExpiryReason, string> = {
  RENTAL: 'rental window ends',
  PLAYBACK_WINDOW: 'playback window ends',
  LICENSE_DURATION: 'licence duration ends',
  CHECK_IN: 'check-in due',
  AVAILABILITY: 'title leaves the catalogue',
};

const DAY = 86_400_000;

/**
 * Lays out an account's stream (core's `RecordedEvent`s, in stream order) on lanes: one for the account
 * (opened, plan changes, withdrawals), one per device (registered, check-ins = syncs the server received,
 * clock rollbacks, deactivation) and one per licence (issued, renewed, downloaded, first play, every
 * expiry bound with the binding one marked `expiry`, expiry observed by the device, and the end:
 * expired, revoked or released). A licence's bounds come from core's `fold` and `expiryBounds` over that
 * licence's own events — the rules are core's, not the timeline's. Pure.
 */
export function buildTimeline(
  accountId: string,
  history: readonly RecordedEvent[],
  options: TimelineOptions = {},
): TimelineModel {
  const account: TimelineMark[] = [];
  const devices = new Map<string, { name: string; marks: TimelineMark[]; from: number; to: number | null }>();
  const licenseEvents = new Map<string, RecordedEvent[]>();
  const withdrawals = new Map<string, RecordedEvent[]>();
  const titles = options.titles ?? {};
  const device = (deviceId: string) => {
    let d = devices.get(deviceId);
    if (d === undefined) {
      d = { name: deviceId, marks: [], from: Number.POSITIVE_INFINITY, to: null };
      devices.set(deviceId, d);
    }
    return d;
  };
  const checkIns = new Map<string, Set<number>>();
  let latest = Number.NEGATIVE_INFINITY;
  let earliest = Number.POSITIVE_INFINITY;

  for (const r of history) {
    const e: DomainEvent = r.event;
    const at = e.data.at;
    latest = Math.max(latest, at, r.recordedAt);
    earliest = Math.min(earliest, at);
    const mark = (kind: TimelineMarkKind, label: string): TimelineMark => ({
      at,
      kind,
      label,
      eventId: r.eventId,
    });
    switch (e.type) {
      case 'AccountOpened':
        account.push(mark('opened', `opened on plan ${e.data.plan.planId}`));
        break;
      case 'AccountPlanChanged':
        account.push(mark('plan', `plan ${e.data.plan.planId} (${e.data.plan.maxDownloadDevices} devices)`));
        break;
      case 'TitleWithdrawn':
        account.push(mark('withdrawn', `${titles[e.data.titleId] ?? e.data.titleId} withdrawn`));
        withdrawals.set(e.data.titleId, [...(withdrawals.get(e.data.titleId) ?? []), r]);
        break;
      case 'DeviceRegistered': {
        const d = device(e.data.deviceId);
        d.name = e.data.name;
        d.from = Math.min(d.from, at);
        d.marks.push(mark('registered', 'registered'));
        break;
      }
      case 'DeviceDeactivated': {
        const d = device(e.data.deviceId);
        d.to = at;
        d.marks.push(mark('deactivated', 'deactivated'));
        break;
      }
      case 'ClockRollbackDetected':
        device(e.data.deviceId).marks.push(
          mark('rollback', `clock ${Math.round(e.data.behindMs / 1000)} s behind`),
        );
        break;
      default:
        break;
    }
    if ('licenseId' in e.data) {
      const id = (e.data as { licenseId: string }).licenseId;
      licenseEvents.set(id, [...(licenseEvents.get(id) ?? []), r]);
    }
    if (r.deviceId !== null) {
      const seen = checkIns.get(r.deviceId) ?? new Set<number>();
      if (!seen.has(r.recordedAt)) {
        seen.add(r.recordedAt);
        device(r.deviceId).marks.push({
          at: r.recordedAt,
          kind: 'check-in',
          label: 'sync',
          eventId: r.eventId,
        });
      }
      checkIns.set(r.deviceId, seen);
    }
  }
  const syncs: [string, number, string][] = Object.entries(options.checkIns ?? {}).flatMap(
    ([deviceId, instants]) => instants.map((at): [string, number, string] => [deviceId, at, 'sync']),
  );
  for (const [deviceId, at] of Object.entries(options.lastSyncs ?? {}))
    syncs.push([deviceId, at, 'last sync']);
  for (const [deviceId, at, label] of syncs) {
    const seen = checkIns.get(deviceId) ?? new Set<number>();
    if (!seen.has(at) && devices.has(deviceId)) {
      seen.add(at);
      checkIns.set(deviceId, seen);
      device(deviceId).marks.push({ at, kind: 'check-in', label, eventId: null });
      latest = Math.max(latest, at);
    }
  }

  const licenseLanes: TimelineLane[] = [];
  let horizon = latest;
  for (const [licenseId, events] of licenseEvents) {
    const issued = events.find((r) => r.event.type === 'LicenseIssued');
    if (issued === undefined || issued.event.type !== 'LicenseIssued') continue;
    const { titleId, deviceId } = issued.event.data;
    const own = [...events, ...(withdrawals.get(titleId) ?? [])].sort((a, b) => a.version - b.version);
    const license = fold(
      own.map((r) => r.event),
      initialState(accountId),
    ).licenses[licenseId];
    if (license === undefined) continue;
    const marks: TimelineMark[] = [];
    for (const r of events) {
      const e = r.event;
      const m = (kind: TimelineMarkKind, label: string): TimelineMark => ({
        at: e.data.at,
        kind,
        label,
        eventId: r.eventId,
      });
      if (e.type === 'LicenseIssued') marks.push(m('issued', 'issued'));
      else if (e.type === 'LicenseRenewed') marks.push(m('renewed', `renewal ${e.data.renewal}`));
      else if (e.type === 'DownloadCompleted') marks.push(m('downloaded', 'downloaded'));
      else if (e.type === 'PlaybackStarted' && e.data.at === license.firstPlayedAt)
        marks.push(m('first-play', 'first play'));
      else if (e.type === 'LicenseExpiryObserved')
        marks.push({ ...m('observed', `device saw it expire (${e.data.reason})`), reason: e.data.reason });
      else if (e.type === 'LicenseExpired')
        marks.push({ ...m('expired', `expired (${e.data.reason})`), reason: e.data.reason });
      else if (e.type === 'LicenseRevoked') marks.push(m('revoked', `revoked (${e.data.reason})`));
      else if (e.type === 'LicenseReleased' || e.type === 'DownloadDeleted')
        marks.push(m('released', 'released'));
    }
    const terms = { ...license, lastCheckInAt: null };
    const bounds = expiryBounds(terms).sort((a, b) => a.at - b.at);
    const { reason: bindingReason } = computeExpiry(terms);
    const binding = bounds.find((b) => b.reason === bindingReason);
    const end = license.endedAt ?? binding?.at ?? license.issuedAt;
    for (const bound of bounds) {
      if (bound.at - license.issuedAt > 2 * 366 * DAY) continue;
      const isBinding = bound === binding && license.endedAt === null;
      marks.push({
        at: bound.at,
        kind: isBinding ? 'expiry' : 'bound',
        label: isBinding ? `expires: ${BOUND_LABEL[bound.reason]}` : BOUND_LABEL[bound.reason],
        eventId: null,
        reason: bound.reason,
      });
      horizon = Math.max(horizon, Math.min(bound.at, latest + 366 * DAY));
    }
    const spans: TimelineSpan[] = [
      { from: license.firstIssuedAt, to: end, kind: 'term', open: license.endedAt === null },
    ];
    if (license.firstPlayedAt !== null) {
      const windowEnd = bounds.find((b) => b.reason === 'PLAYBACK_WINDOW')?.at ?? end;
      spans.push({ from: license.firstPlayedAt, to: Math.min(windowEnd, end), kind: 'window', open: false });
    }
    const deviceName = devices.get(deviceId)?.name ?? deviceId;
    licenseLanes.push({
      id: licenseId,
      kind: 'license',
      deviceId,
      label: titles[titleId] ?? titleId,
      detail: `${deviceName} · ${license.status}${license.statusReason ? ` (${license.statusReason})` : ''}`,
      spans,
      marks: marks.sort((a, b) => a.at - b.at),
    });
  }

  const to = options.to ?? (Number.isFinite(horizon) ? horizon : Date.now());
  const from = options.from ?? (Number.isFinite(earliest) ? earliest : to - DAY);
  const lanes: TimelineLane[] = [
    {
      id: 'account',
      kind: 'account',
      deviceId: null,
      label: accountId,
      detail: 'account',
      spans: [],
      marks: account,
    },
    ...[...devices.entries()].map(
      ([deviceId, d]): TimelineLane => ({
        id: deviceId,
        kind: 'device',
        deviceId,
        label: d.name,
        detail: `device ${deviceId}`,
        spans: Number.isFinite(d.from)
          ? [{ from: d.from, to: d.to ?? to, kind: 'registered', open: d.to === null }]
          : [],
        marks: d.marks.sort((a, b) => a.at - b.at),
      }),
    ),
    ...licenseLanes.sort((a, b) => (a.spans[0]?.from ?? 0) - (b.spans[0]?.from ?? 0)),
  ];
  const extra = options.extraMarks ?? {};
  const withExtra = lanes.map((lane) =>
    Object.hasOwn(extra, lane.id)
      ? { ...lane, marks: [...lane.marks, ...(extra[lane.id] ?? [])].sort((a, b) => a.at - b.at) }
      : lane,
  );
  return { accountId, from, to: Math.max(to, from + 1), lanes: withExtra };
}
