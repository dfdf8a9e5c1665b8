/**
 * Reasons the domain rules refuse a command or an event. The domain core produces exactly these codes;
 * they appear on the wire in `Refusal` and in rejected `EventResult`s.
 */
export const DOMAIN_REJECTION_CODES = [
  'ACCOUNT_NOT_OPEN',
  'ACCOUNT_ALREADY_OPEN',
  'DEVICE_NOT_REGISTERED',
  'DEVICE_ALREADY_REGISTERED',
  'DEVICE_DEACTIVATED',
  'DEVICE_LIMIT',
  'DEVICE_LICENSE_LIMIT',
  'YEARLY_LIMIT',
  'MONTHLY_LIMIT',
  'RENEWAL_LIMIT',
  'TITLE_UNAVAILABLE',
  'ALREADY_LICENSED',
  'LICENSE_NOT_FOUND',
  'LICENSE_NOT_ACTIVE',
  'WRONG_DEVICE',
  'NOT_DOWNLOADED',
  'INVALID_COMMAND',
] as const;

/** One of {@link DOMAIN_REJECTION_CODES}. */
export type DomainRejectionCode = (typeof DOMAIN_REJECTION_CODES)[number];

/**
 * Reasons the sync protocol itself rejects a device event before the domain sees it:
 * - `INVALID_EVENT`: the payload does not match the event type's schema;
 * - `UNKNOWN_EVENT_TYPE`: the server does not know the type;
 * - `UNSUPPORTED_EVENT_VERSION`: the server cannot upcast this schema version;
 * - `EVENT_ID_REUSED`: the eventId was already stored with a different seq or content;
 * - `DEVICE_MISMATCH`: the event does not belong to the authenticated device.
 */
export const PROTOCOL_REJECTION_CODES = [
  'INVALID_EVENT',
  'UNKNOWN_EVENT_TYPE',
  'UNSUPPORTED_EVENT_VERSION',
  'EVENT_ID_REUSED',
  'DEVICE_MISMATCH',
] as const;

/** Every code a rejected device event may carry: the protocol-level codes, then the domain codes. */
export const EVENT_REJECTION_CODES = [...PROTOCOL_REJECTION_CODES, ...DOMAIN_REJECTION_CODES] as const;

/** One of {@link EVENT_REJECTION_CODES}: a closed set, a rejection with another code is malformed. */
export type EventRejectionCode = (typeof EVENT_REJECTION_CODES)[number];
