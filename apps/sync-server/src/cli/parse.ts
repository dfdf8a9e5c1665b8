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

/** Policy fields as `key=value` pairs (`playbackDurationSec=21600 maxDownloadsPerYear=none`). */
export function policyFields(pairs: readonly string[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const pair of pairs) {
    const m = /^(\w+)=(.*)$/.exec(pair);
    if (!m?.[1] || m[2] === undefined) throw new InvalidArgumentError(`expected key=value, got ${pair}`);
    const value =
      m[2] === 'none' || m[2] === 'null' ? null : /^\d+$/.test(m[2]) ? Number(m[2]) : instantOrFail(m[2]);
    out[m[1]] = value;
  }
  return out;
}

function instantOrFail(text: string): number {
  return instant(text);
}
