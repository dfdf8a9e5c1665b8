import type { Policy } from '@satchel/protocol';
import { InvalidArgumentError } from 'commander';

/** An instant on the command line: ISO-8601 or epoch milliseconds. */
export function instant(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`not an instant (ISO-8601 or epoch ms): ${text}`);
  return n;
}

/** A non-negative integer option. */
export function integer(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`not a non-negative integer: ${text}`);
  return Number(text);
}

/** How each policy field is written on the command line (`none` only where the field may be null). */
const POLICY_FIELDS = {
  licenseDurationSec: 'integer',
  rentalDurationSec: 'integer',
  playbackDurationSec: 'integer',
  offlineCheckInSec: 'integer',
  maxDownloadsPerYear: 'integer-or-none',
  maxRenewals: 'integer-or-none',
  availableUntil: 'instant-or-none',
} as const satisfies Record<keyof Policy, string>;

/** Policy fields as `key=value` pairs (`playbackDurationSec=21600 maxDownloadsPerYear=none`). */
export function policyFields(pairs: readonly string[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const pair of pairs) {
    const m = /^(\w+)=(.*)$/.exec(pair);
    if (!m?.[1] || m[2] === undefined) throw new InvalidArgumentError(`expected key=value, got ${pair}`);
    const [, key, text] = m;
    if (!Object.hasOwn(POLICY_FIELDS, key)) {
      throw new InvalidArgumentError(
        `unknown policy field ${key} (known: ${Object.keys(POLICY_FIELDS).join(', ')})`,
      );
    }
    const kind = POLICY_FIELDS[key as keyof Policy];
    if (kind !== 'integer' && (text === 'none' || text === 'null')) out[key] = null;
    else if (/^\d+$/.test(text)) out[key] = Number(text);
    else if (kind === 'instant-or-none' && Number.isFinite(Date.parse(text))) out[key] = Date.parse(text);
    else {
      const expected =
        kind === 'integer'
          ? 'a non-negative integer'
          : kind === 'integer-or-none'
            ? 'a non-negative integer or none'
            : 'an ISO-8601 instant, epoch ms or none';
      throw new InvalidArgumentError(`${key} must be ${expected}, got ${text}`);
    }
  }
  return out;
}

/** Commander's parser for a variadic `[policy...]` argument: checked before anything connects. */
export const policyArgument = (
  pair: string,
  previous: Record<string, number | null> | undefined,
): Record<string, number | null> => ({ ...previous, ...policyFields([pair]) });

/** How each plan limit is written on the command line (`none` only where the limit may be absent). */
const PLAN_FIELDS = {
  maxDownloadDevices: 'integer',
  maxDownloadsPerDevice: 'integer',
  maxDownloadsPerMonth: 'integer-or-none',
  maxRegisteredDevices: 'integer',
} as const;

/** Plan limits as `key=value` pairs (`maxDownloadDevices=1 maxDownloadsPerMonth=none`). */
export function planFields(pairs: readonly string[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const pair of pairs) {
    const m = /^(\w+)=(.*)$/.exec(pair);
    if (!m?.[1] || m[2] === undefined) throw new InvalidArgumentError(`expected key=value, got ${pair}`);
    const [, key, text] = m;
    if (!Object.hasOwn(PLAN_FIELDS, key)) {
      throw new InvalidArgumentError(
        `unknown plan field ${key} (known: ${Object.keys(PLAN_FIELDS).join(', ')})`,
      );
    }
    const kind = PLAN_FIELDS[key as keyof typeof PLAN_FIELDS];
    if (kind === 'integer-or-none' && (text === 'none' || text === 'null')) out[key] = null;
    else if (/^\d+$/.test(text)) out[key] = Number(text);
    else
      throw new InvalidArgumentError(
        `${key} must be ${kind === 'integer' ? 'a non-negative integer' : 'a non-negative integer or none'}, got ${text}`,
      );
  }
  return out;
}

/** Commander's parser for a variadic `<limits...>` argument of plan fields. */
export const planArgument = (
  pair: string,
  previous: Record<string, number | null> | undefined,
): Record<string, number | null> => ({ ...previous, ...planFields([pair]) });

/** A calendar month on the command line: `YYYY-MM`. */
export function month(text: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(text)) throw new InvalidArgumentError(`not a month (YYYY-MM): ${text}`);
  return text;
}
