import type { Reporter } from 'vitest/reporters';
import { readFigures, summaryLine } from './lib/counters.js';

/**
 * Prints the fault run's figures as the very last line of the output (it is listed after the default
 * reporter, so it writes after the default summary):
 * `faults: kills=N pgRestarts=N requestsFuzzed=N acked=N lost=0 duplicated=0 5xx=0 floodP99=…/…ms floodRatio=R
 * refused=<status>:<code>=N,…` (see `summaryLine`).
 */
export default class FaultsSummaryReporter implements Reporter {
  onTestRunEnd(): void {
    process.stdout.write(`\n${summaryLine(readFigures())}\n`);
  }
}
