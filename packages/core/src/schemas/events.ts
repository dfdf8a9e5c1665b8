import * as z from 'zod/mini';
import { EventSchemaError } from '../errors.js';
import {
  CURRENT_EVENT_VERSIONS,
  type DomainEvent,
  type EventType,
  EXPIRY_REASONS,
  REVOCATION_REASONS,
  upcasters,
  type VersionedEvent,
} from '../events.js';
import { REJECTION_CODES } from '../rejections.js';
import { PlanSchema, PolicySchema } from './policy.js';

const id = () => z.string().check(z.minLength(1), z.maxLength(128));
const instant = () => z.int().check(z.nonnegative());

/** Current-version payload schemas, one per event type. */
export const eventDataSchemas = {
  // decided by the server
  AccountOpened: z.object({ accountId: id(), plan: PlanSchema, at: instant() }),
  AccountPlanChanged: z.object({ plan: PlanSchema, at: instant() }),
  DeviceRegistered: z.object({ deviceId: id(), name: z.string().check(z.maxLength(200)), at: instant() }),
  DeviceDeactivated: z.object({ deviceId: id(), at: instant() }),
  LicenseIssued: z.object({
    licenseId: id(),
    deviceId: id(),
    titleId: id(),
    policy: PolicySchema,
    /** The catalogue's version of the title's policy the licence was issued under (absent before versioning). */
    policyVersion: z.optional(z.int().check(z.positive())),
    at: instant(),
  }),
  LicenseRenewed: z.object({ licenseId: id(), at: instant(), renewal: z.int().check(z.positive()) }),
  LicenseReleased: z.object({ licenseId: id(), at: instant() }),
  LicenseRevoked: z.object({ licenseId: id(), at: instant(), reason: z.enum(REVOCATION_REASONS) }),
  LicenseExpired: z.object({ licenseId: id(), at: instant(), reason: z.enum(EXPIRY_REASONS) }),
  TitleWithdrawn: z.object({ titleId: id(), availableUntil: instant(), at: instant() }),
  /**
   * The server lost a device's events `fromSeq`…`toSeq` (e.g. restored from a backup) and the device no
   * longer holds them: the server re-based the device's sequence past them. The range is history now;
   * what those events did is not known.
   */
  DeviceHistoryRebased: z.object({
    deviceId: id(),
    fromSeq: z.int().check(z.positive()),
    toSeq: z.int().check(z.positive()),
    at: instant(),
  }),
  /**
   * A licence request or renewal the rules refused (R24): what was asked, by which device, and the code.
   * `policy` is the title's policy the request was judged under (issues only), so a replay can judge
   * the same request again. Changes no licence; bounded per account (`REFUSAL_QUOTA`).
   */
  LicenseRefused: z.object({
    request: z.enum(['issue', 'renew']),
    licenseId: id(),
    deviceId: id(),
    titleId: id(),
    policy: z.optional(PolicySchema),
    code: z.enum(REJECTION_CODES),
    at: instant(),
  }),
  // recorded on the device, possibly offline
  DownloadCompleted: z.object({ licenseId: id(), deviceId: id(), at: instant() }),
  PlaybackStarted: z.object({
    licenseId: id(),
    deviceId: id(),
    at: instant(),
    positionMs: z.int().check(z.nonnegative()),
  }),
  PlaybackStopped: z.object({
    licenseId: id(),
    deviceId: id(),
    at: instant(),
    positionMs: z.int().check(z.nonnegative()),
  }),
  DownloadDeleted: z.object({ licenseId: id(), deviceId: id(), at: instant() }),
  ClockRollbackDetected: z.object({
    deviceId: id(),
    at: instant(),
    wallClockAt: z.int(),
    behindMs: z.int().check(z.positive()),
  }),
  LicenseExpiryObserved: z.object({
    licenseId: id(),
    deviceId: id(),
    at: instant(),
    reason: z.enum(EXPIRY_REASONS),
  }),
} as const satisfies { readonly [K in EventType]: z.ZodMiniType };

function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventDataSchemas, type);
}

/**
 * Reads an event of any known schema version: upcasts it step by step to the current version and
 * validates the result.
 * @throws {EventSchemaError} `UNKNOWN_EVENT_TYPE`, `UNSUPPORTED_EVENT_VERSION` (newer than this
 * code, or below 1) or `INVALID_EVENT` (the payload does not match its schema).
 */
export function upcast(event: VersionedEvent): DomainEvent {
  const { type, v } = event;
  if (!isEventType(type)) {
    throw new EventSchemaError('UNKNOWN_EVENT_TYPE', `Unknown event type '${String(type).slice(0, 64)}'`, {
      type: String(type).slice(0, 64),
    });
  }
  const current = CURRENT_EVENT_VERSIONS[type];
  if (!Number.isInteger(v) || v < 1 || v > current) {
    throw new EventSchemaError(
      'UNSUPPORTED_EVENT_VERSION',
      `${type} v${String(v)} is not readable by this code (current v${current})`,
      { type, v, current },
    );
  }
  let data = event.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new EventSchemaError('INVALID_EVENT', `${type} payload must be an object`, { type });
  }
  for (let version = v; version < current; version++) {
    const step = upcasters[type]?.[version];
    if (step === undefined)
      throw new EventSchemaError('UNSUPPORTED_EVENT_VERSION', `No upcaster for ${type} v${version}`);
    data = step(data);
  }
  const parsed = eventDataSchemas[type].safeParse(data);
  if (!parsed.success) {
    throw new EventSchemaError(
      'INVALID_EVENT',
      `${type} payload is invalid: ${summarise(parsed.error.issues)}`,
      {
        type,
        issues: parsed.error.issues.map((issue) => ({ path: issue.path.map(String), code: issue.code })),
      },
    );
  }
  return { type, data: parsed.data } as DomainEvent;
}

/**
 * Reads an event the server itself stored: one at the current schema version was validated before it
 * was appended and is taken as it is — each event is validated once, not at every load of its account;
 * an older one is upcast and validated as {@link upcast} does.
 * @throws {EventSchemaError} as {@link upcast} does (an unknown type, a version newer than this code, a
 * payload that is not an object).
 */
export function upcastStored(event: VersionedEvent): DomainEvent {
  const { type, v, data } = event;
  if (isEventType(type) && v === CURRENT_EVENT_VERSIONS[type] && typeof data === 'object' && data !== null) {
    return { type, data } as DomainEvent;
  }
  return upcast(event);
}

function summarise(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
