import { describe, expect, it } from 'vitest';
import { policyFields } from './parse.js';

describe('policyFields', () => {
  it('takes durations and counts as non-negative integers, availableUntil as an instant', () => {
    expect(
      policyFields([
        'playbackDurationSec=21600',
        'maxDownloadsPerYear=none',
        'maxRenewals=0',
        'availableUntil=2027-01-01T00:00:00Z',
      ]),
    ).toEqual({
      playbackDurationSec: 21600,
      maxDownloadsPerYear: null,
      maxRenewals: 0,
      availableUntil: Date.parse('2027-01-01T00:00:00Z'),
    });
    expect(policyFields(['availableUntil=1798761600000'])).toEqual({ availableUntil: 1798761600000 });
  });

  it.each(['-5', '1.5', '12-01', '2027-01-01', 'none', ''])(
    'refuses playbackDurationSec=%s, naming the field',
    (value) => {
      expect(() => policyFields([`playbackDurationSec=${value}`])).toThrow(
        /playbackDurationSec must be a non-negative integer/,
      );
    },
  );

  it('refuses a count or an instant that is neither', () => {
    expect(() => policyFields(['maxRenewals=-1'])).toThrow(/maxRenewals must be/);
    expect(() => policyFields(['availableUntil=soon'])).toThrow(/availableUntil must be/);
  });

  it('refuses an unknown key, listing the known ones', () => {
    expect(() => policyFields(['bogusKey=1'])).toThrow(
      /unknown policy field bogusKey \(known: licenseDurationSec, .*availableUntil\)/,
    );
    expect(() => policyFields(['toString=1'])).toThrow(/unknown policy field toString/);
  });
});
