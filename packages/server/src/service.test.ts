import { MAX_SYNC_BATCH_EVENTS } from '@satchel/protocol';
import { describe, expect, it } from 'vitest';
import type { AccountRepository } from './accounts.js';
import type { Catalogue } from './catalogue.js';
import { DEFAULT_EVENT_QUOTA, SatchelService } from './service.js';

// The constructor reads no database: stand-ins are enough to check its options.
const accounts = {} as AccountRepository;
const catalogue = {} as Catalogue;

describe('SatchelService options', () => {
  it('takes the default event quota, or a valid one', () => {
    expect(new SatchelService(accounts, { catalogue }).eventQuota).toEqual(DEFAULT_EVENT_QUOTA);
    const quota = { points: MAX_SYNC_BATCH_EVENTS, windowSec: 60 };
    expect(new SatchelService(accounts, { catalogue, eventQuota: quota }).eventQuota).toEqual(quota);
  });

  it('refuses an event quota a full sync batch could never fit in, or a window that is not whole seconds', () => {
    for (const eventQuota of [
      { points: MAX_SYNC_BATCH_EVENTS - 1, windowSec: 60 },
      { points: 1000, windowSec: 0 },
      { points: 1000, windowSec: 1.5 },
      { points: 2 ** 31, windowSec: 60 },
      { points: Number.NaN, windowSec: 60 },
    ]) {
      expect(() => new SatchelService(accounts, { catalogue, eventQuota })).toThrow(RangeError);
    }
  });
});
