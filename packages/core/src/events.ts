import * as z from 'zod/mini';
import { EventSchemaError } from './errors.js';
import { PlanSchema, PolicySchema } from './policy.js';

const id = () => z.string().check(z.minLength(1), z.maxLength(128));
const instant = () => z.int().check(z.nonnegative());

/** Why the server revoked a licence. */
export const REVOCATION_REASONS = [
  'DEVICE_DEACTIVATED',
  'TITLE_WITHDRAWN',
  'LIMIT_CONFLICT',
  'ADMIN',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** Which bound of the expiry formula binds (docs/domain.md, "Expiry"). */
export const EXPIRY_REASONS = [
  'RENTAL',
  'PLAYBACK_WINDOW',
  'LICENSE_DURATION',
  'CHECK_IN',
  'AVAILABILITY',
] as const;
export type ExpiryReason = (typeof EXPIRY_REASONS)[number];

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
} as const;

type Schemas = typeof eventDataSchemas;
/** Every event type Satchel knows. */
export type EventType = keyof Schemas;
/** An event at its current schema version: `{ type, data }`, discriminated on `type`. */
export type DomainEvent = { [K in EventType]: { type: K; data: z.infer<Schemas[K]> } }[EventType];
/** The event of one type. */
export type EventOf<K extends EventType> = Extract<DomainEvent, { type: K }>;

/** The event types a device records (and sends in `POST /v1/sync`). */
export const DEVICE_EVENT_TYPES = [
  'DownloadCompleted',
  'PlaybackStarted',
  'PlaybackStopped',
  'DownloadDeleted',
  'ClockRollbackDetected',
  'LicenseExpiryObserved',
] as const satisfies readonly EventType[];
export type DeviceEventType = (typeof DEVICE_EVENT_TYPES)[number];
export type DeviceEvent = EventOf<DeviceEventType>;

export function isDeviceEvent(event: DomainEvent): event is DeviceEvent {
  return (DEVICE_EVENT_TYPES as readonly string[]).includes(event.type);
}

/** An event as stored or sent: its type, its schema version and its payload, not yet validated. */
export interface VersionedEvent {
  readonly type: string;
  readonly v: number;
  readonly data: unknown;
}

/**
 * Upcasters: `upcasters[type][v]` turns a version-`v` payload into version `v + 1`.
 * Old versions are upcast on read and never rewritten in the store.
 */
const upcasters: { readonly [K in EventType]?: Readonly<Record<number, (data: unknown) => unknown>> } = {
  // v1 had no device name.
  DeviceRegistered: {
    1: (data) => ({ name: 'Unnamed device', ...(data as object) }),
  },
  // v1 sent the instant as an ISO-8601 string and the position in whole seconds;
  // v2 sent the instant in epoch milliseconds, still with seconds; v3 counts milliseconds.
  PlaybackStopped: {
    1: (data) => {
      const { at, ...rest } = data as { at?: unknown };
      return { ...rest, at: typeof at === 'string' ? Date.parse(at) : at };
    },
    2: (data) => {
      const { position, ...rest } = data as { position?: unknown };
      return { ...rest, positionMs: typeof position === 'number' ? Math.round(position * 1000) : position };
    },
  },
};

/** The current schema version of every event type. */
export const CURRENT_EVENT_VERSIONS: { readonly [K in EventType]: number } = Object.fromEntries(
  (Object.keys(eventDataSchemas) as EventType[]).map((type) => [
    type,
    Object.keys(upcasters[type] ?? {}).length + 1,
  ]),
) as { [K in EventType]: number };

function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventDataSchemas, type);
}

/** The stored form of a current-version event. */
export function toVersioned(event: DomainEvent): VersionedEvent {
  return { type: event.type, v: CURRENT_EVENT_VERSIONS[event.type], data: event.data };
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

/** Builds an event: `event('LicenseReleased', { licenseId, at })`. */
export function event<K extends EventType>(type: K, data: EventOf<K>['data']): EventOf<K> {
  return { type, data } as EventOf<K>;
}
