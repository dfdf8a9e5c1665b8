import { describe, expect, it, vi } from 'vitest';
import { runSimulation } from './simulation.js';

// One core rule flipped, inside the real SDK: the playback window is ignored on the device.
vi.mock('@satchel/core', async (importOriginal) => {
  const core = await importOriginal<typeof import('@satchel/core')>();
  return {
    ...core,
    evaluatePlayback: (license: Parameters<typeof core.evaluatePlayback>[0], now: number) =>
      core.evaluatePlayback({ ...license, policy: { ...license.policy, playbackDurationSec: 0 } }, now),
  };
});

describe('the invariants catch a broken rule', () => {
  it('flags playback after the window closed when the SDK ignores the playback window', async () => {
    const result = await runSimulation({ devices: 12, accounts: 4, days: 5, seed: 3 });
    expect(result.summary.invariantViolations).toBeGreaterThan(0);
    const first = result.recorder.violations.find((v) => v.check === 'no-playback-after-expiry');
    expect(first?.message).toMatch(/expired at/);
    expect(first?.licenseId).toEqual(expect.any(String));
    expect(first?.events.length).toBeGreaterThan(0);
  }, 600_000);
});
