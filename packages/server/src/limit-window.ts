import { MAX_SYNC_BATCH_EVENTS } from '@satchel/protocol';
import type { EventQuota } from './store/types.js';

/** The largest count a limit may have (the store's counters are 32-bit). */
export const MAX_LIMIT_POINTS = 2 ** 31 - 1;

/**
 * `w`, or a `RangeError` naming it (`name`): its window must be a whole number of seconds (at least 1),
 * its points a whole number from 1 to {@link MAX_LIMIT_POINTS}.
 */
export function checkLimitWindow<W extends EventQuota>(w: W, name: string): W {
  if (!Number.isSafeInteger(w.windowSec) || w.windowSec < 1)
    throw new RangeError(`${name}.windowSec must be a whole number of seconds, at least 1`);
  if (!Number.isSafeInteger(w.points) || w.points < 1 || w.points > MAX_LIMIT_POINTS)
    throw new RangeError(`${name}.points must be a whole number from 1 to 2^31-1`);
  return w;
}

/**
 * An event quota, or a `RangeError` naming it: a valid window ({@link checkLimitWindow}) of at least one
 * sync batch ({@link MAX_SYNC_BATCH_EVENTS}: a batch larger than the whole quota could never be stored).
 */
export function checkEventQuota(q: EventQuota, name: string): EventQuota {
  checkLimitWindow(q, name);
  if (q.points < MAX_SYNC_BATCH_EVENTS)
    throw new RangeError(`${name}.points must be at least one sync batch (${MAX_SYNC_BATCH_EVENTS})`);
  return q;
}
