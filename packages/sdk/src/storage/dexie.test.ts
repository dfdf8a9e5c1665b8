import 'fake-indexeddb/auto';
import { isSatchelError } from '@satchel/core';
import { Dexie } from 'dexie';
import { describe, expect, it } from 'vitest';
import { deviceEvent } from '../testkit.js';
import { describeStorageContract } from './contract.testkit.js';
import { dexieStorage, SATCHEL_DEXIE_SCHEMA } from './dexie.js';

let counter = 0;

function playerDb(name: string): Dexie {
  const db = new Dexie(name);
  db.version(1).stores({ videos: '++id, title' });
  db.version(2).stores({ ...SATCHEL_DEXIE_SCHEMA });
  return db;
}

describeStorageContract('dexie', {
  async fresh() {
    const name = `player-${++counter}-${Math.random().toString(36).slice(2)}`;
    return { storage: dexieStorage(playerDb(name)), reopen: () => dexieStorage(playerDb(name)) };
  },
});

describe('dexie adapter', () => {
  it("lives in the player's own database next to its tables", async () => {
    const db = playerDb(`player-own-${++counter}`);
    await db.table('videos').add({ title: 'Film' });
    const storage = dexieStorage(db);
    await storage.append([deviceEvent(1)]);
    expect(await db.table('videos').count()).toBe(1);
    expect(await db.table('satchel_outbox').count()).toBe(1);
    await storage.close();
    expect(db.isOpen()).toBe(true);
    db.close();
  });

  it('refuses data written by a newer SDK', async () => {
    const db = playerDb(`player-newer-${++counter}`);
    await db.table('satchel_meta').put(99, 'dataVersion');
    const error = await dexieStorage(db)
      .pendingCount()
      .catch((e: unknown) => e);
    expect(isSatchelError(error, 'STORAGE_VERSION_TOO_NEW')).toBe(true);
    db.close();
  });
});

describe('dexie errors it handles without throwing', () => {
  it('reports a lost connection it reopened to the logger', async () => {
    const entries: Array<{ level: string; message: string }> = [];
    const db = playerDb(`player-lost-${++counter}`);
    const storage = dexieStorage(db);
    storage.useLogger?.({ log: (level, message) => entries.push({ level, message }) });
    await storage.append([deviceEvent(1)]);
    const close = db.close.bind(db);
    const outbox = db.table('satchel_outbox');
    const count = outbox.count.bind(outbox);
    let lost = true;
    // The connection dies under the next read (as when the browser closes it).
    (outbox as unknown as { count: unknown }).count = () => {
      if (!lost) return count();
      lost = false;
      return Promise.reject(new Dexie.DatabaseClosedError('Database has been closed'));
    };
    (db as unknown as { close: unknown }).close = () => {
      throw new Error('close failed');
    };
    try {
      expect(await storage.pendingCount()).toBe(1);
    } finally {
      (db as unknown as { close: unknown }).close = close;
    }
    expect(entries).toContainEqual({
      level: 'warn',
      message: 'storage: the Dexie connection was lost; reopening it',
    });
    expect(entries).toContainEqual({ level: 'debug', message: 'storage: closing a lost connection failed' });
    db.close();
  });
});
