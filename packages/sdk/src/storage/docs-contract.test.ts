import 'fake-indexeddb/auto'; // IndexedDB for Node; a browser test runner has its own
import { dexieStorage, SATCHEL_DEXIE_SCHEMA } from '@satchel/sdk/dexie';
import { storageContract } from '@satchel/sdk/testing';
import Dexie from 'dexie';
import { describe, it } from 'vitest'; // or Jest, Mocha, node:test

function myPlayerDb(name: string): Dexie {
  const db = new Dexie(name);
  db.version(1).stores({ videos: '++id, title' });
  db.version(2).stores({ ...SATCHEL_DEXIE_SCHEMA });
  return db;
}

describe('Satchel storage in my player database', () => {
  const fresh = async () => {
    const name = `my-player-test-${crypto.randomUUID()}`;
    return { storage: dexieStorage(myPlayerDb(name)), reopen: () => dexieStorage(myPlayerDb(name)) };
  };
  for (const { name, run } of storageContract({ fresh })) it(name, run);
});
