import type * as z from 'zod/mini';
import type { eventDataSchemas } from './schemas/events.js';

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

/** Every event type Satchel knows, in the order of docs/domain.md: decided by the server, then recorded on the device. */
export const EVENT_TYPES = [
  'AccountOpened',
  'AccountPlanChanged',
  'DeviceRegistered',
  'DeviceDeactivated',
  'LicenseIssued',
  'LicenseRenewed',
  'LicenseReleased',
  'LicenseRevoked',
  'LicenseExpired',
  'TitleWithdrawn',
  'DeviceHistoryRebased',
  'LicenseRefused',
  'DownloadCompleted',
  'PlaybackStarted',
  'PlaybackStopped',
  'DownloadDeleted',
  'ClockRollbackDetected',
  'LicenseExpiryObserved',
] as const;

type Schemas = typeof eventDataSchemas;
/** One of {@link EVENT_TYPES}. */
export type EventType = (typeof EVENT_TYPES)[number];
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
 * Internal (the package exports it only to `upcast`): upcasters: `upcasters[type][v]` turns a version-`v` payload into version `v + 1`.
 * Old versions are upcast on read and never rewritten in the store.
 */
export const upcasters: { readonly [K in EventType]?: Readonly<Record<number, (data: unknown) => unknown>> } =
  {
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
  EVENT_TYPES.map((type) => [type, Object.keys(upcasters[type] ?? {}).length + 1]),
) as { [K in EventType]: number };

/** The stored form of a current-version event. */
export function toVersioned(event: DomainEvent): VersionedEvent {
  return { type: event.type, v: CURRENT_EVENT_VERSIONS[event.type], data: event.data };
}

/** Builds an event: `event('LicenseReleased', { licenseId, at })`. */
export function event<K extends EventType>(type: K, data: EventOf<K>['data']): EventOf<K> {
  return { type, data } as EventOf<K>;
}
