import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** Rounds to `digits` significant decimals for reports (keeps integers whole). */
export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Runs `worker` on `concurrency` lanes until it returns false or `deadline` (performance.now()) passes. */
export async function lanes(
  concurrency: number,
  worker: (lane: number) => Promise<boolean>,
  deadline = Number.POSITIVE_INFINITY,
): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (performance.now() < deadline) {
        if (!(await worker(lane))) return;
      }
    }),
  );
}

/** nproc, memory and CPU model, for the report. */
export function machine(): { nproc: number; memoryGiB: number; cpuModel: string } {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) model = m[1].trim();
  } catch {}
  return { nproc: cpus().length, memoryGiB: round(totalmem() / 2 ** 30, 1), cpuModel: model };
}
