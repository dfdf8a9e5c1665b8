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
