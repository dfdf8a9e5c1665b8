import {
  type AccountState,
  type DomainEvent,
  FOLD_VERSION,
  fold,
  initialState,
  toVersioned,
  upcast,
} from '@satchel/core';
import { uuidv7 } from 'uuidv7';
import { type Database, dbError, type Queryable } from './db/database.js';
import { ConflictRetriesExhaustedError, isConcurrencyError } from './errors.js';
import type { Metrics } from './metrics.js';
import type {
  DeviceReceipt,
  EventMetadata,
  EventStore,
  Fold,
  LoadedStream,
  NewEvent,
  StoredEvent,
} from './store/event-store.js';

/** Reads a stored event as a current-version domain event. Throws core's `EventSchemaError` if unreadable. */
export const toDomainEvent = (e: StoredEvent): DomainEvent =>
  upcast({ type: e.type, v: e.schemaVersion, data: e.data });

/** Folds stored events with core's `fold`; snapshots carry core's `FOLD_VERSION`. */
export const accountFold: Fold<AccountState> = {
  foldVersion: FOLD_VERSION,
  initial: initialState,
  apply: (state, events) => fold(events.map(toDomainEvent), state),
};

/** What a unit of work sees: the account as of now (updated as it emits events), and the transaction. */
export interface AccountUnit {
  readonly accountId: string;
  readonly tx: Queryable;
  readonly state: AccountState;
  /** Stream version the appends will expect. */
  readonly loadedVersion: number;
  /**
   * Queues events for append (in order) and folds them into `state`. `eventIds[i]`, when given, is the
   * id of `events[i]` (a device's own event id); others get a fresh UUIDv7.
   */
  emit(
    events: readonly DomainEvent[],
    metadata?: EventMetadata,
    eventIds?: readonly (string | undefined)[],
  ): void;
  /**
   * Queues events already folded by the caller (the merge's `appends`, in order) and takes `state`,
   * which must be the unit's state with exactly those events folded in.
   */
  emitFolded(
    appends: readonly { event: DomainEvent; eventId: string | undefined; metadata: EventMetadata }[],
    state: AccountState,
  ): void;
  /**
   * Queues a device's receipts and moves its cursor to `lastSeq` (never back) at `at`: written with the
   * emitted events, in the same statement.
   */
  acknowledge(deviceId: string, receipts: readonly DeviceReceipt[], lastSeq: number, at: number): void;
}

export interface AccountRepositoryOptions {
  /** Attempts before a conflicting unit of work gives up with a retryable error (default 8). */
  maxAttempts?: number;
  metrics?: Metrics;
}

/**
 * Loads accounts (latest snapshot + tail) and runs units of work on them: one transaction per
 * account, appended with the loaded version as the expected version, retried from a fresh load on
 * a concurrency conflict.
 */
export class AccountRepository {
  readonly store: EventStore;
  readonly db: Database;
  private readonly maxAttempts: number;
  private readonly metrics: Metrics | undefined;

  constructor(store: EventStore, options: AccountRepositoryOptions = {}) {
    this.store = store;
    this.db = store.db;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.metrics = options.metrics;
  }

  /**
   * The account's current state (from the latest snapshot of this fold version plus the tail). Outside a
   * transaction, a tail of `snapshotEvery` events or more is saved as a new snapshot.
   */
  async load(accountId: string, q?: Queryable): Promise<LoadedStream<AccountState>> {
    const loaded = await this.store.load(q ?? this.db, accountId, accountFold);
    this.metrics?.snapshotLoads.inc({ result: loaded.snapshotHit ? 'hit' : 'miss' });
    this.metrics?.loadTail.observe({}, loaded.tailLength);
    if (q === undefined && loaded.tailLength >= this.store.snapshotEvery) {
      // A read-only load after a fold-version change (or of an account nobody writes to) leaves the
      // snapshot it had to rebuild, so the next load is short. Best effort: a failure only costs time.
      try {
        await this.store.write(this.db, accountId, {
          expectedVersion: loaded.version,
          events: [],
          snapshot: { version: loaded.version, foldVersion: FOLD_VERSION, state: loaded.state },
        });
        this.metrics?.snapshotsWritten.inc();
      } catch {}
    }
    return loaded;
  }

  /**
   * Runs `work` in one transaction on the account and appends what it emitted. Resolves once the
   * transaction committed (the events are durable). When another writer appended first, the whole
   * unit is rerun on a fresh load (after a jittered exponential backoff), up to `maxAttempts` times; then it throws
   * {@link ConflictRetriesExhaustedError} (retryable). Any other error from `work` rolls back and is rethrown.
   * `beforeLoad` runs first in the transaction (e.g. to take a row lock the unit depends on);
   * `withLoad` runs after it, at the same time as the load (its statements are sent together with the load's).
   */
  async execute<T>(
    accountId: string,
    work: (unit: AccountUnit) => Promise<T>,
    options: {
      beforeLoad?: (tx: Queryable) => Promise<void>;
      withLoad?: (tx: Queryable) => Promise<void>;
    } = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction(async (tx) => {
          await options.beforeLoad?.(tx);
          const [loaded] = await Promise.all([this.load(accountId, tx), options.withLoad?.(tx)]);
          const pending: NewEvent[] = [];
          const receipts: DeviceReceipt[] = [];
          let cursor: { deviceId: string; lastSeq: number; at: number } | undefined;
          let current = loaded.state;
          const unit: AccountUnit = {
            accountId,
            tx,
            get state() {
              return current;
            },
            loadedVersion: loaded.version,
            emit(events, metadata = {}, eventIds = []) {
              if (events.length === 0) return;
              events.forEach((e, i) => {
                const v = toVersioned(e);
                pending.push({
                  eventId: eventIds[i] ?? uuidv7(),
                  type: v.type,
                  schemaVersion: v.v,
                  data: v.data,
                  metadata,
                });
              });
              current = fold(events, current);
            },
            emitFolded(appends, state) {
              for (const a of appends) {
                const v = toVersioned(a.event);
                pending.push({
                  eventId: a.eventId ?? uuidv7(),
                  type: v.type,
                  schemaVersion: v.v,
                  data: v.data,
                  metadata: a.metadata,
                });
              }
              current = state;
            },
            acknowledge(deviceId, acks, lastSeq, at) {
              receipts.push(...acks);
              cursor = { deviceId, lastSeq: Math.max(lastSeq, cursor?.lastSeq ?? 0), at };
            },
          };
          const result = await work(unit);
          const snapshotDue = current.version - loaded.snapshotVersion >= this.store.snapshotEvery;
          if (pending.length > 0 || receipts.length > 0 || cursor || snapshotDue) {
            await this.store.write(tx, accountId, {
              expectedVersion: loaded.version,
              events: pending,
              receipts,
              ...(cursor ? { cursor } : {}),
              ...(snapshotDue
                ? { snapshot: { version: current.version, foldVersion: FOLD_VERSION, state: current } }
                : {}),
            });
          }
          for (const e of pending) this.metrics?.eventsAppended.inc({ type: e.type });
          if (snapshotDue) this.metrics?.snapshotsWritten.inc();
          return result;
        });
      } catch (e) {
        // Deadlocks and serialisation failures are lost races too: rerun from a fresh load.
        const code = dbError(e)?.code;
        if (!isConcurrencyError(e) && code !== '40P01' && code !== '40001') throw e;
        if (attempt >= this.maxAttempts) {
          this.metrics?.conflictsExhausted.inc();
          throw new ConflictRetriesExhaustedError(accountId, attempt);
        }
        this.metrics?.conflictsRetried.inc();
        // Full jitter, exponential: spreads writers that keep colliding on one hot account.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 10 * 2 ** attempt)));
      }
    }
  }

  /** The account's events, oldest first, upcast to the current schema. */
  async history(accountId: string): Promise<{ stored: StoredEvent; event: DomainEvent }[]> {
    const stored = await this.store.readStream(this.db, accountId);
    return stored.map((s) => ({ stored: s, event: toDomainEvent(s) }));
  }

  /** The account's state as it was at instant `at` (epoch ms): every event recorded up to then, replayed. */
  async stateAt(accountId: string, at: number): Promise<AccountState> {
    const stored = await this.store.readStream(this.db, accountId);
    const upTo = stored.filter((s) => s.recordedAt <= at);
    return fold(upTo.map(toDomainEvent), initialState(accountId));
  }
}
