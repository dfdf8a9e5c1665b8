import { isSatchelError } from '@satchel/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deviceEvent, snapshot, T0 } from '../testkit.js';
import type { SatchelStorage } from './types.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Patchable = { prototype: Record<string, unknown> };

/** Replaces a method on an IndexedDB prototype (works for fake-indexeddb and real browsers alike). */
export function patchIdb(
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
 * Records every connection opened through `indexedDB.open`, so a test can sever them as the browser does
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

function recordOf(storage: SatchelStorage): NonNullable<SatchelStorage['record']> {
  const record = storage.record;
  if (record === undefined) throw new Error(`the ${storage.kind} storage has no record()`);
  return record.bind(storage);
}

export interface StorageFixture {
  /** A storage over a fresh database. */
  fresh(): Promise<{ storage: SatchelStorage; reopen: () => SatchelStorage }>;
}

/** The behaviour every storage adapter must have. */
export function describeStorageContract(name: string, fixture: StorageFixture): void {
  describe(`storage contract: ${name}`, () => {
    const restores: Array<() => void> = [];
    let connections: ReturnType<typeof trackConnections>;
    beforeAll(() => {
      connections = trackConnections();
    });
    afterAll(() => connections.restore());
    afterEach(() => {
      for (const restore of restores.splice(0)) restore();
    });

    it('starts empty', async () => {
      const { storage } = await fixture.fresh();
      await storage.open();
      await storage.open();
      const meta = await storage.readMeta();
      expect(meta).toEqual({
        identity: null,
        snapshot: null,
        clock: null,
        cursor: { ackSeq: 0, lastSyncAt: null, lastError: null, updateRequired: null },
        lastSeq: 0,
      });
      expect(await storage.pendingCount()).toBe(0);
      expect(await storage.pending(10)).toEqual([]);
    });

    it('assigns consecutive seqs and UUIDv7 ids, and returns pending in seq order', async () => {
      const { storage } = await fixture.fresh();
      const first = await storage.append([deviceEvent(1), deviceEvent(2)]);
      const second = await storage.append([deviceEvent(3)]);
      expect([...first, ...second].map((e) => e.seq)).toEqual([1, 2, 3]);
      for (const e of [...first, ...second]) expect(e.eventId).toMatch(UUID_V7);
      expect(new Set([...first, ...second].map((e) => e.eventId)).size).toBe(3);
      const pending = await storage.pending(2);
      expect(pending.map((e) => [e.seq, e.data.n])).toEqual([
        [1, 1],
        [2, 2],
      ]);
      expect(await storage.pendingCount()).toBe(3);
      expect((await storage.readMeta()).lastSeq).toBe(3);
    });

    it('never duplicates or skips a seq when two connections append concurrently', async () => {
      const { storage, reopen } = await fixture.fresh();
      const other = reopen();
      const writes = [];
      for (let i = 0; i < 40; i++) {
        writes.push(storage.append([deviceEvent(i)]));
        writes.push(other.append([deviceEvent(100 + i), deviceEvent(200 + i)]));
      }
      const seqs = (await Promise.all(writes)).flat().map((e) => e.seq);
      expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
      expect(await other.pendingCount()).toBe(120);
      await other.close();
    });

    it('commits an acknowledgement and its snapshot together, and the cursor never goes back', async () => {
      const { storage } = await fixture.fresh();
      await storage.append([deviceEvent(1), deviceEvent(2), deviceEvent(3)]);
      const removed = await storage.commit(2, { snapshot: snapshot(7), cursor: { lastSyncAt: T0 } });
      expect(removed).toBe(2);
      expect((await storage.pending(10)).map((e) => e.seq)).toEqual([3]);
      const meta = await storage.readMeta();
      expect(meta.snapshot?.version).toBe(7);
      expect(meta.cursor).toMatchObject({ ackSeq: 2, lastSyncAt: T0 });
      await storage.commit(1, {});
      expect((await storage.readMeta()).cursor.ackSeq).toBe(2);
      expect(
        await storage.commit(null, { cursor: { lastError: { code: 'NETWORK', message: 'x', at: T0 } } }),
      ).toBe(0);
      expect((await storage.readMeta()).cursor).toMatchObject({ ackSeq: 2, lastError: { code: 'NETWORK' } });
    });

    it('keeps the clock high-water mark from moving backwards', async () => {
      const { storage } = await fixture.fresh();
      const clock = { highWaterMark: T0 + 1000, offsetMs: 0, lastEstimate: T0 + 1000, monotonic: null };
      await storage.append([], { clock });
      await storage.append([deviceEvent(1)], { clock: { ...clock, highWaterMark: T0, lastEstimate: T0 } });
      const meta = await storage.readMeta();
      expect(meta.clock?.highWaterMark).toBe(T0 + 1000);
      expect(meta.clock?.lastEstimate).toBe(T0);
    });

    it('records in one transaction: hands build the clock, identity, snapshot and the licence pending', async () => {
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
      expect(result).toBe('decided');
      expect(seen.at(-1)).toMatchObject({
        identity,
        snapshot: { version: 4 },
        clock: { highWaterMark: T0 + 1000 },
        pending: [{ seq: 1, data: { n: 1 } }],
      });
      expect(entries.map((e) => [e.seq, e.data.n])).toEqual([
        [3, 3],
        [4, 4],
      ]);
      for (const e of entries) expect(e.eventId).toMatch(UUID_V7);
      const meta = await storage.readMeta();
      expect(meta.lastSeq).toBe(4);
      expect(meta.clock).toMatchObject({ highWaterMark: T0 + 1000, lastEstimate: T0 + 5 });
      const { entries: none } = await record({}, (state) => {
        expect(state).toMatchObject({ identity: null, snapshot: null, pending: [] });
        return { events: [], result: null };
      });
      expect(none).toEqual([]);
      expect((await storage.readMeta()).lastSeq).toBe(4);
      expect(await storage.pendingCount()).toBe(4);
    });

    it('hands record the snapshot stored now, whichever connection wrote it last', async () => {
      const { storage, reopen } = await fixture.fresh();
      const other = reopen();
      const record = recordOf(storage);
      const version = () =>
        record({ snapshot: true }, (state) => ({ events: [], result: state.snapshot?.version ?? null }));
      expect((await version()).result).toBeNull();
      await storage.commit(null, { snapshot: snapshot(1) });
      expect((await version()).result).toBe(1);
      expect((await version()).result).toBe(1);
      await other.commit(null, { snapshot: snapshot(2) });
      expect((await version()).result).toBe(2);
      await storage.commit(1, { snapshot: snapshot(3) });
      expect((await version()).result).toBe(3);
      await other.append([deviceEvent(1)], { snapshot: snapshot(4) });
      expect((await version()).result).toBe(4);
      await other.close();
    });

    it('never duplicates or skips a seq when record and append race from two connections', async () => {
      const { storage, reopen } = await fixture.fresh();
      const other = reopen();
      const record = recordOf(storage);
      const writes: Array<Promise<Array<{ seq: number }>>> = [];
      for (let i = 0; i < 30; i++) {
        writes.push(record({}, () => ({ events: [deviceEvent(i)], result: i })).then((r) => r.entries));
        writes.push(other.append([deviceEvent(100 + i), deviceEvent(200 + i)]));
      }
      const seqs = (await Promise.all(writes)).flat().map((e) => e.seq);
      expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
      await other.close();
    });

    it('never replaces a snapshot with an older one of the same account and device', async () => {
      const { storage } = await fixture.fresh();
      await storage.commit(null, { snapshot: snapshot(8) });
      await storage.commit(null, { snapshot: snapshot(5) });
      expect((await storage.readMeta()).snapshot?.version).toBe(8);
      await storage.commit(null, { snapshot: snapshot(9) });
      expect((await storage.readMeta()).snapshot?.version).toBe(9);
      await storage.close();
    });

    it('persists across connections and continues the seq after everything was acknowledged', async () => {
      const { storage, reopen } = await fixture.fresh();
      const identity = { deviceId: 'device-1', token: 't', tokenExpiresAt: null, accountId: 'a', name: 'n' };
      await storage.append([deviceEvent(1), deviceEvent(2)], { identity });
      await storage.commit(2, { snapshot: snapshot(3) });
      await storage.close();
      const again = reopen();
      const meta = await again.readMeta();
      expect(meta.identity).toEqual(identity);
      expect(meta.snapshot?.version).toBe(3);
      expect(meta.lastSeq).toBe(2);
      const [next] = await again.append([deviceEvent(3)]);
      expect(next?.seq).toBe(3);
      await again.close();
    });

    it('rejects with STORAGE_QUOTA_EXCEEDED and writes nothing when the quota is exhausted', async () => {
      const { storage } = await fixture.fresh();
      await storage.append([deviceEvent(1)]);
      const quota = () => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      };
      restores.push(patchIdb(IDBObjectStore as unknown as Patchable, 'add', quota));
      restores.push(patchIdb(IDBObjectStore as unknown as Patchable, 'put', quota));
      const error = await storage.append([deviceEvent(2)]).catch((e: unknown) => e);
      expect(isSatchelError(error, 'STORAGE_QUOTA_EXCEEDED')).toBe(true);
      for (const restore of restores.splice(0)) restore();
      expect((await storage.pending(10)).map((e) => e.seq)).toEqual([1]);
      expect((await storage.readMeta()).lastSeq).toBe(1);
    });

    it('does not drop acknowledged events when the snapshot write fails (one transaction)', async () => {
      const { storage } = await fixture.fresh();
      await storage.append([deviceEvent(1), deviceEvent(2)]);
      restores.push(
        patchIdb(IDBObjectStore as unknown as Patchable, 'put', () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        }),
      );
      const error = await storage.commit(2, { snapshot: snapshot(9) }).catch((e: unknown) => e);
      expect(isSatchelError(error, 'STORAGE_QUOTA_EXCEEDED')).toBe(true);
      for (const restore of restores.splice(0)) restore();
      expect(await storage.pendingCount()).toBe(2);
      expect((await storage.readMeta()).snapshot).toBeNull();
    });

    it('reopens once after a lost connection', async () => {
      const { storage } = await fixture.fresh();
      await storage.append([deviceEvent(1)]);
      connections.sever();
      const [entry] = await storage.append([deviceEvent(2)]);
      expect(entry?.seq).toBe(2);
      expect(await storage.pendingCount()).toBe(2);
    });

    it('rejects with STORAGE_UNAVAILABLE when the connection stays lost', async () => {
      const { storage } = await fixture.fresh();
      await storage.open();
      connections.sever();
      restores.push(
        patchIdb(IDBDatabase as unknown as Patchable, 'transaction', () => {
          throw new DOMException(
            'Connection to Indexed Database server lost. Refresh the page to try again',
            'UnknownError',
          );
        }),
      );
      const error = await storage.append([deviceEvent(1)]).catch((e: unknown) => e);
      expect(isSatchelError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
      for (const restore of restores.splice(0)) restore();
      connections.sever();
      expect(await storage.pendingCount()).toBe(0);
    });

    it('rejects with STORAGE_CLOSED after close', async () => {
      const { storage } = await fixture.fresh();
      await storage.open();
      await storage.close();
      const error = await storage.pendingCount().catch((e: unknown) => e);
      expect(isSatchelError(error, 'STORAGE_CLOSED')).toBe(true);
    });
  });
}
