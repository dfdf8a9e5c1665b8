import type { RateLimitDetails } from '@satchel/protocol';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Database } from '../db/database.js';
import { checkEventQuota, checkLimitWindow, MAX_LIMIT_POINTS } from '../limit-window.js';
import { DEFAULT_EVENT_QUOTA } from '../service.js';

/** At most `points` in each fixed window of `windowSec` seconds (a whole number, at least 1). */
export interface LimitWindow {
  readonly points: number;
  readonly windowSec: number;
}

/**
 * The request rate limits and the event quota. Requests count per device token (`device`) and, together,
 * per account: every device token and the enrolment token of one account share `account`, so an account
 * registering more devices does not get more requests. `operator` counts per operator token. `events` is
 * the quota of new events one device may add to the store per window: sync events that are not
 * duplicates (accepted or rejected: both are stored) and licence requests (each records a grant or a
 * refusal). The request limits are counted by {@link RequestLimits}; the event quota by the write that
 * stores the events (the service's `eventQuota`, see ADR 0014).
 */
export interface Limits {
  readonly device: LimitWindow;
  readonly account: LimitWindow;
  readonly operator: LimitWindow;
  readonly events: LimitWindow;
}

/** The defaults: 200 requests per device and 600 per account per 10 s; 10,000 events per device per hour. */
export const DEFAULT_LIMITS: Limits = {
  device: { points: 200, windowSec: 10 },
  account: { points: 600, windowSec: 10 },
  operator: { points: 600, windowSec: 10 },
  events: DEFAULT_EVENT_QUOTA,
};

/**
 * The limits from a server's options. `rateLimit` is the older token-bucket form, still accepted: `burst`
 * requests per device in a window of `burst / perSecond` seconds (rounded up); the account then gets 3×
 * that and the event quota 10× `burst` events per hour (at least the default), each at most 2^31-1. `limits` overrides any
 * part. Throws a `RangeError` for a window that is not a positive whole number of seconds, a
 * non-positive limit, or an event quota below one sync batch (`MAX_SYNC_BATCH_EVENTS`: a batch
 * larger than the whole quota could never be accepted).
 */
export function resolveLimits(
  rateLimit?: { burst: number; perSecond: number },
  limits?: Partial<Limits>,
): Limits {
  let base = DEFAULT_LIMITS;
  if (rateLimit) {
    const cap = (n: number) => Math.min(MAX_LIMIT_POINTS, n);
    const points = cap(Math.max(1, Math.floor(rateLimit.burst)));
    const windowSec = Math.max(1, Math.ceil(points / rateLimit.perSecond));
    base = {
      device: { points, windowSec },
      account: { points: cap(points * 3), windowSec },
      operator: { points: cap(points * 3), windowSec },
      events: { points: cap(Math.max(DEFAULT_LIMITS.events.points, points * 10)), windowSec: 3600 },
    };
  }
  const resolved: Limits = { ...base, ...limits };
  for (const name of ['device', 'account', 'operator'] as const)
    checkLimitWindow(resolved[name], `limits.${name}`);
  checkEventQuota(resolved.events, 'limits.events');
  return resolved;
}

/** Which limit refused, how long to wait (ms, at least 1), and the limit in its unit. */
export interface LimitRefusal {
  readonly retryAfterMs: number;
  readonly details: RateLimitDetails;
}

/** The table the PostgreSQL store keeps its counters in (created by the migrations). */
export const RATE_LIMIT_TABLE = 'rate_limits';

/**
 * The request counters behind {@link Limits} (the event quota is counted by the store's write).
 *
 * On PostgreSQL they live in the `rate_limits` table (rate-limiter-flexible's PostgreSQL store: one
 * upsert per counter and request, atomic), so every instance on the database shares them: N instances
 * allow the same rate as one. Once a key is over its limit, the instance that saw it refuses that key
 * from memory until its window ends, without asking the database again. When the database does not
 * answer, each instance falls back to its own counters in memory (the same limits per instance) until it
 * answers again. Expired counters are deleted in the background (an hour after they expire). On embedded
 * PGlite (one process owns the data directory) the counters are in memory.
 *
 * Windows are fixed (not sliding): a key may make up to twice its limit across a window boundary.
 */
export class RequestLimits {
  readonly limits: Limits;
  private readonly device: RateLimiterAbstract;
  private readonly account: RateLimiterAbstract;
  private readonly operator: RateLimiterAbstract;
  /** `postgres` when the counters are shared in the database, `memory` when they are this process's. */
  readonly store: 'postgres' | 'memory';

  constructor(db: Database, limits: Limits) {
    this.limits = limits;
    this.store = db.kind === 'postgres' ? 'postgres' : 'memory';
    const make = (keyPrefix: string, w: LimitWindow): RateLimiterAbstract => {
      const opts = { keyPrefix, points: w.points, duration: w.windowSec };
      if (db.kind !== 'postgres') return new RateLimiterMemory(opts);
      return new RateLimiterPostgres({
        ...opts,
        storeClient: pgClient(db),
        storeType: 'client',
        tableName: RATE_LIMIT_TABLE,
        tableCreated: true,
        inMemoryBlockOnConsumed: w.points + 1,
        insuranceLimiter: new RateLimiterMemory(opts),
      });
    };
    this.device = make('rq-d', limits.device);
    this.account = make('rq-a', limits.account);
    this.operator = make('rq-o', limits.operator);
  }

  /**
   * Counts one request of a principal: against its device and its account, or its operator. Resolves
   * null when allowed, else the refusal with the longer wait. Rejects only if the store and its
   * fallback both fail.
   */
  async request(
    principal:
      | { kind: 'device'; accountId: string; deviceId: string }
      | { kind: 'account'; accountId: string }
      | { kind: 'operator'; operatorId: string },
  ): Promise<LimitRefusal | null> {
    if (principal.kind === 'operator') {
      return take(this.operator, key(principal.operatorId), 'operator', this.limits.operator);
    }
    const accountCount = take(this.account, key(principal.accountId), 'account', this.limits.account);
    if (principal.kind === 'account') return accountCount;
    const [byDevice, byAccount] = await Promise.all([
      take(this.device, key(principal.accountId, principal.deviceId), 'device', this.limits.device),
      accountCount,
    ]);
    return longer(byDevice, byAccount);
  }
}

// Ids may hold ':' themselves: JSON keeps the parts apart.
const key = (...parts: string[]): string => JSON.stringify(parts);

async function take(
  limiter: RateLimiterAbstract,
  k: string,
  scope: RateLimitDetails['scope'],
  w: LimitWindow,
): Promise<LimitRefusal | null> {
  try {
    await limiter.consume(k);
    return null;
  } catch (e) {
    if (!(e instanceof RateLimiterRes)) throw e;
    return {
      retryAfterMs: Math.max(1, Math.ceil(e.msBeforeNext)),
      details: { scope, limit: w.points, windowSec: w.windowSec },
    };
  }
}

const longer = (a: LimitRefusal | null, b: LimitRefusal | null): LimitRefusal | null =>
  a === null ? b : b === null ? a : a.retryAfterMs >= b.retryAfterMs ? a : b;

/** rate-limiter-flexible's PostgreSQL store asks a `pg`-like client: `query({ text, values })` → `{ rows, rowCount }`. */
function pgClient(db: Database) {
  return {
    async query(q: { text: string; values?: unknown[] }) {
      const rows = await db.query(q.text, q.values ?? []);
      return { rows, rowCount: rows.length };
    },
  };
}
