import { startCounters } from './lib/counters.js';

/** Starts every `pnpm test:faults` run with a counters file of its own (test-output/faults/counters-<pid>.jsonl). */
export default function setup(): void {
  startCounters();
}
