import { describe, expect, it } from 'vitest';
import { parseCli, parseDuration, parseFaults, UsageError } from './options.js';
import { deriveSeed, Random } from './random.js';

describe('the command line', () => {
  it('parses fault rates and durations', () => {
    expect(parseFaults('drop=0.1,dup=0.05,reorder=0.05,delay=2s,server-restart=30m')).toEqual({
      drop: 0.1,
      dup: 0.05,
      reorder: 0.05,
      delayMs: 2000,
      serverRestartMs: 1_800_000,
      quota: 0,
      crash: 0,
    });
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(() => parseFaults('drop=2')).toThrow(UsageError);
    expect(() => parseFaults('jitter=1')).toThrow(/unknown fault/);
  });

  it('reads the options after pnpm’s `--`', () => {
    const o = parseCli([
      '--',
      '--devices',
      '200',
      '--accounts',
      '80',
      '--days',
      '30',
      '--seed',
      '42',
      '--json',
    ]);
    expect(o).toMatchObject({
      devices: 200,
      accounts: 80,
      days: 30,
      seed: 42,
      json: true,
      server: undefined,
    });
    expect(() => parseCli(['--accounts', '5', '--devices', '2'])).toThrow(UsageError);
  });
});

describe('the seeded random stream', () => {
  it('repeats for a seed and differs between streams', () => {
    const a = new Random(deriveSeed(42, 'device:d0001'));
    const b = new Random(deriveSeed(42, 'device:d0001'));
    const c = new Random(deriveSeed(42, 'device:d0002'));
    const xs = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(xs);
    expect(c.next()).not.toBe(xs[0]);
  });
});
