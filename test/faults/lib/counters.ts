import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../../../test-output/faults/', import.meta.url));

/**
 * Where this run's tests add up what they did (one JSON object per line, read by the summary reporter):
 * a file per run, named by the global setup in `SATCHEL_FAULTS_COUNTERS`, so that two runs in one
 * checkout do not mix their figures.
 */
export function countersFile(): string {
  return process.env.SATCHEL_FAULTS_COUNTERS ?? `${DIR}counters.jsonl`;
}

export const COUNTER_NAMES = [
  'kills',
  'pgRestarts',
  'requestsFuzzed',
  'acked',
  'lost',
  'duplicated',
  '5xx',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;

/** The hostile-device flood's figures (`flood.faults.test.ts`): a well-behaved account's sync p99 without and with the flood. */
export interface FloodFigures {
  unloadedP99Ms: number;
  floodedP99Ms: number;
  /** Median over the test's rounds of flooded p99 / max(quiet p99, floorMs): what the test holds to ≤ 2. */
  ratio: number;
  floorMs: number;
}

/** What one line of the counters file may carry besides the counters. */
export interface CounterRecord extends Partial<Counters> {
  /** Refusals by `<status> <code>`, e.g. `{"413 PAYLOAD_TOO_LARGE": 12}`. */
  refused?: Record<string, number>;
  flood?: FloodFigures;
}

/** The run's figures: the counters summed, the refusals summed by kind, the last flood figures. */
export interface RunFigures {
  counters: Counters;
  refused: Record<string, number>;
  flood: FloodFigures | null;
}

/** Empties the counters. */
export function resetCounters(): void {
  mkdirSync(dirname(countersFile()), { recursive: true });
  writeFileSync(countersFile(), '');
}

/** Names an empty counters file for this run (in the main process, before the test workers start). */
export function startCounters(): string {
  process.env.SATCHEL_FAULTS_COUNTERS = `${DIR}counters-${process.pid}.jsonl`;
  resetCounters();
  return countersFile();
}

/** Adds to the run's counters; safe from several test workers at once (one small append per call). */
export function addCounters(values: CounterRecord): void {
  mkdirSync(dirname(countersFile()), { recursive: true });
  appendFileSync(countersFile(), `${JSON.stringify(values)}\n`);
}

/** The counters of this run so far. */
export function readCounters(): Counters {
  return readFigures().counters;
}

/** Everything the run's tests recorded so far. */
export function readFigures(): RunFigures {
  const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Counters;
  const refused: Record<string, number> = {};
  let flood: FloodFigures | null = null;
  if (!existsSync(countersFile())) return { counters, refused, flood };
  for (const line of readFileSync(countersFile(), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const values = JSON.parse(line) as CounterRecord;
    for (const name of COUNTER_NAMES) counters[name] += values[name] ?? 0;
    for (const [kind, n] of Object.entries(values.refused ?? {})) refused[kind] = (refused[kind] ?? 0) + n;
    if (values.flood) flood = values.flood;
  }
  return { counters, refused, flood };
}

/**
 * `faults: kills=N pgRestarts=N requestsFuzzed=N acked=N lost=0 duplicated=0 5xx=0
 * floodP99=<flooded>/<unloaded>ms floodRatio=R refused=<status> <code>:N,…` (the flood and refusal parts
 * once a test recorded them).
 */
export function summaryLine(figures: RunFigures | Counters = readFigures()): string {
  const f: RunFigures = 'counters' in figures ? figures : { counters: figures, refused: {}, flood: null };
  const parts = COUNTER_NAMES.map((n) => `${n}=${f.counters[n]}`);
  if (f.flood) {
    parts.push(
      `floodP99=${f.flood.floodedP99Ms}/${f.flood.unloadedP99Ms}ms`,
      `floodRatio=${f.flood.ratio.toFixed(2)}`,
    );
  }
  const kinds = Object.entries(f.refused).sort(([a], [b]) => a.localeCompare(b));
  if (kinds.length > 0)
    parts.push(`refused=${kinds.map(([k, n]) => `${k.replace(' ', ':')}=${n}`).join(',')}`);
  return `faults: ${parts.join(' ')}`;
}
