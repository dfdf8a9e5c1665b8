import 'fake-indexeddb/auto';
import { isSatchelError } from '@satchel/core';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { deviceEvent } from '../testkit.js';
import { describeStorageContract } from './contract.testkit.js';
import { IDB_SCHEMA_VERSION, idbStorage } from './idb.js';
import { classifyStorageError, diskFull, internalIoError } from './shared.js';

let counter = 0;
const freshName = () => `satchel-idb-test-${++counter}-${Math.random().toString(36).slice(2)}`;

describeStorageContract('idb', {
  async fresh() {
    const name = freshName();
    return { storage: idbStorage({ name }), reopen: () => idbStorage({ name }) };
  },
});

describe('idb schema versions', () => {
  it('upgrades a version 1 database and keeps its outbox', async () => {
    const name = freshName();
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('outbox', { keyPath: 'seq' });
        db.createObjectStore('meta');
      },
    });
    await v1.put('outbox', { ...deviceEvent(1), seq: 1, eventId: '01890000-0000-7000-8000-00000000000a' });
    await v1.put('meta', 1, 'lastSeq');
    v1.close();
    const storage = idbStorage({ name });
    const [next] = await storage.append([deviceEvent(2)]);
    expect(next?.seq).toBe(2);
    expect((await storage.pending(10)).map((e) => e.seq)).toEqual([1, 2]);
    await storage.close();
    const raw = await openDB(name);
    expect(raw.version).toBe(IDB_SCHEMA_VERSION);
    expect([...raw.transaction('outbox').store.indexNames]).toEqual(['eventId', 'licenseId']);
    raw.close();
  });

  it('fails with STORAGE_BLOCKED when an older connection never closes', async () => {
    const name = freshName();
    const stubborn = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('outbox', { keyPath: 'seq' });
        db.createObjectStore('meta');
      },
    });
    const storage = idbStorage({ name, blockedTimeoutMs: 50 });
    const error = await storage.open().catch((e: unknown) => e);
    expect(isSatchelError(error, 'STORAGE_BLOCKED')).toBe(true);
    stubborn.close();
    await storage.open();
    expect(await storage.pendingCount()).toBe(0);
    await storage.close();
  });

  it('closes itself for a newer version opened elsewhere, then reports STORAGE_VERSION_TOO_NEW', async () => {
    const name = freshName();
    const storage = idbStorage({ name, blockedTimeoutMs: 200 });
    await storage.append([deviceEvent(1)]);
    let blocked = false;
    const newer = await openDB(name, IDB_SCHEMA_VERSION + 1, {
      blocked() {
        blocked = true;
      },
    });
    expect(blocked).toBe(false);
    const error = await storage.pendingCount().catch((e: unknown) => e);
    expect(isSatchelError(error, 'STORAGE_VERSION_TOO_NEW')).toBe(true);
    newer.close();
  });
});

describe('idb errors it handles without throwing', () => {
  type Entry = { level: string; message: string };
  const logger = (entries: Entry[]) => ({
    log: (level: string, message: string) => entries.push({ level, message }),
  });

  it('reports a lost connection it reopened, and a close of it that failed, to the logger', async () => {
    const entries: Entry[] = [];
    const storage = idbStorage({ name: freshName(), logger: logger(entries) });
    await storage.append([deviceEvent(1)]);
    const transaction = IDBDatabase.prototype.transaction;
    const close = IDBDatabase.prototype.close;
    let lost = true;
    IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: unknown[]) {
      if (lost) {
        lost = false;
        throw new DOMException('The database connection is closing.', 'InvalidStateError');
      }
      return (transaction as (...a: unknown[]) => IDBTransaction).apply(this, args);
    } as typeof transaction;
    IDBDatabase.prototype.close = () => {
      throw new DOMException('close failed', 'UnknownError');
    };
    try {
      expect(await storage.pendingCount()).toBe(1);
    } finally {
      IDBDatabase.prototype.transaction = transaction;
      IDBDatabase.prototype.close = close;
    }
    expect(entries).toContainEqual({
      level: 'warn',
      message: 'storage: the IndexedDB connection was lost; reopening it',
    });
    expect(entries).toContainEqual({ level: 'debug', message: 'storage: closing a lost connection failed' });
    await storage.close();
  });

  it('reports an abort that failed after a failed record to the logger, and rejects with the failure', async () => {
    const entries: Entry[] = [];
    const storage = idbStorage({ name: freshName(), logger: logger(entries) });
    await storage.open();
    const abort = IDBTransaction.prototype.abort;
    IDBTransaction.prototype.abort = () => {
      throw new DOMException('already finished', 'InvalidStateError');
    };
    try {
      const error = await storage
        .record?.({}, () => {
          throw new Error('build failed');
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/build failed/);
    } finally {
      IDBTransaction.prototype.abort = abort;
    }
    expect(entries.map((e) => e.message)).toContain(
      'storage: could not abort a failed transaction (it had already ended)',
    );
    await storage.close();
  });
});

describe('a full disk as Chromium reports it', () => {
  it('reads a LevelDB "no space" I/O error as STORAGE_QUOTA_EXCEEDED, not as a lost connection', () => {
    const error = new DOMException(
      'Connection is closing because of: IO error: .../000003.log: FILE_ERROR_NO_SPACE (ChromeMethodBFE: 3::WritableFileAppend::8)',
      'UnknownError',
    );
    const kind = classifyStorageError(error);
    expect(kind !== 'lost' && kind.code).toBe('STORAGE_QUOTA_EXCEEDED');
  });

  it('tells an internal error on open by asking whether the storage is full', async () => {
    const error = new DOMException(
      'Internal error opening backing store for indexedDB.open.',
      'UnknownError',
    );
    expect(internalIoError(error)).toBe(true);
    expect(internalIoError(new DOMException('Version change', 'VersionError'))).toBe(false);
    const nav = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    const estimate = async (answer: () => Promise<StorageEstimate>) => {
      Object.defineProperty(globalThis, 'navigator', {
        value: { storage: { estimate: answer } },
        configurable: true,
      });
      try {
        return await diskFull();
      } finally {
        if (nav !== undefined) Object.defineProperty(globalThis, 'navigator', nav);
      }
    };
    expect(
      await estimate(() => Promise.reject(new TypeError('Internal error when calculating storage usage.'))),
    ).toBe(true);
    expect(await estimate(async () => ({ quota: 10_000_000, usage: 9_900_000 }))).toBe(true);
    expect(await estimate(async () => ({ quota: 10_000_000, usage: 1_000 }))).toBe(false);
  });

  it('asks a second store to write when the quota does not follow the free space of the disk', async () => {
    const nav = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    const had = Object.getOwnPropertyDescriptor(globalThis, 'caches');
    const deleted: string[] = [];
    const probe = async (put: () => Promise<void>) => {
      Object.defineProperty(globalThis, 'navigator', {
        value: { storage: { estimate: async () => ({ quota: 1_077_727_600, usage: 3_985_776 }) } },
        configurable: true,
      });
      Object.defineProperty(globalThis, 'caches', {
        value: {
          open: async () => ({ put }),
          delete: async (name: string) => deleted.push(name) > 0,
        },
        configurable: true,
      });
      try {
        return await diskFull();
      } finally {
        if (nav !== undefined) Object.defineProperty(globalThis, 'navigator', nav);
        if (had !== undefined) Object.defineProperty(globalThis, 'caches', had);
        else delete (globalThis as { caches?: unknown }).caches;
      }
    };
    // Chromium's answers on a full disk whose quota reads 1 GB: the Cache write fails with an internal error.
    expect(
      await probe(() =>
        Promise.reject(
          new DOMException("Failed to execute 'put' on 'Cache': Unexpected internal error.", 'UnknownError'),
        ),
      ),
    ).toBe(true);
    expect(await probe(async () => undefined)).toBe(false);
    expect(deleted).toEqual(['satchel-disk-probe', 'satchel-disk-probe']);
  });
});
