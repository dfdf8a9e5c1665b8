import * as z from 'zod/mini';
import { PROTOCOL_ERROR_CODES } from '../errors.js';
import { NonNegativeInt } from './primitives.js';

/** One of `PROTOCOL_ERROR_CODES`. */
export const ProtocolErrorCode = z.enum(PROTOCOL_ERROR_CODES);
export type ProtocolErrorCode = z.infer<typeof ProtocolErrorCode>;

/** One request-validation problem: where (`path` into the body), what, and the validator's issue code. */
export const ValidationIssue = z.object({
  path: z.array(z.union([z.string(), z.int()])),
  message: z.string(),
  code: z.string(),
});
export type ValidationIssue = z.infer<typeof ValidationIssue>;

/** `SEQ_GAP` details: the seq the server expected next for this device, and the first seq it received. */
export const SeqGapDetails = z.object({
  expectedSeq: z.int().check(z.minimum(1)),
  receivedSeq: z.int().check(z.minimum(1)),
});
export type SeqGapDetails = z.infer<typeof SeqGapDetails>;

/** `PAYLOAD_TOO_LARGE` details: the largest body accepted. */
export const PayloadTooLargeDetails = z.object({ limitBytes: NonNegativeInt });
export type PayloadTooLargeDetails = z.infer<typeof PayloadTooLargeDetails>;

/**
 * `PROTOCOL_VERSION_UNSUPPORTED` details: the range the server speaks and what the client announced
 * (null when it announced no usable integer).
 */
export const ProtocolVersionDetails = z.object({
  minVersion: z.int().check(z.minimum(1)),
  maxVersion: z.int().check(z.minimum(1)),
  clientVersion: z.nullable(z.int()),
});
export type ProtocolVersionDetails = z.infer<typeof ProtocolVersionDetails>;

/**
 * `RATE_LIMITED` details: which limit refused the request. `device`, `account` (every token of one
 * account together) and `operator` count requests per `windowSec`; `events` is the event quota: the new
 * events one device may have stored per `windowSec` (sync events that are not duplicates, and licence
 * requests, whose grant or refusal is recorded); `concurrency` is the number of requests one device may
 * have in flight at once (`windowSec` 0). `limit` is the limit in that unit.
 */
export const RateLimitDetails = z.object({
  scope: z.enum(['device', 'account', 'operator', 'events', 'concurrency']),
  limit: NonNegativeInt,
  windowSec: NonNegativeInt,
});
export type RateLimitDetails = z.infer<typeof RateLimitDetails>;

/** `DEVICE_LIMIT_REACHED` details: how many active devices the account's plan allows. */
export const DeviceLimitDetails = z.object({ limit: NonNegativeInt });
export type DeviceLimitDetails = z.infer<typeof DeviceLimitDetails>;

const RetryAfterMs = NonNegativeInt;

const common = {
  message: z.string(),
  requestId: z.optional(z.string()),
  retryAfterMs: z.optional(RetryAfterMs),
};

function plain<const C extends ProtocolErrorCode>(code: C) {
  return z.object({ code: z.literal(code), ...common });
}

function withDetails<const C extends ProtocolErrorCode, D extends z.core.SomeType>(code: C, details: D) {
  return z.object({ code: z.literal(code), ...common, details });
}

/**
 * A wire error, discriminated by `code`. `requestId` echoes the request's `x-request-id`; `retryAfterMs` is
 * a backoff hint (required for `RATE_LIMITED`); `details` exists, and is required, only for the codes that
 * define it (`VALIDATION_FAILED`, `SEQ_GAP`, `PAYLOAD_TOO_LARGE`, `PROTOCOL_VERSION_UNSUPPORTED`,
 * `DEVICE_LIMIT_REACHED`; optional for `RATE_LIMITED`).
 */
export const ProtocolError = z.discriminatedUnion('code', [
  plain('BAD_REQUEST'),
  withDetails('VALIDATION_FAILED', z.array(ValidationIssue)),
  plain('UNAUTHENTICATED'),
  plain('TOKEN_EXPIRED'),
  plain('FORBIDDEN'),
  plain('DEVICE_DEACTIVATED'),
  withDetails('DEVICE_LIMIT_REACHED', DeviceLimitDetails),
  plain('NOT_FOUND'),
  plain('METHOD_NOT_ALLOWED'),
  plain('REQUEST_TIMEOUT'),
  withDetails('SEQ_GAP', SeqGapDetails),
  plain('DEVICE_ALREADY_REGISTERED'),
  withDetails('PAYLOAD_TOO_LARGE', PayloadTooLargeDetails),
  plain('UNSUPPORTED_MEDIA_TYPE'),
  withDetails('PROTOCOL_VERSION_UNSUPPORTED', ProtocolVersionDetails),
  z.object({
    code: z.literal('RATE_LIMITED'),
    ...common,
    retryAfterMs: RetryAfterMs,
    details: z.optional(RateLimitDetails),
  }),
  plain('CONCURRENCY_CONFLICT'),
  plain('UNAVAILABLE'),
  plain('INTERNAL'),
]);
export type ProtocolError = z.infer<typeof ProtocolError>;

/** The body of every non-2xx answer. */
export const ErrorResponse = z.object({ error: ProtocolError });
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/**
 * Reads an error answer: accepts the parsed JSON body (or its text) and returns the typed error, or null
 * when the body is not a well-formed {@link ErrorResponse} (e.g. a proxy's HTML page). Never throws.
 */
export function parseErrorResponse(json: unknown): ProtocolError | null {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch {
      return null;
    }
  }
  const parsed = ErrorResponse.safeParse(value);
  return parsed.success ? parsed.data.error : null;
}
