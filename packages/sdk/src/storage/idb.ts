import { type IDBPDatabase, type IDBPTransaction, openDB } from 'idb';
import { StorageError } from '../errors.js';
import {
  assignEntries,
  classifyStorageError,
  META_KEYS,
  patchWrites,
  STORAGE_DATA_VERSION,
  toMeta,
  unavailable,
} from './shared.js';
import type {
  MetaPatch,
  NewOutboxEvent,
  OutboxEntry,
  SatchelStorage,
  StoredClock,
  StoredMeta,
  SyncCursor,
} from './types.js';

const OUTBOX = 'outbox';
const noop = () => {};

/**
 * Runs a transaction body; if it throws after issuing requests, aborts the transaction so nothing it
 * issued commits (an IndexedDB transaction otherwise commits whatever was requested before the throw).
 */
async function inTransaction<T>(
  tx: { abort(): void; done: Promise<void> },
  body: (track: <P>(p: Promise<P>) => Promise<P>) => Promise<T>,
): Promise<T> {
  const track = <P>(p: Promise<P>): Promise<P> => {
    p.catch(noop);
    return p;
  };
  tx.done.catch(noop);
  try {
    const result = await body(track);
    await tx.done;
    return result;
  } catch (error) {
    try {
      tx.abort();
    } catch {}
    throw error;
  }
}
const META = 'meta';

/** The IndexedDB schema version the idb adapter opens; each step of {@link migrations} leads to the next. */
export const IDB_SCHEMA_VERSION = 2;

type UpgradeTx = IDBPTransaction<unknown, string[], 'versionchange'>;

const migrations: Record<number, (db: IDBPDatabase, tx: UpgradeTx) => void> = {
  1: (db) => {
    db.createObjectStore(OUTBOX, { keyPath: 'seq' });
    db.createObjectStore(META);
  },
  2: (_db, tx) => {
    tx.objectStore(OUTBOX).createIndex('eventId', 'eventId', { unique: true });
    void tx.objectStore(META).put(STORAGE_DATA_VERSION, META_KEYS.dataVersion);
  },
};

/** Options of {@link idbStorage}. */
export interface IdbStorageOptions {
  /** IndexedDB database name (default `satchel`). One database per device identity. */
  name?: string;
  /**
   * How long an open may wait for other tabs to close an older connection before failing with
   * `STORAGE_BLOCKED` (default 10 s).
   */
  blockedTimeoutMs?: number;
  /**
   * Durability of write transactions (default `strict`: the browser flushes to disk before the write
   * resolves, so a recorded event survives a power loss). `relaxed` is faster and survives a tab or
   * browser crash, not an operating-system crash.
   */
  durability?: 'strict' | 'relaxed' | 'default';
}

/**
 * The default storage: its own IndexedDB database (through `idb`), schema version {@link IDB_SCHEMA_VERSION},
 * upgraded step by step on open. When another tab upgrades the database this connection closes itself so
 * the upgrade can proceed. A lost connection is reopened once per operation; a second failure rejects
 * with `STORAGE_UNAVAILABLE`. Writes are never dropped silently: every failure rejects with a
 * {@link StorageError}.
 */
export function idbStorage(options: IdbStorageOptions = {}): SatchelStorage {
  return new IdbStorage(
    options.name ?? 'satchel',
    options.blockedTimeoutMs ?? 10_000,
    options.durability ?? 'strict',
  );
}

class IdbStorage implements SatchelStorage {
  readonly kind = 'idb';
  #db: Promise<IDBPDatabase> | null = null;
  #closed = false;

  constructor(
    private readonly name: string,
    private readonly blockedTimeoutMs: number,
    private readonly durability: 'strict' | 'relaxed' | 'default',
  ) {}

  open(): Promise<void> {
    return this.#run(async () => undefined);
  }

  #connect(): Promise<IDBPDatabase> {
    if (typeof indexedDB === 'undefined') {
      return Promise.reject(
        new StorageError('STORAGE_UNAVAILABLE', 'IndexedDB is not available in this context'),
      );
    }
    return new Promise<IDBPDatabase>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let gaveUp = false;
      const opening = openDB(this.name, IDB_SCHEMA_VERSION, {
        upgrade: (db, oldVersion, newVersion, tx) => {
          for (let v = oldVersion + 1; v <= (newVersion ?? IDB_SCHEMA_VERSION); v++) {
            migrations[v]?.(db, tx as unknown as UpgradeTx);
          }
        },
        blocked: () => {
          timer ??= setTimeout(() => {
            gaveUp = true;
            reject(
              new StorageError(
                'STORAGE_BLOCKED',
                `Opening IndexedDB "${this.name}" is blocked by a connection in another tab that does not close`,
              ),
            );
          }, this.blockedTimeoutMs);
        },
        blocking: (_current, _blocked, event) => {
          (event.target as IDBDatabase).close();
          this.#db = null;
        },
        terminated: () => {
          this.#db = null;
        },
      });
      opening.then(
        (db) => {
          clearTimeout(timer);
          if (gaveUp) db.close();
          else resolve(db);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!gaveUp) reject(error);
        },
      );
    });
  }

  async #run<T>(fn: (db: IDBPDatabase) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new StorageError('STORAGE_CLOSED', 'The storage is closed');
      let db: IDBPDatabase;
      try {
        this.#db ??= this.#connect();
        db = await this.#db;
      } catch (error) {
        this.#db = null;
        const kind = classifyStorageError(error);
        if (kind === 'lost' && attempt === 0) continue;
        throw kind === 'lost' ? unavailable(error) : kind;
      }
      try {
        return await fn(db);
      } catch (error) {
        const kind = classifyStorageError(error);
        if (kind !== 'lost') throw kind;
        if (this.#closed) throw new StorageError('STORAGE_CLOSED', 'The storage is closed', { cause: error });
        try {
          db.close();
        } catch {}
        this.#db = null;
        if (attempt > 0) throw unavailable(error);
      }
    }
  }

  append(events: readonly NewOutboxEvent[], patch?: MetaPatch): Promise<OutboxEntry[]> {
    return this.#run(async (db) => {
      const tx = db.transaction([OUTBOX, META], 'readwrite', { durability: this.durability });
      const meta = tx.objectStore(META);
      const outbox = tx.objectStore(OUTBOX);
      return inTransaction(tx, async (track) => {
        const [lastSeq, clock, cursor] = await Promise.all([
          track(meta.get(META_KEYS.lastSeq) as Promise<number | undefined>),
          patch?.clock !== undefined
            ? track(meta.get(META_KEYS.clock) as Promise<StoredClock | undefined>)
            : undefined,
          patch?.cursor !== undefined
            ? track(meta.get(META_KEYS.cursor) as Promise<SyncCursor | undefined>)
            : undefined,
        ]);
        const entries = assignEntries(events, lastSeq ?? 0);
        const writes: Promise<unknown>[] = [];
        for (const entry of entries) writes.push(track(outbox.add(entry)));
        if (entries.length > 0)
          writes.push(track(meta.put((lastSeq ?? 0) + entries.length, META_KEYS.lastSeq)));
        for (const [key, value] of patchWrites(patch, clock ?? null, cursor, null))
          writes.push(track(meta.put(value, key)));
        await Promise.all(writes);
        return entries;
      });
    });
  }

  pending(limit?: number): Promise<OutboxEntry[]> {
    const count = limit === undefined || limit >= 0xffffffff ? undefined : Math.max(0, limit);
    return this.#run((db) => db.getAll(OUTBOX, null, count) as Promise<OutboxEntry[]>);
  }

  pendingCount(): Promise<number> {
    return this.#run((db) => db.count(OUTBOX));
  }

  commit(ackSeq: number | null, patch?: MetaPatch): Promise<number> {
    return this.#run(async (db) => {
      const tx = db.transaction([OUTBOX, META], 'readwrite', { durability: this.durability });
      const meta = tx.objectStore(META);
      const outbox = tx.objectStore(OUTBOX);
      const range = ackSeq !== null && ackSeq >= 1 ? IDBKeyRange.upperBound(ackSeq) : null;
      return inTransaction(tx, async (track) => {
        const [removed, clock, cursor, snapshot] = await Promise.all([
          range === null ? 0 : track(outbox.count(range)),
          track(meta.get(META_KEYS.clock) as Promise<StoredClock | undefined>),
          track(meta.get(META_KEYS.cursor) as Promise<SyncCursor | undefined>),
          patch?.snapshot === undefined
            ? undefined
            : track(meta.get(META_KEYS.snapshot) as Promise<StoredMeta['snapshot'] | undefined>),
        ]);
        const writes: Promise<unknown>[] = [];
        if (range !== null) writes.push(track(outbox.delete(range)));
        for (const [key, value] of patchWrites(patch, clock ?? null, cursor, ackSeq, snapshot)) {
          writes.push(track(meta.put(value, key)));
        }
        await Promise.all(writes);
        return removed;
      });
    });
  }

  readMeta(): Promise<StoredMeta> {
    return this.#run(async (db) => {
      const tx = db.transaction(META, 'readonly');
      const store = tx.store;
      const [identity, snapshot, clock, cursor, lastSeq] = await Promise.all([
        store.get(META_KEYS.identity),
        store.get(META_KEYS.snapshot),
        store.get(META_KEYS.clock),
        store.get(META_KEYS.cursor),
        store.get(META_KEYS.lastSeq),
        tx.done,
      ]);
      return toMeta({ identity, snapshot, clock, cursor, lastSeq });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const db = this.#db;
    this.#db = null;
    if (db !== null) {
      try {
        (await db).close();
      } catch {}
    }
  }
}
