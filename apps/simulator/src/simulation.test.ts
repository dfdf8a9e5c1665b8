import { describe, expect, it } from 'vitest';
import { parseFaults } from './options.js';
import { runSimulation, type Summary } from './simulation.js';

/** The summary without what the wall clock and the machine decide. */
const deterministic = ({ wallSeconds, cpuSeconds, loadAverage, syncLatencyMs, ...rest }: Summary) => rest;

describe('a small simulation on the embedded server', () => {
  it('runs the real SDK against the real server through every fault with no violation', async () => {
    const result = await runSimulation({
      devices: 14,
      accounts: 5,
      days: 4,
      seed: 7,
      faults: parseFaults('drop=0.1,dup=0.05,reorder=0.05,delay=2s,server-restart=1d,quota=0.02,crash=0.02'),
    });
    const { summary } = result;
    expect(summary.eventsRecorded).toBeGreaterThan(0);
    expect(summary.playbacksAllowed).toBeGreaterThan(0);
    expect(summary.syncs).toBeGreaterThan(0);
    expect(summary.faults.serverRestarts).toBeGreaterThanOrEqual(3);
    expect(summary.faults.requestsDropped + summary.faults.responsesDropped).toBeGreaterThan(0);
    expect(summary.eventsAcknowledged + summary.eventsPending).toBe(summary.eventsRecorded);
    expect(summary.eventsLost).toBe(0);
    expect(summary.duplicatesApplied).toBe(0);
    expect(result.recorder.violations).toEqual([]);
    expect(summary.invariantViolations).toBe(0);
  }, 600_000);
});

describe('determinism', () => {
  it('repeats a run exactly for the same seed, and differs for another', async () => {
    const options = {
      devices: 6,
      accounts: 2,
      days: 2,
      faults: parseFaults('drop=0.1,dup=0.05,reorder=0.05,delay=1s,quota=0.02,crash=0.02'),
    };
    const [a, b, c] = await Promise.all([
      runSimulation({ ...options, seed: 11 }),
      runSimulation({ ...options, seed: 11 }),
      runSimulation({ ...options, seed: 12 }),
    ]);
    expect(a.summary.eventsRecorded).toBeGreaterThan(0);
    expect(deterministic(b.summary)).toEqual(deterministic(a.summary));
    expect(deterministic(c.summary)).not.toEqual(deterministic(a.summary));
  }, 600_000);
});
