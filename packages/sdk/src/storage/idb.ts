import { type IDBPDatabase, type IDBPTransaction, openDB, unwrap } from 'idb';
import { StorageError } from '../errors.js';
import { type SatchelLogger, safeLogger, silentLogger } from '../logger.js';
import { uuidv7 } from '../uuid.js';
import {
  assignEntries,
  classifyStorageError,
  diskFull,
  internalIoError,
  META_KEYS,
  mergeClock,
  patchWrites,
  quotaFromDisk,
  renumbered,
  STORAGE_DATA_VERSION,
  toMeta,
  unavailable,
} from './shared.js';
import type {
  MetaPatch,
  NewOutboxEvent,
  OutboxEntry,
  RecordPlan,
  RecordRead,
  RecordState,
  SatchelStorage,
  StoredClock,
  StoredMeta,
  SyncCursor,
} from './types.js';

const OUTBOX = 'outbox';
const BY_LICENSE = 'licenseId';
const noop = () => {};

/**
 * Runs a transaction body; if it throws after issuing requests, aborts the transaction so nothing it
 * issued commits (an IndexedDB transaction otherwise commits whatever was requested before the throw).
 */
async function inTransaction<T>(
  tx: { abort(): void; done: Promise<void> },
  logger: SatchelLogger,
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
    abortQuietly(tx, logger, error);
    throw error;
  }
}

// Aborting a transaction that already ended throws; the original failure is what the caller hears.
function abortQuietly(tx: { abort(): void }, logger: SatchelLogger, cause: unknown): void {
  try {
    tx.abort();
  } catch (error) {
    logger.log('debug', 'storage: could not abort a failed transaction (it had already ended)', {
      error,
      cause,
    });
  }
}
const META = 'meta';

// Chromium reports a full disk as an internal error (opening the backing store, a LevelDB I/O error),
// not as a QuotaExceededError: told apart by asking the browser whether the storage is full.
async function typed(error: StorageError, raw: unknown): Promise<StorageError> {
  if (error.code === 'STORAGE_UNAVAILABLE' && internalIoError(raw) && (await diskFull())) {
    return quotaFromDisk(raw);
  }
  return error;
}

/** The IndexedDB schema version the idb adapter opens; each step of {@link migrations} leads to the next. */
export const IDB_SCHEMA_VERSION = 3;

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
  3: (_db, tx) => {
    tx.objectStore(OUTBOX).createIndex(BY_LICENSE, 'data.licenseId');
    void tx.objectStore(META).put(uuidv7(), META_KEYS.snapshotStamp);
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
  /** Receives the errors the adapter handles without throwing (default: silent; a client passes its own). */
  logger?: SatchelLogger;
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
  const storage = new IdbStorage(
    options.name ?? 'satchel',
    options.blockedTimeoutMs ?? 10_000,
    options.durability ?? 'strict',
  );
  if (options.logger !== undefined) storage.useLogger(options.logger);
  return storage;
}

class IdbStorage implements SatchelStorage {
  readonly kind = 'idb';
  #db: Promise<IDBPDatabase> | null = null;
  #closed = false;
  // An open that gave up waiting on a blocking tab but is still queued: IndexedDB serves opens in order,
  // so a new one would wait behind it without ever hearing `blocked`. The next attempt waits on it instead.
  #abandoned: Promise<IDBPDatabase> | null = null;
  #snapshot: { stamp: string; snapshot: RecordState['snapshot'] } | null = null;
  #logger: SatchelLogger = silentLogger;

  constructor(
    private readonly name: string,
    private readonly blockedTimeoutMs: number,
    private readonly durability: 'strict' | 'relaxed' | 'default',
  ) {}

  useLogger(logger: SatchelLogger): void {
    this.#logger = safeLogger(logger);
  }

  open(): Promise<void> {
    return this.#run(async () => undefined);
  }

  #connect(): Promise<IDBPDatabase> {
    if (typeof indexedDB === 'undefined') {
      return Promise.reject(
        new StorageError('STORAGE_UNAVAILABLE', 'IndexedDB is not available in this context'),
      );
    }
    const blockedError = () =>
      new StorageError(
        'STORAGE_BLOCKED',
        `Opening IndexedDB "${this.name}" is blocked by a connection in another tab that does not close`,
      );
    const abandoned = this.#abandoned;
    if (abandoned !== null) {
      return new Promise<IDBPDatabase>((resolve, reject) => {
        const timer = setTimeout(() => reject(blockedError()), this.blockedTimeoutMs);
        abandoned.then(
          (db) => {
            clearTimeout(timer);
            resolve(db);
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(error);
          },
        );
      });
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
            this.#abandoned = opening;
            reject(blockedError());
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
          if (this.#abandoned === opening) this.#abandoned = null;
          if (!gaveUp) resolve(db);
          else if (this.#closed) db.close();
          else this.#db ??= Promise.resolve(db);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (this.#abandoned === opening) this.#abandoned = null;
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
        throw await typed(kind === 'lost' ? unavailable(error) : kind, error);
      }
      try {
        return await fn(db);
      } catch (error) {
        const kind = classifyStorageError(error);
        if (kind !== 'lost') throw await typed(kind, error);
        if (this.#closed) throw new StorageError('STORAGE_CLOSED', 'The storage is closed', { cause: error });
        try {
          db.close();
        } catch (closing) {
          this.#logger.log('debug', 'storage: closing a lost connection failed', { error: closing });
        }
        this.#logger.log('warn', 'storage: the IndexedDB connection was lost; reopening it', { error });
        this.#db = null;
        if (attempt > 0) throw await typed(unavailable(error), error);
      }
    }
  }

  append(events: readonly NewOutboxEvent[], patch?: MetaPatch): Promise<OutboxEntry[]> {
    return this.#run(async (db) => {
      const tx = db.transaction([OUTBOX, META], 'readwrite', { durability: this.durability });
      const meta = tx.objectStore(META);
      const outbox = tx.objectStore(OUTBOX);
      return inTransaction(tx, this.#logger, async (track) => {
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

  record<T>(
    read: RecordRead,
    build: (state: RecordState) => RecordPlan<T>,
  ): Promise<{ entries: OutboxEntry[]; result: T }> {
    // The hot path of every recorded event: plain IndexedDB requests, no promise per request.
    return this.#run(
      (db) =>
        new Promise((resolve, reject) => {
          const tx = unwrap(db).transaction([OUTBOX, META], 'readwrite', { durability: this.durability });
          const meta = tx.objectStore(META);
          const outbox = tx.objectStore(OUTBOX);
          let done: { entries: OutboxEntry[]; result: T } | null = null;
          tx.oncomplete = () => {
            if (done === null) reject(new DOMException('The transaction ended early', 'AbortError'));
            else resolve(done);
          };
          tx.onabort = () =>
            reject(tx.error ?? new DOMException('The transaction was aborted', 'AbortError'));
          const lastSeq = meta.get(META_KEYS.lastSeq);
          const clock = meta.get(META_KEYS.clock);
          const identity = read.identity === true ? meta.get(META_KEYS.identity) : null;
          // Parsing a stored snapshot is the dearest part of a decision: keep the parsed one while the
          // stamp written with every snapshot says it is still the stored one.
          const cached = read.snapshot === true ? this.#snapshot : null;
          const stamp = read.snapshot === true ? meta.get(META_KEYS.snapshotStamp) : null;
          let snapshot = read.snapshot === true && cached === null ? meta.get(META_KEYS.snapshot) : null;
          const pending =
            read.licenseId === undefined ? null : outbox.index(BY_LICENSE).getAll(read.licenseId);
          const decide = () => {
            let current: RecordState['snapshot'] = null;
            if (snapshot !== null) {
              current = (snapshot.result as RecordState['snapshot'] | undefined) ?? null;
              const written = stamp?.result as unknown;
              this.#snapshot = typeof written === 'string' ? { stamp: written, snapshot: current } : null;
            } else if (cached !== null) {
              current = cached.snapshot;
            }
            try {
              const stored = (clock.result as StoredClock | undefined) ?? null;
              const plan = build({
                identity: (identity?.result as RecordState['identity'] | undefined) ?? null,
                snapshot: current,
                clock: stored,
                pending: (pending?.result as OutboxEntry[] | undefined) ?? [],
              });
              const seq = (lastSeq.result as number | undefined) ?? 0;
              const entries = assignEntries(plan.events, seq);
              for (const entry of entries) outbox.add(entry);
              if (entries.length > 0) meta.put(seq + entries.length, META_KEYS.lastSeq);
              if (plan.clock !== undefined) meta.put(mergeClock(stored, plan.clock), META_KEYS.clock);
              // Nothing else will be asked: commit without waiting for the writes' results to come back
              // (the promise still resolves only once the commit completed).
              tx.commit?.();
              done = { entries, result: plan.result };
            } catch (error) {
              abortQuietly(tx, this.#logger, error);
              reject(error);
            }
          };
          // Requests of one transaction complete in order: the last one issued means all were read.
          const last = pending ?? snapshot ?? stamp ?? identity ?? clock;
          last.onsuccess = () => {
            if (cached !== null && stamp?.result !== cached.stamp) {
              snapshot = meta.get(META_KEYS.snapshot);
              snapshot.onsuccess = decide;
            } else {
              decide();
            }
          };
        }),
    );
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
      return inTransaction(tx, this.#logger, async (track) => {
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

  renumber(moved: readonly number[], afterSeq: number): Promise<OutboxEntry[]> {
    return this.#run(async (db) => {
      const tx = db.transaction([OUTBOX, META], 'readwrite', { durability: this.durability });
      const meta = tx.objectStore(META);
      const outbox = tx.objectStore(OUTBOX);
      return inTransaction(tx, this.#logger, async (track) => {
        const [all, lastSeq] = await Promise.all([
          track(outbox.getAll() as Promise<OutboxEntry[]>),
          track(meta.get(META_KEYS.lastSeq) as Promise<number | undefined>),
        ]);
        const next = renumbered(all, moved, afterSeq);
        const writes: Promise<unknown>[] = [];
        for (const entry of next) {
          const old = all.find((e) => e.eventId === entry.eventId);
          if (old !== undefined) writes.push(track(outbox.delete(old.seq)));
        }
        await Promise.all(writes);
        await Promise.all(next.map((entry) => track(outbox.add(entry))));
        const last = Math.max(lastSeq ?? 0, afterSeq, next[next.length - 1]?.seq ?? 0);
        await track(meta.put(last, META_KEYS.lastSeq));
        return next;
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
      } catch (error) {
        // An open that failed has no connection to close; the failure was reported where it happened.
        this.#logger.log('debug', 'storage: closing the connection failed', { error });
      }
    }
  }
}
