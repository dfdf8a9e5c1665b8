import { AsyncLocalStorage } from 'node:async_hooks';
import {
  IDBCursor,
  IDBCursorWithValue,
  IDBDatabase,
  IDBFactory,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBOpenDBRequest,
  IDBRequest,
  IDBTransaction,
  IDBVersionChangeEvent,
} from 'fake-indexeddb';
import type { Random } from './random.js';

/** What each simulated device owns of the "browser": its own IndexedDB and its own random bytes. */
export interface DeviceRealm {
  readonly indexedDB: IDBFactory;
  readonly random: Random;
}

const realms = new AsyncLocalStorage<DeviceRealm>();
let installed = false;

/** A fresh, isolated IndexedDB for one device. */
export function newIndexedDB(): IDBFactory {
  return new IDBFactory();
}

/**
 * Makes the process's browser globals per device: `indexedDB.open` reaches the IndexedDB of the device
 * whose code is running, and `crypto.getRandomValues` draws from that device's seeded stream (so ids
 * are the same on every run with the same seed). Outside a device, the real ones answer. The SDK's
 * idb storage reads the global `indexedDB`; each device also gets no BroadcastChannel, as devices
 * are separate browsers and share no tabs. Idempotent.
 */
export function installDeviceRealms(): void {
  if (installed) return;
  installed = true;
  const fallback = new IDBFactory();
  const current = () => realms.getStore()?.indexedDB ?? fallback;
  const dispatcher = {
    open: (name: string, version?: number) => current().open(name, version),
    deleteDatabase: (name: string) => current().deleteDatabase(name),
    databases: () => current().databases(),
    cmp: (a: unknown, b: unknown) => current().cmp(a, b),
  };
  Object.defineProperty(globalThis, 'indexedDB', { value: dispatcher, configurable: true, writable: true });
  const classes = {
    IDBCursor,
    IDBCursorWithValue,
    IDBDatabase,
    IDBIndex,
    IDBKeyRange,
    IDBObjectStore,
    IDBOpenDBRequest,
    IDBRequest,
    IDBTransaction,
    IDBVersionChangeEvent,
  };
  for (const [name, value] of Object.entries(classes)) {
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  Object.defineProperty(globalThis, 'BroadcastChannel', {
    value: undefined,
    configurable: true,
    writable: true,
  });
  const crypto = globalThis.crypto;
  const original = crypto.getRandomValues.bind(crypto);
  Object.defineProperty(crypto, 'getRandomValues', {
    configurable: true,
    writable: true,
    value: <T extends ArrayBufferView | null>(array: T): T => {
      const realm = realms.getStore();
      if (realm === undefined || array === null) return original(array as never) as T;
      realm.random.fill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
      return array;
    },
  });
}

/** Runs `fn` as device code of `realm` (and everything it awaits). */
export function inRealm<T>(realm: DeviceRealm, fn: () => T): T {
  return realms.run(realm, fn);
}
