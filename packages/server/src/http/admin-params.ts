import { Id } from '@satchel/protocol/schemas';
import type { Context } from 'hono';
import { invalid } from './request.js';

/** Reads an instant: epoch milliseconds or an ISO-8601 date-time. Fails with `VALIDATION_FAILED`. */
export function instant(field: string, text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(n) || n < 0) invalid(field, 'expected epoch milliseconds or an ISO-8601 date-time');
  return n;
}

/** An optional instant from the query string. */
export const queryInstant = (c: Context, name: string): number | undefined => {
  const text = c.req.query(name);
  return text === undefined || text === '' ? undefined : instant(name, text);
};

/** An optional positive integer from the query string. */
export const queryInt = (c: Context, name: string): number | undefined => {
  const text = c.req.query(name);
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text)) invalid(name, 'expected a non-negative integer');
  return Number(text);
};

/** A path parameter that must be an identifier. */
export const pathId = (c: Context, name: string): string => {
  const value = c.req.param(name) ?? '';
  if (!Id.safeParse(value).success) invalid(name, 'not a valid identifier');
  return value;
};
