import { protocolError, toValidationIssues } from '@satchel/protocol';
import type { Context } from 'hono';
import type * as z from 'zod/mini';

export { fail, HttpError } from './http-error.js';

import { type BodyBounds, DEFAULT_BODY_BOUNDS, parseJsonBody, readWebBody, requireJson } from './body.js';
import { fail } from './http-error.js';

/** Fails with `VALIDATION_FAILED` and zod's issues unless `schema` accepts `body`; returns the parsed value. */
export function validate<S extends z.ZodMiniType>(schema: S, body: unknown): z.infer<S> {
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

/**
 * Reads a JSON body within the request's bounds (`body.ts`: size from the header and while streaming,
 * time, nesting depth), runs `precheck` on the parsed value (a cheap refusal before the schema walks it),
 * and validates it against `schema`. Fails with 415, 413, 408, 400 or `VALIDATION_FAILED`.
 */
export async function readJson<S extends z.ZodMiniType>(
  c: Context,
  schema: S,
  precheck?: (body: unknown) => void,
): Promise<z.infer<S>> {
  requireJson(c.req.header('content-type'));
  const bounds = (c.get('bodyBounds') as BodyBounds | undefined) ?? DEFAULT_BODY_BOUNDS;
  const body = parseJsonBody(await readWebBody(c.req.raw, bounds));
  precheck?.(body);
  return validate(schema, body);
}

/** Fails with `VALIDATION_FAILED` naming `field`. */
export const invalid = (field: string, message: string): never =>
  fail(
    protocolError('VALIDATION_FAILED', `${field}: ${message}`, {
      details: [{ path: [field], message, code: 'invalid_format' }],
    }),
  );
