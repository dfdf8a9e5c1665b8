import type { ProtocolError, ValidationIssue } from './schemas/errors.js';

/** The closed set of wire error codes. */
export const PROTOCOL_ERROR_CODES = [
  'BAD_REQUEST',
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'TOKEN_EXPIRED',
  'FORBIDDEN',
  'DEVICE_DEACTIVATED',
  'DEVICE_LIMIT_REACHED',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'REQUEST_TIMEOUT',
  'SEQ_GAP',
  'DEVICE_ALREADY_REGISTERED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'PROTOCOL_VERSION_UNSUPPORTED',
  'RATE_LIMITED',
  'CONCURRENCY_CONFLICT',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

/** One of {@link PROTOCOL_ERROR_CODES}. */
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

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
  DEVICE_LIMIT_REACHED: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  REQUEST_TIMEOUT: { status: 408, retryable: true, defaultRetryAfterMs: 1000 },
  SEQ_GAP: { status: 409, retryable: false },
  DEVICE_ALREADY_REGISTERED: { status: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  PROTOCOL_VERSION_UNSUPPORTED: { status: 426, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  CONCURRENCY_CONFLICT: { status: 503, retryable: true, defaultRetryAfterMs: 50 },
  UNAVAILABLE: { status: 503, retryable: true, defaultRetryAfterMs: 1000 },
  INTERNAL: { status: 500, retryable: true, defaultRetryAfterMs: 1000 },
} as const satisfies Record<ProtocolErrorCode, ErrorCodeInfo>;

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
