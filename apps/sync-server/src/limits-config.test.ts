import { describe, expect, it } from 'vitest';
import { readLimits } from './config.js';

describe('limits from the environment', () => {
  it('reads <points>/<seconds> for each limit and leaves unset ones to the server defaults', () => {
    expect(readLimits({ SATCHEL_RATE_DEVICE: '50/5', SATCHEL_EVENT_QUOTA: '20000/3600s' })).toEqual({
      device: { points: 50, windowSec: 5 },
      events: { points: 20_000, windowSec: 3600 },
    });
    expect(readLimits({})).toEqual({});
  });

  it('refuses a value of another form', () => {
    expect(() => readLimits({ SATCHEL_RATE_ACCOUNT: '600 per 10s' })).toThrow(/SATCHEL_RATE_ACCOUNT/);
    expect(() => readLimits({ SATCHEL_RATE_OPERATOR: '-1/10' })).toThrow(/SATCHEL_RATE_OPERATOR/);
  });
});
