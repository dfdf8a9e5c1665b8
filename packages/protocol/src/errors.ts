import * as z from 'zod/mini';
import { NonNegativeInt } from './primitives.js';

/** The closed set of wire error codes. */
export const PROTOCOL_ERROR_CODES = [
  'BAD_REQUEST',
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'TOKEN_EXPIRED',
  'FORBIDDEN',
  'DEVICE_DEACTIVATED',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'SEQ_GAP',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'PROTOCOL_VERSION_UNSUPPORTED',
  'RATE_LIMITED',
  'CONCURRENCY_CONFLICT',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

/** One of {@link PROTOCOL_ERROR_CODES}. */
export const ProtocolErrorCode = z.enum(PROTOCOL_ERROR_CODES);
export type ProtocolErrorCode = z.infer<typeof ProtocolErrorCode>;

/** The HTTP status and retry semantics of one error code. */
export interface ErrorCodeInfo {
  /** HTTP status the server answers with. */
  readonly status: number;
  /** Whether the same request may succeed if sent again later (after `retryAfterMs`, or with backoff). */
  readonly retryable: boolean;
  /** `retryAfterMs` that {@link protocolError} fills in when the caller gives none. */
  readonly defaultRetryAfterMs?: number;
}

/**
 * HTTP status and retry semantics for every error code: the single table clients and the server share.
 * `RATE_LIMITED` always carries `retryAfterMs`; the other retryable codes carry a default.
 */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, retryable: false },
  VALIDATION_FAILED: { status: 400, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  TOKEN_EXPIRED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  DEVICE_DEACTIVATED: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  SEQ_GAP: { status: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  PROTOCOL_VERSION_UNSUPPORTED: { status: 426, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  CONCURRENCY_CONFLICT: { status: 503, retryable: true, defaultRetryAfterMs: 50 },
  UNAVAILABLE: { status: 503, retryable: true, defaultRetryAfterMs: 1000 },
  INTERNAL: { status: 500, retryable: true, defaultRetryAfterMs: 1000 },
} as const satisfies Record<ProtocolErrorCode, ErrorCodeInfo>;

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
 * define it (`VALIDATION_FAILED`, `SEQ_GAP`, `PAYLOAD_TOO_LARGE`, `PROTOCOL_VERSION_UNSUPPORTED`).
 */
export const ProtocolError = z.discriminatedUnion('code', [
  plain('BAD_REQUEST'),
  withDetails('VALIDATION_FAILED', z.array(ValidationIssue)),
  plain('UNAUTHENTICATED'),
  plain('TOKEN_EXPIRED'),
  plain('FORBIDDEN'),
  plain('DEVICE_DEACTIVATED'),
  plain('NOT_FOUND'),
  plain('METHOD_NOT_ALLOWED'),
  withDetails('SEQ_GAP', SeqGapDetails),
  withDetails('PAYLOAD_TOO_LARGE', PayloadTooLargeDetails),
  plain('UNSUPPORTED_MEDIA_TYPE'),
  withDetails('PROTOCOL_VERSION_UNSUPPORTED', ProtocolVersionDetails),
  z.object({ code: z.literal('RATE_LIMITED'), ...common, retryAfterMs: RetryAfterMs }),
  plain('CONCURRENCY_CONFLICT'),
  plain('UNAVAILABLE'),
  plain('INTERNAL'),
]);
export type ProtocolError = z.infer<typeof ProtocolError>;

/** The body of every non-2xx answer. */
export const ErrorResponse = z.object({ error: ProtocolError });
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/** The member of {@link ProtocolError} for one code. */
export type ProtocolErrorOf<C extends ProtocolErrorCode> = Extract<ProtocolError, { code: C }>;

/** What {@link protocolError} takes besides code and message for one code. */
export type ProtocolErrorExtra<C extends ProtocolErrorCode> = Omit<ProtocolErrorOf<C>, 'code' | 'message'>;

type ExtraArgs<C extends ProtocolErrorCode> =
  // biome-ignore lint/complexity/noBannedTypes: `{}` is the empty-object test for "no required keys".
  {} extends ProtocolErrorExtra<C> ? [extra?: ProtocolErrorExtra<C>] : [extra: ProtocolErrorExtra<C>];

/** The HTTP status for an error code. Never throws. */
export function httpStatusFor(code: ProtocolErrorCode): number {
  return ERROR_CODES[code].status;
}

/** Whether a request that failed with `code` may succeed if retried later. Never throws. */
export function isRetryable(code: ProtocolErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

/**
 * Builds a typed wire error. `extra` is required when the code has required fields (`details`, or
 * `retryAfterMs` for `RATE_LIMITED`). For retryable codes with a default backoff, `retryAfterMs` is filled
 * in when not given. Fields given as `undefined` are left out. Does not validate; never throws.
 */
export function protocolError<C extends ProtocolErrorCode>(
  code: C,
  message: string,
  ...[extra]: ExtraArgs<C>
): ProtocolErrorOf<C> {
  const error: Record<string, unknown> = { code, message };
  if (extra) {
    for (const [key, value] of Object.entries(extra)) {
      if (value !== undefined) error[key] = value;
    }
  }
  const info: ErrorCodeInfo = ERROR_CODES[code];
  if (error.retryAfterMs === undefined && info.defaultRetryAfterMs !== undefined) {
    error.retryAfterMs = info.defaultRetryAfterMs;
  }
  return error as ProtocolErrorOf<C>;
}

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

/**
 * Converts validator issues (e.g. a zod error's `issues`) into `VALIDATION_FAILED` details. Symbol path
 * segments become their description. Never throws.
 */
export function toValidationIssues(
  issues: ReadonlyArray<{
    readonly path: ReadonlyArray<PropertyKey>;
    readonly message: string;
    readonly code: string;
  }>,
): ValidationIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map((segment) =>
      typeof segment === 'symbol' ? (segment.description ?? String(segment)) : segment,
    ),
    message: issue.message,
    code: issue.code,
  }));
}
