import { ERROR_CODES, type ProtocolError, protocolError, toValidationIssues } from '@satchel/protocol';
import type { Context } from 'hono';
import type * as z from 'zod/mini';

/** An answer that is an error: its status, its wire body and extra headers. Thrown by {@link fail}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: ProtocolError,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

/** Ends the request with a wire error (the app's error handler writes it). */
export const fail = (error: ProtocolError, headers?: Record<string, string>): never => {
  throw new HttpError(ERROR_CODES[error.code].status, error, headers);
};

/** Reads a JSON body and validates it against `schema`; fails with 415, 400 or `VALIDATION_FAILED`. */
export async function readJson<S extends z.ZodMiniType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    fail(protocolError('UNSUPPORTED_MEDIA_TYPE', 'The body must be application/json'));
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    fail(protocolError('BAD_REQUEST', 'The body is not valid JSON'));
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    fail(
      protocolError('VALIDATION_FAILED', 'The request does not match its schema', {
        details: toValidationIssues(parsed.error.issues),
      }),
    );
  }
  return parsed.data as z.infer<S>;
}

/** Fails with `VALIDATION_FAILED` naming `field`. */
export const invalid = (field: string, message: string): never =>
  fail(
    protocolError('VALIDATION_FAILED', `${field}: ${message}`, {
      details: [{ path: [field], message, code: 'invalid_format' }],
    }),
  );
