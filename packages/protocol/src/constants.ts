/** The event types a device records (possibly offline) and sends in a sync batch. */
export const DEVICE_EVENT_TYPES = [
  'DownloadCompleted',
  'PlaybackStarted',
  'PlaybackStopped',
  'DownloadDeleted',
  'ClockRollbackDetected',
  'LicenseExpiryObserved',
] as const;

/** One of {@link DEVICE_EVENT_TYPES}. */
export type DeviceEventType = (typeof DEVICE_EVENT_TYPES)[number];

/** Highest event schema version the wire accepts; the domain decides which versions it can upcast. */
export const MAX_EVENT_SCHEMA_VERSION = 1000;

/** Lifecycle states of a licence as the device sees it. */
export const LICENSE_STATUSES = ['issued', 'downloaded', 'released', 'revoked', 'expired'] as const;

/** One of {@link LICENSE_STATUSES}. */
export type LicenseStatus = (typeof LICENSE_STATUSES)[number];

/** Which rule bounds `expiresAt` (the earliest of the candidate instants). */
export const EXPIRY_REASONS = [
  'RENTAL',
  'PLAYBACK_WINDOW',
  'LICENSE_DURATION',
  'CHECK_IN',
  'AVAILABILITY',
] as const;

/** One of {@link EXPIRY_REASONS}. */
export type ExpiryReason = (typeof EXPIRY_REASONS)[number];

/** States of a device of the account. */
export const DEVICE_STATUSES = ['active', 'deactivated'] as const;

/** One of {@link DEVICE_STATUSES}. */
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** The platforms a device may announce when it registers. */
export const DEVICE_PLATFORMS = ['web', 'electron', 'other'] as const;

/** One of {@link DEVICE_PLATFORMS}. */
export type DevicePlatform = (typeof DEVICE_PLATFORMS)[number];

/** Most events one `POST /v1/sync` may carry; a device with more sends several batches. */
export const MAX_SYNC_BATCH_EVENTS = 500;

/** Largest accepted request body, in bytes; a larger one is refused with `PAYLOAD_TOO_LARGE`. */
export const MAX_SYNC_BODY_BYTES = 1_048_576;

/**
 * Deepest nesting of arrays and objects in a JSON request body. The deepest valid message nests 4 levels
 * (a sync request's `events[i].data` value); the rest is room for event payloads to grow. A deeper body is
 * refused with `BAD_REQUEST` before it is parsed.
 */
export const MAX_REQUEST_JSON_DEPTH = 16;

/** The roles of an operator token: `support` may call the admin API's GET routes, `admin` every route. */
export const OPERATOR_ROLES = ['support', 'admin'] as const;

/** One of {@link OPERATOR_ROLES}. */
export type OperatorRole = (typeof OPERATOR_ROLES)[number];
