import type { Dexie, Table } from 'dexie';
import { StorageError } from '../errors.js';
import { type SatchelLogger, safeLogger, silentLogger } from '../logger.js';
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

/**
 * The tables the SDK keeps in a player's own Dexie database. Spread it into the `stores()` of the version
 * that introduces Satchel: `db.version(4).stores({ ...yourTables, ...SATCHEL_DEXIE_SCHEMA })`. Later
 * versions need not repeat it.
 */
export const SATCHEL_DEXIE_SCHEMA = {
  satchel_outbox: 'seq, &eventId',
  satchel_meta: '',
} as const;

/**
 * Storage in a Dexie database the player already owns ({@link SATCHEL_DEXIE_SCHEMA} must be declared in
 * its schema). Same contract as the idb adapter: every method is one Dexie transaction over the two
 * Satchel tables; a lost connection is reopened once; failures reject with a {@link StorageError}. The
 * shape of the stored records is versioned in the meta table: a database written by a newer SDK is
 * refused with `STORAGE_VERSION_TOO_NEW`. `close()` does not close the player's Dexie instance.
 */
export function dexieStorage(db: Dexie): SatchelStorage {
  return new DexieStorage(db);
}

class DexieStorage implements SatchelStorage {
  readonly kind = 'dexie';
  #closed = false;
  #checked: Promise<void> | null = null;
  #logger: SatchelLogger = silentLogger;
  readonly #outbox: Table<OutboxEntry, number>;
  readonly #meta: Table<unknown, string>;

  constructor(private readonly db: Dexie) {
    this.#outbox = db.table<OutboxEntry, number>('satchel_outbox');
    this.#meta = db.table<unknown, string>('satchel_meta');
  }

  async #ensureOpen(): Promise<void> {
    if (!this.db.isOpen()) await this.db.open();
    this.#checked ??= this.db.transaction('rw', this.#meta, async () => {
      const stored = await this.#meta.get(META_KEYS.dataVersion);
      if (typeof stored === 'number' && stored > STORAGE_DATA_VERSION) {
        throw new StorageError(
          'STORAGE_VERSION_TOO_NEW',
          `Satchel data version ${stored} was written by a newer SDK (this one reads ${STORAGE_DATA_VERSION})`,
        );
      }
      if (stored !== STORAGE_DATA_VERSION) await this.#meta.put(STORAGE_DATA_VERSION, META_KEYS.dataVersion);
    });
    try {
      await this.#checked;
    } catch (error) {
      this.#checked = null;
      throw error;
    }
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new StorageError('STORAGE_CLOSED', 'The storage is closed');
      try {
        await this.#ensureOpen();
        return await fn();
      } catch (error) {
        const kind = classifyStorageError(error);
        const typed = kind === 'lost' ? (attempt > 0 ? unavailable(error) : null) : kind;
        if (typed !== null) {
          // A full disk reported by Chromium as an internal I/O error (see idb.ts).
          if (typed.code === 'STORAGE_UNAVAILABLE' && internalIoError(error) && (await diskFull()))
            throw quotaFromDisk(error);
          throw typed;
        }
        this.#logger.log('warn', 'storage: the Dexie connection was lost; reopening it', { error });
        try {
          this.db.close({ disableAutoOpen: false });
        } catch (closing) {
          this.#logger.log('debug', 'storage: closing a lost connection failed', { error: closing });
        }
      }
    }
  }

  useLogger(logger: SatchelLogger): void {
    this.#logger = safeLogger(logger);
  }

  open(): Promise<void> {
    return this.#run(async () => undefined);
  }

  append(events: readonly NewOutboxEvent[], patch?: MetaPatch): Promise<OutboxEntry[]> {
    return this.#run(() =>
      this.db.transaction('rw', [this.#outbox, this.#meta], async () => {
        const lastSeq = ((await this.#meta.get(META_KEYS.lastSeq)) as number | undefined) ?? 0;
        const clock =
          patch?.clock !== undefined
            ? ((await this.#meta.get(META_KEYS.clock)) as StoredClock | undefined)
            : undefined;
        const cursor =
          patch?.cursor !== undefined
            ? ((await this.#meta.get(META_KEYS.cursor)) as SyncCursor | undefined)
            : undefined;
        const entries = assignEntries(events, lastSeq);
        if (entries.length > 0) {
          await this.#outbox.bulkAdd(entries);
          await this.#meta.put(lastSeq + entries.length, META_KEYS.lastSeq);
        }
        for (const [key, value] of patchWrites(patch, clock ?? null, cursor, null))
          await this.#meta.put(value, key);
        return entries;
      }),
    );
  }

  record<T>(
    read: RecordRead,
    build: (state: RecordState) => RecordPlan<T>,
  ): Promise<{ entries: OutboxEntry[]; result: T }> {
    return this.#run(() =>
      this.db.transaction('rw', [this.#outbox, this.#meta], async () => {
        const [lastSeq, clock, identity, snapshot] = await this.#meta.bulkGet([
          META_KEYS.lastSeq,
          META_KEYS.clock,
          read.identity === true ? META_KEYS.identity : '',
          read.snapshot === true ? META_KEYS.snapshot : '',
        ]);
        const licenseId = read.licenseId;
        const pending =
          licenseId === undefined
            ? []
            : await this.#outbox.filter((entry) => entry.data.licenseId === licenseId).toArray();
        const stored = (clock as StoredClock | undefined) ?? null;
        const plan = build({
          identity:
            read.identity === true ? ((identity as RecordState['identity'] | undefined) ?? null) : null,
          snapshot:
            read.snapshot === true ? ((snapshot as RecordState['snapshot'] | undefined) ?? null) : null,
          clock: stored,
          pending,
        });
        const last = typeof lastSeq === 'number' ? lastSeq : 0;
        const entries = assignEntries(plan.events, last);
        if (entries.length > 0) {
          await this.#outbox.bulkAdd(entries);
          await this.#meta.put(last + entries.length, META_KEYS.lastSeq);
        }
        if (plan.clock !== undefined) await this.#meta.put(mergeClock(stored, plan.clock), META_KEYS.clock);
        return { entries, result: plan.result };
      }),
    );
  }

  pending(limit?: number): Promise<OutboxEntry[]> {
    return this.#run(() => {
      const all = this.#outbox.orderBy(':id');
      return (limit === undefined ? all : all.limit(Math.max(0, limit))).toArray();
    });
  }

  pendingCount(): Promise<number> {
    return this.#run(() => this.#outbox.count());
  }

  commit(ackSeq: number | null, patch?: MetaPatch): Promise<number> {
    return this.#run(() =>
      this.db.transaction('rw', [this.#outbox, this.#meta], async () => {
        const removed =
          ackSeq !== null && ackSeq >= 1 ? await this.#outbox.where(':id').belowOrEqual(ackSeq).delete() : 0;
        const clock = (await this.#meta.get(META_KEYS.clock)) as StoredClock | undefined;
        const cursor = (await this.#meta.get(META_KEYS.cursor)) as SyncCursor | undefined;
        const snapshot =
          patch?.snapshot === undefined
            ? undefined
            : ((await this.#meta.get(META_KEYS.snapshot)) as StoredMeta['snapshot'] | undefined);
        for (const [key, value] of patchWrites(patch, clock ?? null, cursor, ackSeq, snapshot))
          await this.#meta.put(value, key);
        return removed;
      }),
    );
  }

  renumber(moved: readonly number[], afterSeq: number): Promise<OutboxEntry[]> {
    return this.#run(() =>
      this.db.transaction('rw', [this.#outbox, this.#meta], async () => {
        const all = await this.#outbox.toArray();
        const lastSeq = ((await this.#meta.get(META_KEYS.lastSeq)) as number | undefined) ?? 0;
        const next = renumbered(all, moved, afterSeq);
        const ids = new Set(next.map((e) => e.eventId));
        await this.#outbox.bulkDelete(all.filter((e) => ids.has(e.eventId)).map((e) => e.seq));
        await this.#outbox.bulkAdd(next);
        await this.#meta.put(Math.max(lastSeq, afterSeq, next[next.length - 1]?.seq ?? 0), META_KEYS.lastSeq);
        return next;
      }),
    );
  }

  readMeta(): Promise<StoredMeta> {
    return this.#run(() =>
      this.db.transaction('r', this.#meta, async () => {
        const [identity, snapshot, clock, cursor, lastSeq] = await this.#meta.bulkGet([
          META_KEYS.identity,
          META_KEYS.snapshot,
          META_KEYS.clock,
          META_KEYS.cursor,
          META_KEYS.lastSeq,
        ]);
        return toMeta({ identity, snapshot, clock, cursor, lastSeq });
      }),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
