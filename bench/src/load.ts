import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from './server-process.js';
import { round } from './stats.js';

export interface LoadRow {
  events: number;
  /** Median load time, every event replayed. */
  fullReplayMs: number;
  /** Median load time from the newest snapshot plus the tail after it. */
  snapshotMs: number;
  tailEvents: number;
  seedSec: number;
}

export interface LoadResult {
  runs: number;
  rows: LoadRow[];
  /** Load time with snapshots, 100,000-event history over 100-event history. */
  ratio100kTo100: number;
  /** The same without snapshots (every event replayed). */
  ratio100kTo100NoSnapshots: number;
  output: string;
}

const LINE =
  /^\s*(\d+) events\b.*?seeded in\s+([\d.]+) s\s+full replay\s+([\d.]+) ms\s+snapshot \+\s*(\d+)-event tail\s+([\d.]+) ms/;

/**
 * Runs the server's account-load benchmark (`pnpm bench:load`, packages/server/bench/load.ts: 100, 10,000
 * and 100,000 events on a fresh PostgreSQL database, with and without snapshots) and reads its figures.
 */
export async function benchLoad(o: { quick: boolean; log: (line: string) => void }): Promise<LoadResult> {
  const runs = o.quick ? 3 : 7;
  const { stdout } = await promisify(execFile)(
    'pnpm',
    ['--silent', 'bench:load', '--', '--runs', String(runs)],
    {
      cwd: ROOT,
      maxBuffer: 1 << 22,
      timeout: 15 * 60_000,
    },
  );
  o.log(stdout.trimEnd().replace(/^/gm, '  '));
  const rows: LoadRow[] = [];
  for (const line of stdout.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    rows.push({
      events: Number(m[1]),
      seedSec: Number(m[2]),
      fullReplayMs: Number(m[3]),
      tailEvents: Number(m[4]),
      snapshotMs: Number(m[5]),
    });
  }
  const small = rows.find((r) => r.events === 100);
  const large = rows.find((r) => r.events === 100_000);
  if (!small || !large)
    throw new Error(`\`pnpm bench:load\` did not report 100 and 100,000 events:\n${stdout}`);
  return {
    runs,
    rows,
    ratio100kTo100: round(large.snapshotMs / small.snapshotMs, 2),
    ratio100kTo100NoSnapshots: round(large.fullReplayMs / small.fullReplayMs, 1),
    output: stdout.trim(),
  };
}
