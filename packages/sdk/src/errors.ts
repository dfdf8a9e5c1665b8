import { SatchelError } from '@satchel/core';

/** Codes of {@link StorageError}. */
export type StorageErrorCode =
  | 'STORAGE_QUOTA_EXCEEDED'
  | 'STORAGE_BLOCKED'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_VERSION_TOO_NEW'
  | 'STORAGE_CLOSED';

/**
 * A device storage failure. Nothing was written by the operation that threw it:
 * - `STORAGE_QUOTA_EXCEEDED`: the browser refused the write for lack of space;
 * - `STORAGE_BLOCKED`: an open or upgrade waited too long for another tab to close its connection;
 * - `STORAGE_UNAVAILABLE`: IndexedDB is missing, or the connection was lost and reopening once failed too;
 * - `STORAGE_VERSION_TOO_NEW`: another tab runs a newer SDK that upgraded the database past this one;
 * - `STORAGE_CLOSED`: the storage (or the client) was closed.
 */
export class StorageError extends SatchelError {
  declare readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'SatchelStorageError';
  }
}

/** Codes of {@link ClientError}. */
export type ClientErrorCode =
  | 'NOT_REGISTERED'
  | 'ALREADY_REGISTERED'
  | 'NO_SNAPSHOT'
  | 'LICENSE_NOT_FOUND'
  | 'INVALID_ARGUMENT'
  | 'UPDATE_REQUIRED'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'UNAUTHORIZED'
  | 'SERVER'
  | 'INVALID_RESPONSE'
  | 'CLOSED';

/**
 * A failure of an SDK call that is not about storage:
 * - `NOT_REGISTERED`: the device has no identity yet (call `register` first);
 * - `ALREADY_REGISTERED`: `register` was called on a registered device;
 * - `NO_SNAPSHOT` / `LICENSE_NOT_FOUND`: nothing is known locally about that licence;
 * - `INVALID_ARGUMENT`: the input could never be sent (a licence id that is not an identifier of at most
 *   128 characters, a position that is not a finite number); nothing was recorded;
 * - `UPDATE_REQUIRED`: the server no longer supports this SDK's protocol version;
 * - `NETWORK` / `TIMEOUT`: the server could not be reached in time (retryable);
 * - `UNAUTHORIZED`: the server refused the token;
 * - `SERVER`: the server answered with a protocol error (`details.code` holds the wire code);
 * - `INVALID_RESPONSE`: the server's answer did not match the protocol schema;
 * - `CLOSED`: the client was closed.
 */
export class ClientError extends SatchelError {
  declare readonly code: ClientErrorCode;
  /** Milliseconds the server asked to wait before retrying, when it said so. */
  readonly retryAfterMs: number | null;
  /** HTTP status of the answer, when there was one. */
  readonly status: number | null;
  /** Whether the same call may succeed later without any change (network, timeout, 5xx, rate limit). */
  readonly retryable: boolean;

  constructor(
    code: ClientErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      details?: Record<string, unknown>;
      retryAfterMs?: number | null;
      status?: number | null;
      retryable?: boolean;
    },
  ) {
    super(code, message, options);
    this.name = 'SatchelClientError';
    this.retryAfterMs = options?.retryAfterMs ?? null;
    this.status = options?.status ?? null;
    this.retryable = options?.retryable ?? (code === 'NETWORK' || code === 'TIMEOUT');
  }
}
