import { type Command, decide, decideDeviceEvent, type RejectionCode } from './decide.js';
import { type DomainEvent, isDeviceEvent } from './events.js';
import type { RecordedEvent } from './explain.js';
import type { Plan, Policy } from './policy.js';
import { type AccountState, evolve, fold, hardExpiry, initialState, own } from './state.js';

/**
 * What a replay reads of a stored event: the domain event, when the server recorded it (epoch ms) and,
 * for an event a device recorded, when the server received it (the instant the merge judged it at).
 */
export type ReplayInput = Pick<RecordedEvent, 'event' | 'recordedAt' | 'receivedAt'>;

/**
 * A proposed rule change: fields of a title's policy (by title id) and of a plan (by plan id) that would
 * replace the ones in force. Fields left out keep their recorded values.
 */
export interface RuleChange {
  readonly titles?: Readonly<Record<string, Partial<Policy>>>;
  readonly plans?: Readonly<Record<string, Partial<Omit<Plan, 'planId'>>>>;
}

/** A grant (issue) the recorded history has and the proposed rules would refuse. */
export interface RefusedGrant {
  readonly licenseId: string;
  readonly deviceId: string;
  readonly titleId: string;
  /** When it was requested (epoch ms). */
  readonly at: number;
  readonly code: RejectionCode;
}

/** A renewal the recorded history has and the proposed rules would refuse. */
export interface RefusedRenewal {
  readonly licenseId: string;
  readonly titleId: string;
  readonly at: number;
  /** Which renewal of the licence it was (1 = the first). */
  readonly renewal: number;
  readonly code: RejectionCode;
}

/** A request the recorded history refused (a `LicenseRefused`) that the proposed rules would grant. */
export interface NewGrant {
  readonly request: 'issue' | 'renew';
  readonly licenseId: string;
  readonly titleId: string;
  readonly at: number;
  /** The code it was refused with. */
  readonly wasRefusedWith: RejectionCode;
}

/** A licence whose hard expiry (at the end of the history) would move. */
export interface ExpiryChange {
  readonly licenseId: string;
  readonly titleId: string;
  readonly actualExpiresAt: number;
  readonly proposedExpiresAt: number;
  /** `proposedExpiresAt − actualExpiresAt`: negative when it would expire earlier. */
  readonly deltaMs: number;
}

/** One line of a timeline: an event of the recorded or the proposed history. */
export interface TimelineEntry {
  readonly at: number;
  readonly type: DomainEvent['type'] | 'Refused';
  readonly licenseId?: string;
  readonly titleId?: string;
  /** For `Refused`: the code. For expiries and revocations: the reason. */
  readonly detail?: string;
}

/** What would differ for one account under the proposed rules. */
export interface ReplayOutcome {
  readonly accountId: string;
  readonly refusedGrants: readonly RefusedGrant[];
  readonly refusedRenewals: readonly RefusedRenewal[];
  readonly newGrants: readonly NewGrant[];
  readonly expiryChanges: readonly ExpiryChange[];
  /** The recorded and the proposed timelines, when asked for (`timelines: true`). */
  readonly actual?: readonly TimelineEntry[];
  readonly proposed?: readonly TimelineEntry[];
  /**
   * The events themselves, when timelines are asked for: the recorded history and the history the
   * proposed rules would have written (its refusals are in `proposed` only), in order, e.g. to draw both
   * with the licence timeline.
   */
  readonly actualEvents?: readonly DomainEvent[];
  readonly proposedEvents?: readonly DomainEvent[];
}

/** True when the outcome reports any difference. */
export function replayDiffers(outcome: ReplayOutcome): boolean {
  return (
    outcome.refusedGrants.length > 0 ||
    outcome.refusedRenewals.length > 0 ||
    outcome.newGrants.length > 0 ||
    outcome.expiryChanges.length > 0
  );
}

// Revocations a command produces on its own (deactivation, plan downgrade, withdrawal): the replay
// re-decides the command and skips the recorded ones.
const DERIVED_REVOCATIONS = new Set(['DEVICE_DEACTIVATED', 'LIMIT_CONFLICT', 'TITLE_WITHDRAWN']);

function entry(e: DomainEvent): TimelineEntry {
  const d = e.data as { at: number; licenseId?: string; titleId?: string; reason?: string; code?: string };
  return {
    at: d.at,
    type: e.type,
    ...(d.licenseId === undefined ? {} : { licenseId: d.licenseId }),
    ...(d.titleId === undefined ? {} : { titleId: d.titleId }),
    ...(d.reason !== undefined ? { detail: d.reason } : d.code !== undefined ? { detail: d.code } : {}),
  };
}

function licencesTouched(state: AccountState, e: DomainEvent): string[] {
  const d = e.data as { licenseId?: string; titleId?: string };
  if (e.type === 'TitleWithdrawn') {
    return Object.values(state.licenses)
      .filter((l) => l.titleId === d.titleId)
      .map((l) => l.licenseId);
  }
  return d.licenseId === undefined || e.type === 'LicenseRefused' ? [] : [d.licenseId];
}

/**
 * Re-decides one account's recorded history through the same `decide` and `decideDeviceEvent` the server
 * uses, with the policies and plans of `change`, and reports what would differ: grants and renewals
 * that would be refused (with the code), recorded refusals that would be granted, and licences whose
 * hard expiry would move (by how much). Every command is judged at its recorded instant; expiries are
 * decided as the server does, before each command; revocations that a deactivation, a plan change or a
 * withdrawal produce are re-derived, not copied. Events about a licence the proposed history never
 * granted are dropped. Pure: the same history and change give the same outcome.
 */
export function replayAccount(
  accountId: string,
  history: Iterable<ReplayInput>,
  change: RuleChange,
  options: { timelines?: boolean } = {},
): ReplayOutcome {
  const titles = change.titles ?? {};
  const plans = change.plans ?? {};
  const policyFor = (titleId: string, p: Policy): Policy => {
    const o = own(titles, titleId);
    return o === undefined ? p : { ...p, ...o };
  };
  const planFor = (p: Plan): Plan => {
    const o = own(plans, p.planId);
    return o === undefined ? p : { ...p, ...o };
  };

  let actual = initialState(accountId);
  let proposed = initialState(accountId);
  const actualExpiry = new Map<string, { titleId: string; expiresAt: number }>();
  const proposedExpiry = new Map<string, { titleId: string; expiresAt: number }>();
  const refusedGrants: RefusedGrant[] = [];
  const refusedRenewals: RefusedRenewal[] = [];
  const newGrants: NewGrant[] = [];
  const timelines = options.timelines === true;
  const actualLine: TimelineEntry[] = [];
  const proposedLine: TimelineEntry[] = [];
  const actualEvents: DomainEvent[] = [];
  const proposedEvents: DomainEvent[] = [];

  const note = (
    map: Map<string, { titleId: string; expiresAt: number }>,
    state: AccountState,
    ids: readonly string[],
  ) => {
    for (const id of ids) {
      const l = own(state.licenses, id);
      if (l !== undefined) map.set(id, { titleId: l.titleId, expiresAt: hardExpiry(l).expiresAt });
    }
  };
  const emit = (events: readonly DomainEvent[]) => {
    if (events.length === 0) return;
    proposed = fold(events, proposed);
    for (const e of events) {
      note(proposedExpiry, proposed, licencesTouched(proposed, e));
      if (timelines) {
        proposedLine.push(entry(e));
        proposedEvents.push(e);
      }
    }
  };
  const run = (command: Command) => {
    const d = decide(proposed, command);
    if (d.ok) emit(d.events);
    return d;
  };
  const expire = (now: number) => {
    const d = decide(proposed, { type: 'ExpireLicenses', now });
    if (d.ok) emit(d.events);
  };
  const refused = (at: number, code: RejectionCode, licenseId: string, titleId: string) => {
    if (timelines) proposedLine.push({ at, type: 'Refused', licenseId, titleId, detail: code });
  };

  for (const { event: e, recordedAt, receivedAt: received } of history) {
    const before = actual;
    actual = evolve(actual, e);
    note(actualExpiry, actual, licencesTouched(actual, e));
    if (timelines) {
      actualLine.push(entry(e));
      actualEvents.push(e);
    }

    const at = e.data.at;
    switch (e.type) {
      case 'AccountOpened':
        run({ type: 'OpenAccount', accountId: e.data.accountId, plan: planFor(e.data.plan), now: at });
        break;
      case 'AccountPlanChanged':
        expire(at);
        run({ type: 'ChangePlan', plan: planFor(e.data.plan), now: at });
        break;
      case 'DeviceRegistered':
        run({ type: 'RegisterDevice', deviceId: e.data.deviceId, name: e.data.name, now: at });
        break;
      case 'DeviceDeactivated':
        expire(at);
        run({ type: 'DeactivateDevice', deviceId: e.data.deviceId, now: at });
        break;
      case 'TitleWithdrawn':
        expire(at);
        run({
          type: 'WithdrawTitle',
          titleId: e.data.titleId,
          availableUntil: e.data.availableUntil,
          now: at,
        });
        break;
      case 'LicenseIssued': {
        expire(at);
        const { licenseId, deviceId, titleId } = e.data;
        const d = run({
          type: 'IssueLicense',
          licenseId,
          deviceId,
          titleId,
          policy: policyFor(titleId, e.data.policy),
          ...(e.data.policyVersion === undefined ? {} : { policyVersion: e.data.policyVersion }),
          now: at,
        });
        if (!d.ok) {
          refusedGrants.push({ licenseId, deviceId, titleId, at, code: d.rejection.code });
          refused(at, d.rejection.code, licenseId, titleId);
        }
        break;
      }
      case 'LicenseRenewed': {
        const license = own(before.licenses, e.data.licenseId);
        if (license === undefined || own(proposed.licenses, e.data.licenseId) === undefined) break;
        expire(at);
        const d = run({
          type: 'RenewLicense',
          licenseId: license.licenseId,
          deviceId: license.deviceId,
          now: at,
        });
        if (!d.ok) {
          refusedRenewals.push({
            licenseId: license.licenseId,
            titleId: license.titleId,
            at,
            renewal: e.data.renewal,
            code: d.rejection.code,
          });
          refused(at, d.rejection.code, license.licenseId, license.titleId);
        }
        break;
      }
      case 'LicenseReleased': {
        const license = own(before.licenses, e.data.licenseId);
        if (license === undefined || own(proposed.licenses, e.data.licenseId) === undefined) break;
        expire(at);
        run({ type: 'ReleaseLicense', licenseId: license.licenseId, deviceId: license.deviceId, now: at });
        break;
      }
      case 'LicenseRevoked':
        if (DERIVED_REVOCATIONS.has(e.data.reason)) break;
        if (own(proposed.licenses, e.data.licenseId) === undefined) break;
        expire(at);
        run({ type: 'RevokeLicense', licenseId: e.data.licenseId, reason: e.data.reason, now: at });
        break;
      case 'LicenseExpired':
        // Decided again before every command, and at the end.
        break;
      case 'LicenseRefused': {
        expire(at);
        const { licenseId, deviceId, titleId } = e.data;
        const d =
          e.data.request === 'issue'
            ? e.data.policy === undefined
              ? null
              : run({
                  type: 'IssueLicense',
                  licenseId,
                  deviceId,
                  titleId,
                  policy: policyFor(titleId, e.data.policy),
                  now: at,
                })
            : own(proposed.licenses, licenseId) === undefined
              ? null
              : run({ type: 'RenewLicense', licenseId, deviceId, now: at });
        if (d?.ok === true && d.events.length > 0) {
          newGrants.push({ request: e.data.request, licenseId, titleId, at, wasRefusedWith: e.data.code });
        } else if (timelines) {
          proposedLine.push(entry(e));
          proposedEvents.push(e);
        }
        break;
      }
      default:
        if (isDeviceEvent(e)) {
          if (own(proposed.licenses, (e.data as { licenseId?: string }).licenseId ?? '') === undefined) {
            if (e.type !== 'ClockRollbackDetected') break;
          }
          // Judged, as the merge did, at the server's instant of receipt (R19, R21), never at the device's
          // date. Events stored without it fall back to the recording time (the database's clock), no
          // earlier than the stored instant, which was already clamped to the receipt.
          const receivedAt = received ?? Math.max(recordedAt, at);
          const d = decideDeviceEvent(proposed, e, { deviceId: e.data.deviceId, receivedAt });
          if (d.ok) emit(d.events);
          else if (timelines) {
            const lid = (e.data as { licenseId?: string }).licenseId;
            proposedLine.push({
              at,
              type: 'Refused',
              ...(lid === undefined ? {} : { licenseId: lid }),
              detail: `${e.type}: ${d.rejection.code}`,
            });
          }
        }
    }
  }

  const expiryChanges: ExpiryChange[] = [];
  for (const [licenseId, a] of actualExpiry) {
    const p = proposedExpiry.get(licenseId);
    if (p === undefined || p.expiresAt === a.expiresAt) continue;
    expiryChanges.push({
      licenseId,
      titleId: a.titleId,
      actualExpiresAt: a.expiresAt,
      proposedExpiresAt: p.expiresAt,
      deltaMs: p.expiresAt - a.expiresAt,
    });
  }
  return {
    accountId,
    refusedGrants,
    refusedRenewals,
    newGrants,
    expiryChanges,
    ...(timelines ? { actual: actualLine, proposed: proposedLine, actualEvents, proposedEvents } : {}),
  };
}
