import { MAX_SYNC_BATCH_EVENTS } from '@satchel/protocol';
import { describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { DEFAULT_LIMITS, RequestLimits, resolveLimits } from './limits.js';

describe('resolveLimits', () => {
  it('defaults: 200 requests per device and 600 per account per 10 s, 10,000 events per device per hour', () => {
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS.device).toEqual({ points: 200, windowSec: 10 });
    expect(DEFAULT_LIMITS.account).toEqual({ points: 600, windowSec: 10 });
    expect(DEFAULT_LIMITS.events).toEqual({ points: 10_000, windowSec: 3600 });
  });

  it('reads the older token-bucket form as a window, and lets `limits` override any part', () => {
    const l = resolveLimits({ burst: 20, perSecond: 10 }, { account: { points: 7, windowSec: 5 } });
    expect(l.device).toEqual({ points: 20, windowSec: 2 });
    expect(l.account).toEqual({ points: 7, windowSec: 5 });
    expect(l.events.points).toBe(DEFAULT_LIMITS.events.points);
  });

  it('refuses windows that are not whole seconds, empty limits and a quota below one sync batch', () => {
    expect(() => resolveLimits(undefined, { device: { points: 5, windowSec: 0.5 } })).toThrow(RangeError);
    expect(() => resolveLimits(undefined, { account: { points: 0, windowSec: 10 } })).toThrow(RangeError);
    expect(() =>
      resolveLimits(undefined, { events: { points: MAX_SYNC_BATCH_EVENTS - 1, windowSec: 60 } }),
    ).toThrow(/sync batch/);
  });
});

describe('request limits in one process (PGlite)', () => {
  // The limits only ask which engine it is: PGlite keeps them in this process's memory.
  const db = { kind: 'pglite' } as Database;

  it('case 6: counters are never reset wholesale: 100,001 other keys later, a used-up device is still refused', async () => {
    const limits = new RequestLimits(
      db,
      resolveLimits(undefined, {
        device: { points: 2, windowSec: 3600 },
        account: { points: 1_000_000, windowSec: 3600 },
      }),
    );
    expect(limits.store).toBe('memory');
    const hostile = { kind: 'device' as const, accountId: 'acct', deviceId: 'hostile' };
    expect(await limits.request(hostile)).toBeNull();
    expect(await limits.request(hostile)).toBeNull();
    expect(await limits.request(hostile)).toMatchObject({ details: { scope: 'device', limit: 2 } });
    // The old per-process map was cleared once it held 100,000 keys: a fresh burst for everyone.
    for (let i = 0; i < 100_001; i++) {
      await limits.request({ kind: 'device', accountId: 'acct', deviceId: `other-${i}` });
    }
    const after = await limits.request(hostile);
    expect(after).toMatchObject({ details: { scope: 'device', limit: 2, windowSec: 3600 } });
    expect(after?.retryAfterMs).toBeGreaterThan(3_000_000);
  }, 120_000);

  it('an account token and its devices share the account limit; an operator has its own', async () => {
    const limits = new RequestLimits(
      db,
      resolveLimits(undefined, {
        device: { points: 100, windowSec: 60 },
        account: { points: 3, windowSec: 60 },
        operator: { points: 1, windowSec: 60 },
      }),
    );
    expect(await limits.request({ kind: 'account', accountId: 'x' })).toBeNull();
    expect(await limits.request({ kind: 'device', accountId: 'x', deviceId: 'd1' })).toBeNull();
    expect(await limits.request({ kind: 'device', accountId: 'x', deviceId: 'd2' })).toBeNull();
    expect(await limits.request({ kind: 'device', accountId: 'x', deviceId: 'd3' })).toMatchObject({
      details: { scope: 'account', limit: 3 },
    });
    expect(await limits.request({ kind: 'device', accountId: 'y', deviceId: 'd1' })).toBeNull();
    expect(await limits.request({ kind: 'operator', operatorId: 'op' })).toBeNull();
    expect(await limits.request({ kind: 'operator', operatorId: 'op' })).toMatchObject({
      details: { scope: 'operator', limit: 1 },
    });
  });
});

describe('resolveLimits with a very large token bucket', () => {
  it('caps every derived limit at 2^31-1 instead of refusing it', () => {
    const l = resolveLimits({ burst: 1e9, perSecond: 1e9 });
    expect(l.device).toEqual({ points: 1e9, windowSec: 1 });
    expect(l.account.points).toBe(2 ** 31 - 1);
    expect(l.events.points).toBe(2 ** 31 - 1);
  });
});
