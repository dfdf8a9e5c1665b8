import { SatchelError } from '@satchel/core';

/**
 * Base class of the server's in-process errors: core's `SatchelError` (a stable `code`; core's
 * `isSatchelError` matches it), with a `name` the guards below test, so they work across realms and bundles.
 */
export class ServerError extends SatchelError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'SatchelServerError';
  }
}

/** An append lost the race for its expected stream version (or a receipt was written concurrently). */
export class ConcurrencyError extends ServerError {
  readonly accountId: string;
  readonly expectedVersion: number;
  constructor(accountId: string, expectedVersion: number, constraint?: string) {
    super(
      'CONCURRENCY_CONFLICT',
      `Account ${accountId} moved past version ${expectedVersion}${constraint ? ` (${constraint})` : ''}`,
    );
    this.name = 'SatchelConcurrencyError';
    this.accountId = accountId;
    this.expectedVersion = expectedVersion;
  }
}

/** Every retry after a {@link ConcurrencyError} lost again; the client should retry after `retryAfterMs`. */
export class ConflictRetriesExhaustedError extends ServerError {
  readonly attempts: number;
  readonly retryAfterMs: number;
  constructor(accountId: string, attempts: number, retryAfterMs = 250) {
    super('CONFLICT_RETRIES_EXHAUSTED', `Account ${accountId} is busy: ${attempts} attempts conflicted`);
    this.name = 'SatchelConflictRetriesExhaustedError';
    this.attempts = attempts;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * A device's new events do not fit in its event quota (see `EventQuota`): nothing was written. The
 * device may send them again in `retryAfterMs` (ms, at least 1), when its window ends.
 */
export class EventQuotaExceededError extends ServerError {
  readonly retryAfterMs: number;
  readonly limit: number;
  readonly windowSec: number;
  constructor(deviceId: string, limit: number, windowSec: number, retryAfterMs: number) {
    super('RATE_LIMITED', `Device ${deviceId} has used its quota of ${limit} events per ${windowSec} s`);
    this.name = 'SatchelEventQuotaExceededError';
    this.retryAfterMs = retryAfterMs;
    this.limit = limit;
    this.windowSec = windowSec;
  }
}

const named =
  <T>(name: string) =>
  (e: unknown): e is T =>
    typeof e === 'object' && e !== null && (e as { name?: unknown }).name === name;

/** True for a {@link ConcurrencyError}, from any realm. */
export const isConcurrencyError = named<ConcurrencyError>('SatchelConcurrencyError');
/** True for a {@link ConflictRetriesExhaustedError}, from any realm. */
export const isConflictRetriesExhaustedError = named<ConflictRetriesExhaustedError>(
  'SatchelConflictRetriesExhaustedError',
);
/** True for an {@link EventQuotaExceededError}, from any realm. */
export const isEventQuotaExceededError = named<EventQuotaExceededError>('SatchelEventQuotaExceededError');
