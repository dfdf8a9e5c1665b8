import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Queryable } from '../db/database.js';
import { isConcurrencyError, isEventQuotaExceededError } from '../errors.js';
import {
  type DeviceReceipt,
  EventStore,
  type Fold,
  type NewEvent,
  type StoredEvent,
} from '../store/event-store.js';
import { MIGRATIONS, migrate, migrationsCurrent } from '../store/migrations.js';
import { uid, uuid } from './ids.js';

export interface StoreBackend {
  db: Database;
  /** A second, independent connection pool on the same database (PostgreSQL only). */
  second?: Database;
  teardown(): Promise<void>;
}

const ev = (type: string, data: unknown = {}, metadata: NewEvent['metadata'] = {}): NewEvent => ({
  eventId: uuid(),
  type,
  schemaVersion: 1,
  data,
  metadata,
});

type Counter = { count: number; sum: number; types: string[] };
const counterFold = (foldVersion: number): Fold<Counter> => ({
  foldVersion,
  initial: () => ({ count: 0, sum: 0, types: [] }),
  apply: (state, events) =>
    events.reduce(
      (s, e) => ({
        count: s.count + 1,
        sum: s.sum + Number((e.data as { n?: number }).n ?? 0),
        types: [...s.types, e.type].slice(-3),
      }),
      state,
    ),
});

/** Appends through the store's one write path, outside any transaction unless `q` is one. */
const append = (
  store: EventStore,
  q: Queryable,
  accountId: string,
  expectedVersion: number,
  events: NewEvent[],
) => store.write(q, accountId, { expectedVersion, events });

const versionOf = async (store: EventStore, q: Queryable, accountId: string) =>
  (await store.readStream(q, accountId)).at(-1)?.streamVersion ?? 0;

const cursorOf = async (store: EventStore, q: Queryable, accountId: string, deviceId: string) =>
  (await store.deviceCursors(q, accountId)).find((c) => c.deviceId === deviceId)?.lastSeq ?? 0;

/** An accepted device receipt (device `d1` unless given). */
const accepted = (seq: number, eventId: string, deviceId = 'd1'): DeviceReceipt => ({
  deviceId,
  seq,
  eventId,
  status: 'accepted',
  code: null,
  message: null,
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Follows the global feed from `from` like a downstream reader (never rewinding) until `count` events
 * matching `mine` were seen or 15 s passed. Transactions anywhere on the PostgreSQL cluster (xids are
 * cluster-wide) may hold the feed back for a while; they must never make it skip.
 */
async function follow(
  store: EventStore,
  from: number,
  pageSize: number,
  mine: (e: StoredEvent) => boolean,
  count: number,
): Promise<StoredEvent[]> {
  const seen: StoredEvent[] = [];
  const deadline = Date.now() + 15_000;
  let pos = from;
  while (seen.length < count && Date.now() < deadline) {
    const page = await store.readAll(pos, pageSize);
    seen.push(...page.events.filter(mine));
    pos = page.lastPosition;
    if (page.events.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  return seen;
}

/** The event-store contract every backend must satisfy. */
export function storeContract(name: string, open: () => Promise<StoreBackend>): void {
  describe(`event store contract (${name})`, () => {
    let backend: StoreBackend;
    let store: EventStore;

    beforeAll(async () => {
      backend = await open();
      await migrate(backend.db);
      store = new EventStore(backend.db, { snapshotEvery: 10 });
    }, 120_000);
    afterAll(async () => {
      await backend?.teardown();
    });

    it('records applied migrations and applies each once', async () => {
      const rows = await backend.db.query<{ version: number }>(
        'SELECT version FROM satchel_migrations ORDER BY 1',
      );
      expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(backend.db)).toEqual([]);
      expect(await migrationsCurrent(backend.db)).toBe(true);
    });

    it('runs concurrent migrations under the advisory lock without failing', async () => {
      const other = backend.second ?? backend.db;
      const results = await Promise.all([migrate(backend.db), migrate(other), migrate(backend.db)]);
      expect(results.flat()).toEqual([]);
    });

    it('appends with an expected version and reads the stream back in order', async () => {
      const account = uid('acct');
      await append(store, backend.db, account, 0, [
        ev(
          'A',
          { n: 1, nested: { ok: true } },
          { deviceId: 'd1', seq: 1, deviceTime: 1000, requestId: 'r1' },
        ),
        ev('B', { n: 2 }),
      ]);
      await append(store, backend.db, account, 2, [ev('C', { n: 3 })]);
      const read = await store.readStream(backend.db, account);
      expect(read.map((e) => [e.type, e.streamVersion])).toEqual([
        ['A', 1],
        ['B', 2],
        ['C', 3],
      ]);
      expect(read[0]?.data).toEqual({ n: 1, nested: { ok: true } });
      expect(read[0]?.metadata).toEqual({ deviceId: 'd1', seq: 1, deviceTime: 1000, requestId: 'r1' });
      expect(read[0]?.recordedAt).toBeGreaterThan(Date.now() - 60_000);
      expect(read[0]?.globalPosition).toBeLessThan(read[2]?.globalPosition ?? 0);
      expect((await store.readStream(backend.db, account, 1)).map((e) => e.type)).toEqual(['B', 'C']);
    });

    it('refuses a stale expected version with a ConcurrencyError and writes nothing', async () => {
      const account = uid('acct');
      await append(store, backend.db, account, 0, [ev('A'), ev('B')]);
      const stale = backend.db.transaction((tx) => append(store, tx, account, 1, [ev('X'), ev('Y')]));
      await expect(stale).rejects.toSatisfy(isConcurrencyError);
      expect((await store.readStream(backend.db, account)).map((e) => e.type)).toEqual(['A', 'B']);
    });

    it('refuses an event id already in the stream', async () => {
      const account = uid('acct');
      const first = ev('A');
      await append(store, backend.db, account, 0, [first]);
      await expect(append(store, backend.db, account, 1, [{ ...first, type: 'again' }])).rejects.toSatisfy(
        isConcurrencyError,
      );
      expect(await versionOf(store, backend.db, account)).toBe(1);
    });

    it('keeps streams of different accounts apart (same event id allowed in another account)', async () => {
      const a = uid('acct');
      const b = uid('acct');
      const shared = ev('S');
      await append(store, backend.db, a, 0, [shared]);
      await append(store, backend.db, b, 0, [shared, ev('T')]);
      expect(await versionOf(store, backend.db, a)).toBe(1);
      expect(await versionOf(store, backend.db, b)).toBe(2);
    });

    it('rolls back appends when the enclosing transaction fails', async () => {
      const account = uid('acct');
      await expect(
        backend.db.transaction(async (tx) => {
          await append(store, tx, account, 0, [ev('A')]);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await versionOf(store, backend.db, account)).toBe(0);
    });

    it('reads the global feed in pages without skipping or repeating', async () => {
      const start = (await store.readAll(0, 1_000_000)).lastPosition;
      const a = uid('acct');
      const b = uid('acct');
      await append(store, backend.db, a, 0, [ev('a1'), ev('a2')]);
      await append(store, backend.db, b, 0, [ev('b1')]);
      await append(store, backend.db, a, 2, [ev('a3'), ev('a4')]);
      const seen = (await follow(store, start, 2, (e) => e.accountId === a || e.accountId === b, 5)).map(
        (e) => e.type,
      );
      expect(seen).toEqual(['a1', 'a2', 'b1', 'a3', 'a4']);
    });

    it('loads from the latest snapshot plus the tail, and snapshots every N events', async () => {
      const account = uid('acct');
      const fold = counterFold(1);
      const events = Array.from({ length: 25 }, (_, i) => ev(`E${i + 1}`, { n: i + 1 }));
      await append(store, backend.db, account, 0, events);
      const cold = await store.load(backend.db, account, fold);
      expect(cold).toMatchObject({
        version: 25,
        snapshotHit: false,
        tailLength: 25,
        state: { count: 25, sum: 325 },
      });
      await store.write(backend.db, account, {
        expectedVersion: 25,
        events: [ev('E26', { n: 26 })],
        snapshot: { version: 25, foldVersion: 1, state: cold.state },
      });
      const warm = await store.load(backend.db, account, fold);
      expect(warm).toMatchObject({ version: 26, snapshotHit: true, snapshotVersion: 25, tailLength: 1 });
      expect(warm.state).toEqual(
        (await store.load(backend.db, account, fold, { useSnapshots: false })).state,
      );
    });

    it('ignores a snapshot written by another fold version and rebuilds', async () => {
      const account = uid('acct');
      await append(store, backend.db, account, 0, [ev('A', { n: 5 }), ev('B', { n: 7 })]);
      await store.write(backend.db, account, {
        expectedVersion: 2,
        events: [],
        snapshot: { version: 2, foldVersion: 1, state: { count: 999, sum: 999, types: [] } },
      });
      expect(await store.load(backend.db, account, counterFold(1))).toMatchObject({
        snapshotHit: true,
        state: { count: 999 },
      });
      const loaded = await store.load(backend.db, account, counterFold(2));
      expect(loaded).toMatchObject({ snapshotHit: false, state: { count: 2, sum: 12 } });
      await store.write(backend.db, account, {
        expectedVersion: 2,
        events: [],
        snapshot: { version: 2, foldVersion: 2, state: loaded.state },
      });
      const again = await store.load(backend.db, account, counterFold(2));
      expect(again).toMatchObject({ snapshotHit: true, state: { count: 2, sum: 12 } });
      // The newer fold code replaced the older snapshot at the same version.
      expect(await store.load(backend.db, account, counterFold(1))).toMatchObject({ snapshotHit: false });
    });

    it('stores device receipts once and answers them by seq and by event id', async () => {
      const account = uid('acct');
      const r1 = accepted(1, uuid());
      const r2 = {
        deviceId: 'd1',
        seq: 2,
        eventId: uuid(),
        status: 'rejected' as const,
        code: 'X',
        message: 'no',
      };
      await store.write(backend.db, account, { expectedVersion: 0, events: [], receipts: [r1, r2] });
      const { bySeq } = await store.receipts(backend.db, account, 'd1', [1, 2, 3], []);
      expect([...bySeq.keys()].sort()).toEqual([1, 2]);
      expect(bySeq.get(2)).toEqual(r2);
      const { byEventId } = await store.receipts(backend.db, account, 'd1', [], [r1.eventId, uuid()]);
      expect(byEventId.get(r1.eventId)).toEqual(r1);
      expect(byEventId.size).toBe(1);
      await expect(
        store.write(backend.db, account, { expectedVersion: 0, events: [], receipts: [r1] }),
      ).rejects.toSatisfy(isConcurrencyError);
      expect((await store.receipts(backend.db, uid('other'), 'd1', [1], [])).bySeq.size).toBe(0);
    });

    it('writes events, receipts, the device cursor and a snapshot together, or nothing on a conflict', async () => {
      const account = uid('acct');
      const fold = counterFold(1);
      const first = [
        ev('A', { n: 1 }, { deviceId: 'd1', seq: 1 }),
        ev('B', { n: 2 }, { deviceId: 'd1', seq: 2 }),
      ];
      await backend.db.transaction((tx) =>
        store.write(tx, account, {
          expectedVersion: 0,
          events: first,
          receipts: first.map((e, i) => accepted(i + 1, e.eventId)),
          cursor: { deviceId: 'd1', lastSeq: 2, at: 5_000 },
          snapshot: { version: 2, foldVersion: 1, state: { count: 2, sum: 3, types: ['A', 'B'] } },
        }),
      );
      expect((await store.readStream(backend.db, account)).map((e) => [e.type, e.streamVersion])).toEqual([
        ['A', 1],
        ['B', 2],
      ]);
      const seen = await store.receipts(backend.db, account, 'd1', [1, 2], [first[1]?.eventId ?? '']);
      expect([...seen.bySeq.keys()].sort()).toEqual([1, 2]);
      expect(seen.byEventId.get(first[1]?.eventId ?? '')?.seq).toBe(2);
      expect(await store.deviceCursors(backend.db, account)).toEqual([
        { deviceId: 'd1', lastSeq: 2, lastSyncAt: 5_000 },
      ]);
      expect(await store.load(backend.db, account, fold)).toMatchObject({
        snapshotHit: true,
        snapshotVersion: 2,
        tailLength: 0,
        version: 2,
      });

      const late = ev('C', { n: 3 });
      const stale = backend.db.transaction((tx) =>
        store.write(tx, account, {
          expectedVersion: 1,
          events: [late],
          receipts: [accepted(3, late.eventId)],
          cursor: { deviceId: 'd1', lastSeq: 3, at: 6_000 },
        }),
      );
      await expect(stale).rejects.toSatisfy(isConcurrencyError);
      expect(await versionOf(store, backend.db, account)).toBe(2);
      expect((await store.receipts(backend.db, account, 'd1', [3], [])).bySeq.size).toBe(0);
      expect(await cursorOf(store, backend.db, account, 'd1')).toBe(2);

      await store.write(backend.db, account, {
        expectedVersion: 2,
        events: [],
        receipts: [accepted(3, late.eventId)],
        cursor: { deviceId: 'd1', lastSeq: 3, at: 7_000 },
      });
      await expect(
        store.write(backend.db, account, { expectedVersion: 2, events: [], receipts: [accepted(3, uuid())] }),
      ).rejects.toSatisfy(isConcurrencyError);
      expect(await cursorOf(store, backend.db, account, 'd1')).toBe(3);
    });

    it('compare-and-sets a device cursor: on another value nothing at all is written', async () => {
      const account = uid('acct');
      const a = ev('A', { n: 1 }, { deviceId: 'd1', seq: 1 });
      await store.write(backend.db, account, {
        expectedVersion: 0,
        events: [a],
        receipts: [accepted(1, a.eventId)],
        cursor: { deviceId: 'd1', lastSeq: 1, at: 1_000, expectedLastSeq: 0 },
      });
      // A second sync that loaded the cursor at 0 too loses, though its stream version is free.
      const b = ev('B', { n: 2 }, { deviceId: 'd1', seq: 1 });
      await expect(
        store.write(backend.db, account, {
          expectedVersion: 1,
          events: [b],
          receipts: [accepted(2, b.eventId)],
          cursor: { deviceId: 'd1', lastSeq: 2, at: 2_000, expectedLastSeq: 0 },
          snapshot: { version: 2, foldVersion: 1, state: { count: 2, sum: 3, types: [] } },
        }),
      ).rejects.toSatisfy(isConcurrencyError);
      expect((await store.readStream(backend.db, account)).map((e) => e.type)).toEqual(['A']);
      expect((await store.receipts(backend.db, account, 'd1', [2], [])).bySeq.size).toBe(0);
      expect(await store.deviceCursors(backend.db, account)).toEqual([
        { deviceId: 'd1', lastSeq: 1, lastSyncAt: 1_000 },
      ]);
      expect(await store.load(backend.db, account, counterFold(1))).toMatchObject({ snapshotHit: false });
      // With the value it holds, the same write goes through.
      await store.write(backend.db, account, {
        expectedVersion: 1,
        events: [b],
        receipts: [accepted(2, b.eventId)],
        cursor: { deviceId: 'd1', lastSeq: 2, at: 2_000, expectedLastSeq: 1 },
      });
      expect(await cursorOf(store, backend.db, account, 'd1')).toBe(2);
      // A device's first sync creates the cursor when it expects 0.
      await store.write(backend.db, account, {
        expectedVersion: 2,
        events: [],
        cursor: { deviceId: 'd2', lastSeq: 3, at: 3_000, expectedLastSeq: 0 },
      });
      expect(await cursorOf(store, backend.db, account, 'd2')).toBe(3);
    });

    it("counts a device's new events against its quota in the same write: over it, nothing at all is written", async () => {
      const account = uid('acct');
      const limit = { points: 5, windowSec: 60 };
      let version = 0;
      let seq = 0;
      const sync = (n: number, at: number, deviceId = 'd1') => {
        const events = Array.from({ length: n }, (_, i) => ev('A', { i }, { deviceId, seq: seq + 1 + i }));
        return store.write(backend.db, account, {
          expectedVersion: version,
          events,
          receipts: events.map((e, i) => accepted(seq + 1 + i, e.eventId, deviceId)),
          cursor: { deviceId, lastSeq: seq + n, at, expectedLastSeq: seq },
          quota: { deviceId, events: n, limit, at },
        });
      };
      await sync(3, 10_000);
      version = 3;
      seq = 3;
      // 3 + 3 > 5: refused, with the wait until the window (opened at 10 s) ends at 70 s.
      const refused = await sync(3, 25_000).catch((e: unknown) => e);
      expect(isEventQuotaExceededError(refused)).toBe(true);
      expect(refused).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 45_000, limit: 5, windowSec: 60 });
      expect(await versionOf(store, backend.db, account)).toBe(3);
      expect(await cursorOf(store, backend.db, account, 'd1')).toBe(3);
      expect((await store.receipts(backend.db, account, 'd1', [4], [])).bySeq.size).toBe(0);
      // What still fits goes through; another device of the account has its own quota.
      await sync(2, 26_000);
      version = 5;
      seq = 5;
      await expect(sync(1, 27_000)).rejects.toSatisfy(isEventQuotaExceededError);
      const other = ev('B', {}, { deviceId: 'd2', seq: 1 });
      await store.write(backend.db, account, {
        expectedVersion: 5,
        events: [other],
        receipts: [accepted(1, other.eventId, 'd2')],
        quota: { deviceId: 'd2', events: 1, limit, at: 27_000 },
      });
      version = 6;
      // Once the window has ended, a new one opens with the batch.
      await sync(5, 70_000);
      expect(await cursorOf(store, backend.db, account, 'd1')).toBe(10);
      version = 11;
      seq = 10;
      // A batch larger than the whole quota never fits; 0 events count nothing, even over the quota.
      await expect(sync(6, 200_000)).rejects.toSatisfy(isEventQuotaExceededError);
      await expect(
        store.write(backend.db, account, {
          expectedVersion: 11,
          events: [],
          cursor: { deviceId: 'd1', lastSeq: 10, at: 71_000, expectedLastSeq: 10 },
          quota: { deviceId: 'd1', events: 0, limit, at: 71_000 },
        }),
      ).resolves.toBeUndefined();
    });

    it('a write the cursor refuses counts nothing against the quota, also when two pools race', async () => {
      const account = uid('acct');
      const limit = { points: 6, windowSec: 60 };
      const batch = (version: number, from: number, expectedLastSeq: number, n: number, at: number) => {
        const events = Array.from({ length: n }, (_, i) => ev('A', { i }, { deviceId: 'd1', seq: from + i }));
        return {
          expectedVersion: version,
          events,
          receipts: events.map((e, i) => accepted(from + i, e.eventId)),
          cursor: { deviceId: 'd1', lastSeq: from + n - 1, at, expectedLastSeq },
          quota: { deviceId: 'd1', events: n, limit, at },
        };
      };
      await store.write(backend.db, account, batch(0, 1, 0, 2, 10_000));
      // A sync that read the cursor before the first one wrote loses its compare-and-set: nothing stored,
      // so nothing counted (it is rerun from a fresh read and counted then, once).
      await expect(store.write(backend.db, account, batch(2, 1, 0, 2, 11_000))).rejects.toSatisfy(
        isConcurrencyError,
      );
      await store.write(backend.db, account, batch(2, 3, 2, 2, 12_000));
      // Two syncs of the same batch at once, through two pools: one stores it, the other loses; 2 + 2 + 2 fit.
      const other = backend.second ?? backend.db;
      const raced = await Promise.allSettled([
        store.write(backend.db, account, batch(4, 5, 4, 2, 13_000)),
        store.write(other, account, batch(4, 5, 4, 2, 13_000)),
      ]);
      expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = raced.find((r) => r.status === 'rejected');
      expect(isConcurrencyError(lost?.reason)).toBe(true);
      expect(await versionOf(store, backend.db, account)).toBe(6);
      // The quota holds exactly the 6 stored events: one more is refused.
      await expect(store.write(backend.db, account, batch(6, 7, 6, 1, 14_000))).rejects.toSatisfy(
        isEventQuotaExceededError,
      );
    });

    it("waits out a quota window by the writer's clock, and a window opened more than a window ahead of it ends", async () => {
      const account = uid('acct');
      const limit = { points: 2, windowSec: 60 };
      let version = 0;
      const write = async (at: number) => {
        const e = ev('A', {}, { deviceId: 'd1' });
        await store.write(backend.db, account, {
          expectedVersion: version,
          events: [e],
          quota: { deviceId: 'd1', events: 1, limit, at },
        });
        version += 1;
      };
      const refusal = (at: number) => write(at).catch((e: unknown) => e);
      // A window opened at 1,000 s by a clock ahead of this one: full.
      await write(1_000_000);
      await write(1_000_001);
      // 30 s behind its start: the window ends in 90 s by this clock (within two windows), and is refused.
      expect(await refusal(970_000)).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 90_000 });
      // At the window's last millisecond: 1 ms; at its end, a new window.
      expect(await refusal(1_059_999)).toMatchObject({ retryAfterMs: 1 });
      await write(1_060_000);
      await write(1_060_001);
      // A clock more than a whole window behind the window's start (a clock set far ahead opened it) does
      // not wait for it: a new window opens at its own time, and is counted from there.
      await write(900_000);
      await write(900_001);
      expect(await refusal(900_002)).toMatchObject({ retryAfterMs: 59_998 });
      expect(version).toBe(6);
      // On PostgreSQL: a window that ended is reopened and filled by a concurrent write while this one
      // waits for its row. The refusal waits for the new window (opened no later than now), not 1 ms.
      const second = backend.second;
      if (second) {
        const opened = deferred();
        const commit = deferred();
        const filling = second.transaction(async (tx) => {
          await store.write(tx, account, {
            expectedVersion: 6,
            events: [ev('A', {}, { deviceId: 'd1' }), ev('A', {}, { deviceId: 'd1' })],
            quota: { deviceId: 'd1', events: 2, limit, at: 2_000_000 },
          });
          opened.resolve();
          await commit.promise;
        });
        await opened.promise;
        const waiting = store
          .write(backend.db, account, {
            expectedVersion: 8,
            events: [ev('A', {}, { deviceId: 'd1' })],
            quota: { deviceId: 'd1', events: 1, limit, at: 2_000_010 },
          })
          .catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 150));
        commit.resolve();
        await filling;
        expect(await waiting).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 60_000 });
      }
    });

    it('keeps payloads exact through the write (quotes, backslashes, separators, unicode, nulls)', async () => {
      const account = uid('acct');
      const data = { s: 'q"uo\\te\n', u: 'é€😀', rs: 'a\u001eb', nested: [1, { z: null }], empty: '' };
      await append(store, backend.db, account, 0, [ev('A', data, { deviceId: 'd"1', requestId: 'r\\1' })]);
      const [read] = await store.readStream(backend.db, account);
      expect(read?.data).toEqual(data);
      expect(read?.metadata).toEqual({ deviceId: 'd"1', requestId: 'r\\1' });
    });

    it('reads a device batch from one statement: the account, the cursor, and the receipts it needs', async () => {
      const account = uid('acct');
      const fold = counterFold(1);
      const [a, b, other] = [ev('A', { n: 1 }), ev('B', { n: 2 }), ev('O', { n: 4 })];
      // d1 synced seqs 1–2; d2 used an event id of its own.
      await store.write(backend.db, account, {
        expectedVersion: 0,
        events: [a, b, other],
        receipts: [accepted(1, a.eventId), accepted(2, b.eventId), accepted(1, other.eventId, 'd2')],
        cursor: { deviceId: 'd1', lastSeq: 2, at: 1_000 },
      });
      const fresh = uuid();
      const read = await store.loadDeviceBatch(backend.db, account, fold, 'd1', [
        { seq: 2, eventId: b.eventId },
        { seq: 3, eventId: other.eventId },
        { seq: 4, eventId: fresh },
      ]);
      expect(read.cursor).toBe(2);
      expect(read.loaded).toMatchObject({ version: 3, state: { count: 3, sum: 7 } });
      // By seq only at or below the cursor; by event id only above it, from any device.
      expect([...read.bySeq.keys()]).toEqual([2]);
      expect(read.bySeq.get(2)).toEqual(accepted(2, b.eventId));
      expect([...read.byEventId.keys()]).toEqual([other.eventId]);
      expect(read.byEventId.get(other.eventId)?.deviceId).toBe('d2');
      const never = await store.loadDeviceBatch(backend.db, account, fold, 'd9', [
        { seq: 1, eventId: a.eventId },
      ]);
      expect(never.cursor).toBe(0);
      expect(never.bySeq.size).toBe(0);
      expect([...never.byEventId.keys()]).toEqual([a.eventId]);
    });

    it('moves a device cursor forward only', async () => {
      const account = uid('acct');
      const advance = (lastSeq: number, at: number) =>
        store.write(backend.db, account, {
          expectedVersion: 0,
          events: [],
          cursor: { deviceId: 'd1', lastSeq, at },
        });
      expect(await cursorOf(store, backend.db, account, 'd1')).toBe(0);
      await advance(5, 1_000);
      await advance(3, 2_000);
      expect(await cursorOf(store, backend.db, account, 'd1')).toBe(5);
      expect(await store.deviceCursors(backend.db, account)).toEqual([
        { deviceId: 'd1', lastSeq: 5, lastSyncAt: 2_000 },
      ]);
    });

    it('never lets the feed skip an event committed out of order', async () => {
      const start = (await store.readAll(0, 1_000_000)).lastPosition;
      const slow = uid('slow');
      const fast = uid('fast');
      const inserted = deferred();
      const release = deferred();
      const writerDb = backend.second ?? backend.db;
      // The slow transaction takes its global position first and commits last.
      const slowTx = writerDb.transaction(async (tx) => {
        await append(store, tx, slow, 0, [ev('slow')]);
        inserted.resolve();
        await release.promise;
      });
      await inserted.promise;
      if (backend.second) {
        await append(store, backend.db, fast, 0, [ev('fast')]);
        const during = await store.readAll(start, 100);
        const types = during.events.map((e) => e.type);
        expect(types).not.toContain('fast');
        expect(types).not.toContain('slow');
        release.resolve();
        await slowTx;
        const after = await follow(
          store,
          during.lastPosition,
          100,
          (e) => e.accountId === slow || e.accountId === fast,
          2,
        );
        expect(after.map((e) => e.type)).toEqual(['slow', 'fast']);
      } else {
        // One connection: a read issued while a transaction is open waits for it, so it cannot miss it.
        const read = store.readAll(start, 100);
        release.resolve();
        await slowTx;
        expect((await read).events.filter((e) => e.accountId === slow).map((e) => e.type)).toEqual(['slow']);
      }
    });
  });
}
