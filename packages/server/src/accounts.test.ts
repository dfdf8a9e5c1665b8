import { DEFAULT_PLAN, isSatchelError } from '@satchel/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountRepository } from './accounts.js';
import type { Database } from './db/database.js';
import { pgliteDatabase } from './db/pglite.js';
import { isConflictRetriesExhaustedError } from './errors.js';
import { Metrics } from './metrics.js';
import { EventStore } from './store/event-store.js';
import { migrate } from './store/migrations.js';
import { uid, uuid } from './testing/ids.js';

describe('AccountRepository', { timeout: 30_000 }, () => {
  let db: Database;
  beforeAll(async () => {
    db = await pgliteDatabase();
    await migrate(db);
  }, 120_000);
  afterAll(() => db?.close());

  const open = (accountId: string) => ({
    type: 'AccountOpened' as const,
    data: { accountId, plan: DEFAULT_PLAN, at: 1 },
  });

  it('appends what a unit emits, folded into its state, once the transaction commits', async () => {
    const repo = new AccountRepository(new EventStore(db));
    const account = uid('acct');
    const version = await repo.execute(account, async (unit) => {
      unit.emit([open(account)]);
      unit.emit([{ type: 'DeviceRegistered', data: { deviceId: 'd1', name: 'Laptop', at: 2 } }], {
        requestId: 'r1',
      });
      expect(unit.state.devices.d1?.status).toBe('active');
      return unit.state.version;
    });
    expect(version).toBe(2);
    const history = await repo.history(account);
    expect(history.map((h) => h.event.type)).toEqual(['AccountOpened', 'DeviceRegistered']);
    expect(history[1]?.stored.metadata).toEqual({ requestId: 'r1' });
  });

  it('reruns a unit that lost the race and gives up with a retryable error after maxAttempts', async () => {
    const metrics = new Metrics();
    const store = new EventStore(db);
    const repo = new AccountRepository(store, { maxAttempts: 3, metrics });
    const account = uid('acct');
    let attempts = 0;
    const run = repo.execute(account, async (unit) => {
      attempts += 1;
      // Another writer takes the next version inside the same transaction: the unit's append must lose.
      await store.write(unit.tx, account, {
        expectedVersion: unit.loadedVersion,
        events: [{ eventId: uuid(), type: 'AccountOpened', schemaVersion: 1, data: open(account).data }],
      });
      unit.emit([open(account)]);
    });
    const error = await run.catch((e: unknown) => e);
    expect(isConflictRetriesExhaustedError(error)).toBe(true);
    expect(isSatchelError(error, 'CONFLICT_RETRIES_EXHAUSTED')).toBe(true);
    expect(attempts).toBe(3);
    expect(await metrics.conflictsRetried.get()).toBe(2);
    expect(await metrics.conflictsExhausted.get()).toBe(1);
    expect(await store.readStream(db, account)).toEqual([]);
  });

  it('replays an account up to an instant', async () => {
    const repo = new AccountRepository(new EventStore(db));
    const account = uid('acct');
    await repo.execute(account, async (unit) => unit.emit([open(account)]));
    const before = await repo.stateAt(account, Date.now() - 60_000);
    const now = await repo.stateAt(account, Date.now() + 1000);
    expect(before.opened).toBe(false);
    expect(now.opened).toBe(true);
  });
});
