import { isSatchelError } from '@satchel/core';
import type { SatchelStorage } from '../storage/types.js';
import { deviceEvent, snapshot, T0 } from '../testkit.js';
import { AssertionError, equal, match, matchObject } from './assert.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Patchable = { prototype: Record<string, unknown> };

/** Replaces a method on an IndexedDB prototype (fake-indexeddb and real browsers alike); returns the undo. */
function patchIdb(
  target: Patchable,
  method: string,
  impl: (original: (...args: unknown[]) => unknown, self: unknown, args: unknown[]) => unknown,
): () => void {
  const original = target.prototype[method] as (...args: unknown[]) => unknown;
  target.prototype[method] = function (this: unknown, ...args: unknown[]) {
    return impl(original, this, args);
  };
  return () => {
    target.prototype[method] = original;
  };
}

/**
 * Records every connection opened through `indexedDB.open`, so a case can sever them as the browser does
 * when its IndexedDB backend goes away.
 */
function trackConnections(): { sever: () => void; restore: () => void } {
  const open: IDBDatabase[] = [];
  const restore = patchIdb(IDBFactory as unknown as Patchable, 'open', (original, self, args) => {
    const request = original.apply(self, args) as IDBOpenDBRequest;
    request.addEventListener('success', () => open.push(request.result));
    return request;
  });
  return {
    sever: () => {
      for (const db of open.splice(0)) db.close();
    },
    restore,
  };
}

/** Asserts that `error` is a Satchel error with `code`. */
function satchelError(error: unknown, code: string): void {
  if (!isSatchelError(error, code)) {
    const got = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new AssertionError(`expected a SatchelError with code ${code}, got ${got}`);
  }
}

function recordOf(storage: SatchelStorage): NonNullable<SatchelStorage['record']> {
  const record = storage.record;
  if (record === undefined) throw new AssertionError(`the ${storage.kind} storage has no record()`);
  return record.bind(storage);
}

/** How the contract gets storages to test. */
export interface StorageFixture {
  /**
   * A storage over a fresh, empty database (a new name each call), and `reopen`, which opens a second
   * storage over the same database — another tab's connection, or the same device after a restart.
   */
  fresh(): Promise<{ storage: SatchelStorage; reopen: () => SatchelStorage }>;
}

/** One behaviour of the contract: a name for the test runner and the check, which rejects on failure. */
export interface StorageContractCase {
  readonly name: string;
  run(): Promise<void>;
}

/**
 * The behaviour every {@link SatchelStorage} must have, as cases any test runner can run: seqs assigned
 * without gaps or duplicates across connections, acknowledgements and snapshots committed together,
 * the clock's high-water mark never moving back, `record` reading and writing in one transaction,
 * persistence across connections, and the typed errors (`STORAGE_QUOTA_EXCEEDED`,
 * `STORAGE_UNAVAILABLE`, `STORAGE_CLOSED`) with nothing half-written. Run it against an adapter of your
 * own, or against `dexieStorage` over your own Dexie database:
 *
 * ```ts
 * for (const { name, run } of storageContract({ fresh })) it(name, run);
 * ```
 *
 * Needs IndexedDB (a browser, or fake-indexeddb) and patches its prototypes while a case runs (to
 * simulate a full quota and a lost connection); run the cases one at a time.
 */
export function storageContract(fixture: StorageFixture): StorageContractCase[] {
  const cases: StorageContractCase[] = [];
  const test = (name: string, body: (ctx: CaseContext) => Promise<void>) => {
    cases.push({
      name,
      async run() {
        const connections = trackConnections();
        const restores: Array<() => void> = [];
        try {
          await body({ connections, restores });
        } finally {
          for (const restore of restores.splice(0)) restore();
          connections.restore();
        }
      },
    });
  };

  test('starts empty', async () => {
    const { storage } = await fixture.fresh();
    await storage.open();
    await storage.open();
    const meta = await storage.readMeta();
    equal(
      meta,
      {
        identity: null,
        snapshot: null,
        clock: null,
        cursor: { ackSeq: 0, lastSyncAt: null, lastError: null, updateRequired: null },
        lastSeq: 0,
      },
      'meta',
    );
    equal(await storage.pendingCount(), 0, 'await storage.pendingCount()');
    equal(await storage.pending(10), [], 'await storage.pending(10)');
  });

  test('assigns consecutive seqs and UUIDv7 ids, and returns pending in seq order', async () => {
    const { storage } = await fixture.fresh();
    const first = await storage.append([deviceEvent(1), deviceEvent(2)]);
    const second = await storage.append([deviceEvent(3)]);
    equal(
      [...first, ...second].map((e) => e.seq),
      [1, 2, 3],
      '[...first, ...second].map((e) => e.seq)',
    );
    for (const e of [...first, ...second]) match(e.eventId, UUID_V7, 'e.eventId');
    equal(
      new Set([...first, ...second].map((e) => e.eventId)).size,
      3,
      'new Set([...first, ...second].map((e) => e.eventId)).size',
    );
    const pending = await storage.pending(2);
    equal(
      pending.map((e) => [e.seq, e.data.n]),
      [
        [1, 1],
        [2, 2],
      ],
      'pending.map((e) => [e.seq, e.data.n])',
    );
    equal(await storage.pendingCount(), 3, 'await storage.pendingCount()');
    equal((await storage.readMeta()).lastSeq, 3, '(await storage.readMeta()).lastSeq');
  });

  test('never duplicates or skips a seq when two connections append concurrently', async () => {
    const { storage, reopen } = await fixture.fresh();
    const other = reopen();
    const writes = [];
    for (let i = 0; i < 40; i++) {
      writes.push(storage.append([deviceEvent(i)]));
      writes.push(other.append([deviceEvent(100 + i), deviceEvent(200 + i)]));
    }
    const seqs = (await Promise.all(writes)).flat().map((e) => e.seq);
    equal(
      seqs.sort((a, b) => a - b),
      Array.from({ length: 120 }, (_, i) => i + 1),
      'seqs.sort((a, b) => a - b)',
    );
    equal(await other.pendingCount(), 120, 'await other.pendingCount()');
    await other.close();
  });

  test('commits an acknowledgement and its snapshot together, and the cursor never goes back', async () => {
    const { storage } = await fixture.fresh();
    await storage.append([deviceEvent(1), deviceEvent(2), deviceEvent(3)]);
    const removed = await storage.commit(2, { snapshot: snapshot(7), cursor: { lastSyncAt: T0 } });
    equal(removed, 2, 'removed');
    equal(
      (await storage.pending(10)).map((e) => e.seq),
      [3],
      '(await storage.pending(10)).map((e) => e.seq)',
    );
    const meta = await storage.readMeta();
    equal(meta.snapshot?.version, 7, 'meta.snapshot?.version');
    matchObject(meta.cursor, { ackSeq: 2, lastSyncAt: T0 }, 'meta.cursor');
    await storage.commit(1, {});
    equal((await storage.readMeta()).cursor.ackSeq, 2, '(await storage.readMeta()).cursor.ackSeq');
    equal(
      await storage.commit(null, { cursor: { lastError: { code: 'NETWORK', message: 'x', at: T0 } } }),
      0,
      'await storage.commit(null, { cursor: { lastError: { code:...',
    );
    matchObject(
      (await storage.readMeta()).cursor,
      { ackSeq: 2, lastError: { code: 'NETWORK' } },
      '(await storage.readMeta()).cursor',
    );
  });

  test('renumbers reused seqs and what follows after a given seq, ids kept, in one transaction', async () => {
    const { storage, reopen } = await fixture.fresh();
    if (typeof storage.renumber !== 'function')
      throw new AssertionError(`the ${storage.kind} storage has no renumber()`);
    const before = await storage.append([deviceEvent(1), deviceEvent(2), deviceEvent(3), deviceEvent(4)]);
    // The server already holds seqs up to 3: 2 and 3 were refused as reused, 1 was a duplicate.
    const moved = await storage.renumber([2, 3], 3);
    equal(
      moved.map((e) => [e.seq, e.data.n]),
      [
        [4, 2],
        [5, 3],
        [6, 4],
      ],
      'moved.map((e) => [e.seq, e.data.n])',
    );
    equal(
      moved.map((e) => e.eventId),
      [before[1]?.eventId, before[2]?.eventId, before[3]?.eventId],
      'moved.map((e) => e.eventId)',
    );
    const other = reopen();
    equal(
      (await other.pending()).map((e) => [e.seq, e.data.n]),
      [
        [1, 1],
        [4, 2],
        [5, 3],
        [6, 4],
      ],
      '(await other.pending()).map((e) => [e.seq, e.data.n])',
    );
    const [next] = await other.append([deviceEvent(5)]);
    equal(next?.seq, 7, 'next?.seq');
    equal((await storage.renumber([], 10)).length, 0, '(await storage.renumber([], 10)).length');
    equal((await other.append([deviceEvent(6)]))[0]?.seq, 11, 'seq after an empty renumber past the last');
    await other.close();
  });

  test('keeps the clock high-water mark from moving backwards', async () => {
    const { storage } = await fixture.fresh();
    const clock = { highWaterMark: T0 + 1000, offsetMs: 0, lastEstimate: T0 + 1000, monotonic: null };
    await storage.append([], { clock });
    await storage.append([deviceEvent(1)], { clock: { ...clock, highWaterMark: T0, lastEstimate: T0 } });
    const meta = await storage.readMeta();
    equal(meta.clock?.highWaterMark, T0 + 1000, 'meta.clock?.highWaterMark');
    equal(meta.clock?.lastEstimate, T0, 'meta.clock?.lastEstimate');
  });

  test('records in one transaction: hands build the clock, identity, snapshot and the licence pending', async () => {
    const { storage } = await fixture.fresh();
    const identity = { deviceId: 'device-1', token: 't', tokenExpiresAt: null, accountId: 'a', name: 'n' };
    const clock = { highWaterMark: T0 + 1000, offsetMs: 0, lastEstimate: T0 + 1000, monotonic: null };
    await storage.append([deviceEvent(1)], { identity, clock });
    await storage.append([{ ...deviceEvent(2), data: { licenseId: 'other', n: 2 } }]);
    await storage.commit(null, { snapshot: snapshot(4) });
    const record = recordOf(storage);
    const seen: unknown[] = [];
    const { entries, result } = await record(
      { identity: true, snapshot: true, licenseId: deviceEvent(0).data.licenseId as string },
      (state) => {
        seen.push(state);
        return {
          events: [deviceEvent(3), deviceEvent(4)],
          clock: { ...clock, highWaterMark: T0, lastEstimate: T0 + 5 },
          result: 'decided',
        };
      },
    );
    equal(result, 'decided', 'result');
    matchObject(
      seen.at(-1),
      {
        identity,
        snapshot: { version: 4 },
        clock: { highWaterMark: T0 + 1000 },
        pending: [{ seq: 1, data: { n: 1 } }],
      },
      'seen.at(-1)',
    );
    equal(
      entries.map((e) => [e.seq, e.data.n]),
      [
        [3, 3],
        [4, 4],
      ],
      'entries.map((e) => [e.seq, e.data.n])',
    );
    for (const e of entries) match(e.eventId, UUID_V7, 'e.eventId');
    const meta = await storage.readMeta();
    equal(meta.lastSeq, 4, 'meta.lastSeq');
    matchObject(meta.clock, { highWaterMark: T0 + 1000, lastEstimate: T0 + 5 }, 'meta.clock');
    const { entries: none } = await record({}, (state) => {
      matchObject(state, { identity: null, snapshot: null, pending: [] }, 'state');
      return { events: [], result: null };
    });
    equal(none, [], 'none');
    equal((await storage.readMeta()).lastSeq, 4, '(await storage.readMeta()).lastSeq');
    equal(await storage.pendingCount(), 4, 'await storage.pendingCount()');
  });

  test('hands record the snapshot stored now, whichever connection wrote it last', async () => {
    const { storage, reopen } = await fixture.fresh();
    const other = reopen();
    const record = recordOf(storage);
    const version = () =>
      record({ snapshot: true }, (state) => ({ events: [], result: state.snapshot?.version ?? null }));
    equal((await version()).result, null, '(await version()).result');
    await storage.commit(null, { snapshot: snapshot(1) });
    equal((await version()).result, 1, '(await version()).result');
    equal((await version()).result, 1, '(await version()).result');
    await other.commit(null, { snapshot: snapshot(2) });
    equal((await version()).result, 2, '(await version()).result');
    await storage.commit(1, { snapshot: snapshot(3) });
    equal((await version()).result, 3, '(await version()).result');
    await other.append([deviceEvent(1)], { snapshot: snapshot(4) });
    equal((await version()).result, 4, '(await version()).result');
    await other.close();
  });

  test('never duplicates or skips a seq when record and append race from two connections', async () => {
    const { storage, reopen } = await fixture.fresh();
    const other = reopen();
    const record = recordOf(storage);
    const writes: Array<Promise<Array<{ seq: number }>>> = [];
    for (let i = 0; i < 30; i++) {
      writes.push(record({}, () => ({ events: [deviceEvent(i)], result: i })).then((r) => r.entries));
      writes.push(other.append([deviceEvent(100 + i), deviceEvent(200 + i)]));
    }
    const seqs = (await Promise.all(writes)).flat().map((e) => e.seq);
    equal(
      seqs.sort((a, b) => a - b),
      Array.from({ length: 90 }, (_, i) => i + 1),
      'seqs.sort((a, b) => a - b)',
    );
    await other.close();
  });

  test('never replaces a snapshot with an older one of the same account and device', async () => {
    const { storage } = await fixture.fresh();
    await storage.commit(null, { snapshot: snapshot(8) });
    await storage.commit(null, { snapshot: snapshot(5) });
    equal((await storage.readMeta()).snapshot?.version, 8, '(await storage.readMeta()).snapshot?.version');
    await storage.commit(null, { snapshot: snapshot(9) });
    equal((await storage.readMeta()).snapshot?.version, 9, '(await storage.readMeta()).snapshot?.version');
    await storage.close();
  });

  test('persists across connections and continues the seq after everything was acknowledged', async () => {
    const { storage, reopen } = await fixture.fresh();
    const identity = { deviceId: 'device-1', token: 't', tokenExpiresAt: null, accountId: 'a', name: 'n' };
    await storage.append([deviceEvent(1), deviceEvent(2)], { identity });
    await storage.commit(2, { snapshot: snapshot(3) });
    await storage.close();
    const again = reopen();
    const meta = await again.readMeta();
    equal(meta.identity, identity, 'meta.identity');
    equal(meta.snapshot?.version, 3, 'meta.snapshot?.version');
    equal(meta.lastSeq, 2, 'meta.lastSeq');
    const [next] = await again.append([deviceEvent(3)]);
    equal(next?.seq, 3, 'next?.seq');
    await again.close();
  });

  test('rejects with STORAGE_QUOTA_EXCEEDED and writes nothing when the quota is exhausted', async (ctx) => {
    const { storage } = await fixture.fresh();
    await storage.append([deviceEvent(1)]);
    const quota = () => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    ctx.restores.push(patchIdb(IDBObjectStore as unknown as Patchable, 'add', quota));
    ctx.restores.push(patchIdb(IDBObjectStore as unknown as Patchable, 'put', quota));
    const error = await storage.append([deviceEvent(2)]).catch((e: unknown) => e);
    satchelError(error, 'STORAGE_QUOTA_EXCEEDED');
    for (const restore of ctx.restores.splice(0)) restore();
    equal(
      (await storage.pending(10)).map((e) => e.seq),
      [1],
      '(await storage.pending(10)).map((e) => e.seq)',
    );
    equal((await storage.readMeta()).lastSeq, 1, '(await storage.readMeta()).lastSeq');
  });

  test('does not drop acknowledged events when the snapshot write fails (one transaction)', async (ctx) => {
    const { storage } = await fixture.fresh();
    await storage.append([deviceEvent(1), deviceEvent(2)]);
    ctx.restores.push(
      patchIdb(IDBObjectStore as unknown as Patchable, 'put', () => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }),
    );
    const error = await storage.commit(2, { snapshot: snapshot(9) }).catch((e: unknown) => e);
    satchelError(error, 'STORAGE_QUOTA_EXCEEDED');
    for (const restore of ctx.restores.splice(0)) restore();
    equal(await storage.pendingCount(), 2, 'await storage.pendingCount()');
    equal((await storage.readMeta()).snapshot, null, '(await storage.readMeta()).snapshot');
  });

  test('reopens once after a lost connection', async (ctx) => {
    const { storage } = await fixture.fresh();
    await storage.append([deviceEvent(1)]);
    ctx.connections.sever();
    const [entry] = await storage.append([deviceEvent(2)]);
    equal(entry?.seq, 2, 'entry?.seq');
    equal(await storage.pendingCount(), 2, 'await storage.pendingCount()');
  });

  test('rejects with STORAGE_UNAVAILABLE when the connection stays lost', async (ctx) => {
    const { storage } = await fixture.fresh();
    await storage.open();
    ctx.connections.sever();
    ctx.restores.push(
      patchIdb(IDBDatabase as unknown as Patchable, 'transaction', () => {
        throw new DOMException(
          'Connection to Indexed Database server lost. Refresh the page to try again',
          'UnknownError',
        );
      }),
    );
    const error = await storage.append([deviceEvent(1)]).catch((e: unknown) => e);
    satchelError(error, 'STORAGE_UNAVAILABLE');
    for (const restore of ctx.restores.splice(0)) restore();
    ctx.connections.sever();
    equal(await storage.pendingCount(), 0, 'await storage.pendingCount()');
  });

  test('rejects with STORAGE_CLOSED after close', async () => {
    const { storage } = await fixture.fresh();
    await storage.open();
    await storage.close();
    const error = await storage.pendingCount().catch((e: unknown) => e);
    satchelError(error, 'STORAGE_CLOSED');
  });

  return cases;
}

interface CaseContext {
  readonly connections: { sever: () => void; restore: () => void };
  readonly restores: Array<() => void>;
}
