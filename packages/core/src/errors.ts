/**
 * Base class of every error Satchel throws in-process. Each carries a stable `code`.
 * Match errors with {@link isSatchelError} rather than `instanceof`: the guard is name-based,
 * so it works across realms, bundles and worker boundaries.
 */
export class SatchelError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SatchelError';
    this.code = code;
    this.details = options?.details;
  }
}

/**
 * True for any error thrown by Satchel (including subclasses and errors that crossed a realm,
 * e.g. a worker's structured clone), optionally narrowed to one `code`.
 */
export function isSatchelError(value: unknown, code?: string): value is SatchelError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; code?: unknown; isSatchelError?: unknown };
  const named =
    candidate.isSatchelError === true ||
    (typeof candidate.name === 'string' &&
      candidate.name.startsWith('Satchel') &&
      candidate.name.endsWith('Error'));
  if (!named || typeof candidate.code !== 'string') return false;
  return code === undefined || candidate.code === code;
}

/** Codes of {@link EventSchemaError}. */
export type EventSchemaErrorCode = 'UNKNOWN_EVENT_TYPE' | 'UNSUPPORTED_EVENT_VERSION' | 'INVALID_EVENT';

/** Thrown by `upcast` when a stored or received event cannot be read by this code. */
export class EventSchemaError extends SatchelError {
  declare readonly code: EventSchemaErrorCode;

  constructor(code: EventSchemaErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details === undefined ? undefined : { details });
    this.name = 'SatchelEventSchemaError';
  }
}
