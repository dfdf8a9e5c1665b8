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
export function addCounters(values: Partial<Counters>): void {
  mkdirSync(dirname(countersFile()), { recursive: true });
  appendFileSync(countersFile(), `${JSON.stringify(values)}\n`);
}

/** The counters of this run so far. */
export function readCounters(): Counters {
  const total = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Counters;
  if (!existsSync(countersFile())) return total;
  for (const line of readFileSync(countersFile(), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const values = JSON.parse(line) as Partial<Counters>;
    for (const name of COUNTER_NAMES) total[name] += values[name] ?? 0;
  }
  return total;
}

/** `faults: kills=N pgRestarts=N requestsFuzzed=N acked=N lost=0 duplicated=0 5xx=0` */
export function summaryLine(c: Counters = readCounters()): string {
  return `faults: ${COUNTER_NAMES.map((n) => `${n}=${c[n]}`).join(' ')}`;
}
