import { Dexie } from 'dexie';
import { dexieStorage, SATCHEL_DEXIE_SCHEMA } from '../entries/dexie.js';
import { storageContract } from '../entries/testing.js';
import { idbStorage } from '../index.js';
import type { StorageFixture } from '../testing/storage-contract.js';

// Runs the storage contract (`@satchel/sdk/testing`) against both adapters in this page's real
// IndexedDB, one case at a time, and leaves the outcomes on `window.__contract` for the test to read.
export interface ContractOutcome {
  adapter: string;
  name: string;
  ok: boolean;
  error: string | null;
}

let counter = 0;
const fresh = (prefix: string) => `${prefix}-${++counter}-${Math.random().toString(36).slice(2)}`;

/** The player's own Dexie database: its tables at version 1, Satchel's added at version 2. */
function playerDb(name: string): Dexie {
  const db = new Dexie(name);
  db.version(1).stores({ videos: '++id, title' });
  db.version(2).stores({ ...SATCHEL_DEXIE_SCHEMA });
  return db;
}

const fixtures: Record<string, StorageFixture> = {
  idb: {
    async fresh() {
      const name = fresh('satchel-contract-idb');
      return { storage: idbStorage({ name }), reopen: () => idbStorage({ name }) };
    },
  },
  dexie: {
    async fresh() {
      const name = fresh('player-contract-dexie');
      return { storage: dexieStorage(playerDb(name)), reopen: () => dexieStorage(playerDb(name)) };
    },
  },
};

async function run(): Promise<ContractOutcome[]> {
  const outcomes: ContractOutcome[] = [];
  for (const [adapter, fixture] of Object.entries(fixtures)) {
    for (const { name, run } of storageContract(fixture)) {
      try {
        await run();
        outcomes.push({ adapter, name, ok: true, error: null });
      } catch (error) {
        outcomes.push({
          adapter,
          name,
          ok: false,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
      }
    }
  }
  return outcomes;
}

void run().then((outcomes) => Object.assign(globalThis, { __contract: outcomes }));
