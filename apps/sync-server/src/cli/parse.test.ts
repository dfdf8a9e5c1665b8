import { describe, expect, it } from 'vitest';
import { month, planFields, policyFields } from './parse.js';

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

describe('planFields', () => {
  it('takes limits as non-negative integers, the monthly limit also as none', () => {
    expect(planFields(['maxDownloadDevices=1', 'maxDownloadsPerMonth=none'])).toEqual({
      maxDownloadDevices: 1,
      maxDownloadsPerMonth: null,
    });
  });

  it('refuses an unknown field, and none where the limit is required', () => {
    expect(() => planFields(['devices=1'])).toThrow(/unknown plan field devices \(known: maxDownloadDevices/);
    expect(() => planFields(['maxDownloadDevices=none'])).toThrow(/must be a non-negative integer, got none/);
  });
});

describe('month', () => {
  it('takes YYYY-MM and refuses anything else', () => {
    expect(month('2026-11')).toBe('2026-11');
    expect(() => month('2026-13')).toThrow(/not a month/);
    expect(() => month('11/2026')).toThrow(/not a month/);
  });
});
