import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import {
  ErrorResponse,
  type ProtocolError,
  type ProtocolErrorCode,
  ProtocolError as ProtocolErrorSchema,
  parseErrorResponse,
  SyncRequest,
} from './entries/schemas.js';
import {
  ERROR_CODES,
  httpStatusFor,
  isRetryable,
  PROTOCOL_ERROR_CODES,
  protocolError,
  toValidationIssues,
} from './index.js';

const EXPECTED_STATUS: Record<ProtocolErrorCode, number> = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  DEVICE_DEACTIVATED: 403,
  DEVICE_LIMIT_REACHED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  SEQ_GAP: 409,
  DEVICE_ALREADY_REGISTERED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PROTOCOL_VERSION_UNSUPPORTED: 426,
  RATE_LIMITED: 429,
  CONCURRENCY_CONFLICT: 503,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

const RETRYABLE = new Set<ProtocolErrorCode>([
  'REQUEST_TIMEOUT',
  'RATE_LIMITED',
  'CONCURRENCY_CONFLICT',
  'UNAVAILABLE',
  'INTERNAL',
]);

/** One well-formed example per code: a `Record` over the codes, so a new code fails to compile here. */
const EXAMPLES: { [C in ProtocolErrorCode]: ProtocolError & { code: C } } = {
  BAD_REQUEST: protocolError('BAD_REQUEST', 'Body is not JSON'),
  VALIDATION_FAILED: protocolError('VALIDATION_FAILED', 'Invalid body', {
    details: [{ path: ['events', 0, 'seq'], message: 'Too small', code: 'too_small' }],
  }),
  UNAUTHENTICATED: protocolError('UNAUTHENTICATED', 'No token', { requestId: 'req-1' }),
  TOKEN_EXPIRED: protocolError('TOKEN_EXPIRED', 'Token expired'),
  FORBIDDEN: protocolError('FORBIDDEN', 'Not your device'),
  DEVICE_DEACTIVATED: protocolError('DEVICE_DEACTIVATED', 'Device was deactivated'),
  DEVICE_LIMIT_REACHED: protocolError('DEVICE_LIMIT_REACHED', 'Too many devices', { details: { limit: 10 } }),
  NOT_FOUND: protocolError('NOT_FOUND', 'No such licence'),
  METHOD_NOT_ALLOWED: protocolError('METHOD_NOT_ALLOWED', 'Use POST'),
  REQUEST_TIMEOUT: protocolError('REQUEST_TIMEOUT', 'The body arrived too slowly'),
  SEQ_GAP: protocolError('SEQ_GAP', 'Expected seq 4', { details: { expectedSeq: 4, receivedSeq: 6 } }),
  DEVICE_ALREADY_REGISTERED: protocolError('DEVICE_ALREADY_REGISTERED', 'Prove you are that device'),
  PAYLOAD_TOO_LARGE: protocolError('PAYLOAD_TOO_LARGE', 'Too large', { details: { limitBytes: 1_048_576 } }),
  UNSUPPORTED_MEDIA_TYPE: protocolError('UNSUPPORTED_MEDIA_TYPE', 'Send application/json'),
  PROTOCOL_VERSION_UNSUPPORTED: protocolError('PROTOCOL_VERSION_UNSUPPORTED', 'Too old', {
    details: { minVersion: 2, maxVersion: 3, clientVersion: 1 },
  }),
  RATE_LIMITED: protocolError('RATE_LIMITED', 'Slow down', {
    retryAfterMs: 2500,
    details: { scope: 'events', limit: 5000, windowSec: 3600 },
  }),
  CONCURRENCY_CONFLICT: protocolError('CONCURRENCY_CONFLICT', 'Try again'),
  UNAVAILABLE: protocolError('UNAVAILABLE', 'Database unreachable'),
  INTERNAL: protocolError('INTERNAL', 'Unexpected', { requestId: 'req-2', retryAfterMs: 5000 }),
};

describe('error code table', () => {
  it('covers exactly the closed set of codes, with the documented statuses', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual([...PROTOCOL_ERROR_CODES].sort());
    expect(Object.keys(EXPECTED_STATUS).sort()).toEqual([...PROTOCOL_ERROR_CODES].sort());
    expect(
      ProtocolErrorSchema.def.options.map((option) => option.def.shape.code.def.values[0]).sort(),
    ).toEqual([...PROTOCOL_ERROR_CODES].sort());
  });

  it.each(PROTOCOL_ERROR_CODES)('%s has its status and retry semantics', (code) => {
    expect(httpStatusFor(code)).toBe(EXPECTED_STATUS[code]);
    expect(isRetryable(code)).toBe(RETRYABLE.has(code));
    if (!isRetryable(code)) expect(EXAMPLES[code].retryAfterMs).toBeUndefined();
  });

  it('fills default backoff hints for retryable codes, and keeps a given one', () => {
    expect(EXAMPLES.CONCURRENCY_CONFLICT.retryAfterMs).toBe(50);
    expect(EXAMPLES.UNAVAILABLE.retryAfterMs).toBe(1000);
    expect(EXAMPLES.INTERNAL.retryAfterMs).toBe(5000);
    expect(protocolError('INTERNAL', 'x').retryAfterMs).toBe(1000);
    expect(EXAMPLES.RATE_LIMITED.retryAfterMs).toBe(2500);
  });

  it('requires details and retryAfterMs where the schema does', () => {
    // @ts-expect-error SEQ_GAP requires details
    const gap = protocolError('SEQ_GAP', 'x');
    // @ts-expect-error RATE_LIMITED requires retryAfterMs
    const limited = protocolError('RATE_LIMITED', 'x', {});
    expect(ProtocolErrorSchema.safeParse(gap).success).toBe(false);
    expect(ProtocolErrorSchema.safeParse(limited).success).toBe(false);
  });

  it('leaves out fields given as undefined', () => {
    expect(Object.keys(protocolError('NOT_FOUND', 'x', { requestId: undefined }))).toEqual([
      'code',
      'message',
    ]);
  });
});

describe('ProtocolError union', () => {
  it.each(PROTOCOL_ERROR_CODES)('%s round-trips through JSON and parseErrorResponse', (code) => {
    const error = EXAMPLES[code];
    expect(error.code).toBe(code);
    const body = JSON.stringify({ error });
    expect(parseErrorResponse(body)).toEqual(error);
    expect(parseErrorResponse(JSON.parse(body))).toEqual(error);
    expect(ErrorResponse.parse(JSON.parse(body))).toEqual({ error });
  });

  it.each([
    ['an unknown code', { error: { code: 'TEAPOT', message: 'x' } }],
    ['a missing message', { error: { code: 'NOT_FOUND' } }],
    ['RATE_LIMITED without retryAfterMs', { error: { code: 'RATE_LIMITED', message: 'x' } }],
    ['SEQ_GAP without details', { error: { code: 'SEQ_GAP', message: 'x' } }],
    ['SEQ_GAP with wrong details', { error: { code: 'SEQ_GAP', message: 'x', details: { limitBytes: 1 } } }],
    ['a negative retryAfterMs', { error: { code: 'INTERNAL', message: 'x', retryAfterMs: -1 } }],
    ['a bare error object', { code: 'NOT_FOUND', message: 'x' }],
    ['an HTML page', '<html>502 Bad Gateway</html>'],
    ['null', null],
  ])('parseErrorResponse returns null for %s', (_name, body) => {
    expect(parseErrorResponse(body)).toBeNull();
  });
});

describe('toValidationIssues', () => {
  it('turns zod issues into VALIDATION_FAILED details that parse', () => {
    const parsed = SyncRequest.safeParse({
      protocolVersion: 1,
      deviceId: '',
      snapshotVersion: null,
      events: [{}],
    });
    expect(parsed.success).toBe(false);
    const details = toValidationIssues(parsed.error?.issues ?? []);
    expect(details.length).toBeGreaterThan(0);
    expect(details.some((issue) => issue.path.join('.') === 'deviceId')).toBe(true);
    expect(details.some((issue) => issue.path[0] === 'events' && issue.path[1] === 0)).toBe(true);
    const error = protocolError('VALIDATION_FAILED', 'Invalid body', { details });
    expect(ProtocolErrorSchema.parse(error)).toEqual(error);
  });

  it('renders symbol path segments as strings', () => {
    const issues = toValidationIssues([{ path: [Symbol('key'), 'a', 1], message: 'm', code: 'custom' }]);
    expect(issues).toEqual([{ path: ['key', 'a', 1], message: 'm', code: 'custom' }]);
    expect(z.array(z.unknown()).parse(issues)).toHaveLength(1);
  });
});
