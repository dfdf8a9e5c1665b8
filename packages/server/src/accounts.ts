import {
  type AccountState,
  type DomainEvent,
  FOLD_VERSION,
  fold,
  initialState,
  toVersioned,
} from '@satchel/core';
import { upcastStored } from '@satchel/core/schemas';
import { uuidv7 } from 'uuidv7';
import { type Database, dbError, type Queryable } from './db/database.js';
import { ConflictRetriesExhaustedError, isConcurrencyError } from './errors.js';
import type { Metrics } from './metrics.js';
import type {
  DeviceReceipt,
  EventMetadata,
  EventQuota,
  EventStore,
  Fold,
  LoadedStream,
  NewEvent,
  StoredEvent,
  StreamWrite,
} from './store/event-store.js';

/**
 * Reads a stored event as a current-version domain event (validated when it was appended; an older version
 * is upcast and validated). Throws core's `EventSchemaError` if unreadable.
 */
export const toDomainEvent = (e: StoredEvent): DomainEvent =>
  upcastStored({ type: e.type, v: e.schemaVersion, data: e.data });

/** Folds stored events with core's `fold`; snapshots carry core's `FOLD_VERSION`. */
export const accountFold: Fold<AccountState> = {
  foldVersion: FOLD_VERSION,
  initial: initialState,
  apply: (state, events) => fold(events.map(toDomainEvent), state),
};

const newEvent = (event: DomainEvent, eventId: string | undefined, metadata: EventMetadata): NewEvent => {
  const v = toVersioned(event);
  return { eventId: eventId ?? uuidv7(), type: v.type, schemaVersion: v.v, data: v.data, metadata };
};

/** How many items share each key: one metrics update per label, not one per item. */
export const countBy = <T>(items: readonly T[], keyOf: (item: T) => string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = keyOf(item);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
};

/** What a device batch decided (see {@link AccountRepository.executeDeviceBatch}): the answer and the write. */
export interface DeviceBatchDecision<T> {
  result: T;
  /** Events to append, in order; a missing `eventId` gets a fresh UUIDv7. */
  appends: readonly { event: DomainEvent; eventId: string | undefined; metadata: EventMetadata }[];
  /** The account with exactly `appends` folded in. */
  state: AccountState;
  receipts: readonly DeviceReceipt[];
  /** The device's new cursor (never below the one read) and the sync time, epoch ms. */
  ackSeq: number;
  at: number;
}

/** What a unit of work sees: the account as of now (updated as it emits events), and the transaction. */
export interface AccountUnit {
  readonly accountId: string;
  readonly tx: Queryable;
  readonly state: AccountState;
  /** Stream version the appends will expect. */
  readonly loadedVersion: number;
  /** Events queued by {@link emit} so far in this attempt. */
  readonly emitted: number;
  /**
   * Queues events for append (in order) and folds them into `state`. `eventIds[i]`, when given, is the
   * id of `events[i]` (a device's own event id); others get a fresh UUIDv7.
   */
  emit(
    events: readonly DomainEvent[],
    metadata?: EventMetadata,
    eventIds?: readonly (string | undefined)[],
  ): void;
}

/** A device's event quota to count a unit's appended events against, at the unit's time (epoch ms). */
export interface DeviceQuota {
  deviceId: string;
  limit: EventQuota;
  at: number;
  /**
   * How many of the unit's events are the server's own, not the device's (e.g. the expiries recorded
   * before a licence decision): those are not counted. Asked once the unit's work has run (default 0).
   */
  uncounted?: () => number;
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
    this.observeLoad(loaded);
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
   * A device's sync takes {@link executeDeviceBatch} instead.
   */
  async execute<T>(
    accountId: string,
    work: (unit: AccountUnit) => Promise<T>,
    options: { quota?: DeviceQuota } = {},
  ): Promise<T> {
    return this.retrying(accountId, () =>
      this.db.transaction(async (tx) => {
        const loaded = await this.load(accountId, tx);
        const pending: NewEvent[] = [];
        let current = loaded.state;
        const unit: AccountUnit = {
          accountId,
          tx,
          get state() {
            return current;
          },
          loadedVersion: loaded.version,
          get emitted() {
            return pending.length;
          },
          emit(events, metadata = {}, eventIds = []) {
            if (events.length === 0) return;
            events.forEach((e, i) => {
              pending.push(newEvent(e, eventIds[i], metadata));
            });
            current = fold(events, current);
          },
        };
        const result = await work(unit);
        if (pending.length > 0 || this.snapshotDue(loaded, current)) {
          const q = options.quota;
          await this.write(
            tx,
            accountId,
            loaded,
            current,
            pending,
            q
              ? {
                  quota: {
                    deviceId: q.deviceId,
                    events: pending.length - (q.uncounted?.() ?? 0),
                    limit: q.limit,
                    at: q.at,
                  },
                }
              : {},
          );
        }
        return result;
      }),
    );
  }

  /**
   * Runs one device's batch optimistically, in two statements and no transaction: one read (the account,
   * the device's cursor and the receipts the batch needs, from one snapshot of the database), then `decide`
   * (pure, synchronous), then one write that appends with the loaded stream version as the expected
   * version and moves the device's cursor by compare-and-set from the value read. When another writer got
   * there first (the account or the device's cursor moved), nothing was written and the whole batch is
   * rerun from a fresh read, as {@link execute} does; after `maxAttempts` it throws
   * {@link ConflictRetriesExhaustedError} (retryable). An error thrown by `decide` is rethrown, nothing
   * written. Resolves once the write committed (the events, receipts and cursor are durable).
   *
   * `options.quota`: the device's event quota, counted in the write (its new receipts). `options.admitted`:
   * awaited once the read has answered and before `decide`; when it rejects, that error is thrown and
   * nothing is written (the HTTP layer's request limit, counted while the read runs).
   */
  executeDeviceBatch<T>(
    accountId: string,
    deviceId: string,
    batch: readonly { seq: number; eventId: string }[],
    decide: (read: {
      state: AccountState;
      cursor: number;
      bySeq: ReadonlyMap<number, DeviceReceipt>;
      byEventId: ReadonlyMap<string, DeviceReceipt>;
      /** The device's credential, read in the same statement (null when it has none). */
      credential: { generation: number; revoked: boolean } | null;
    }) => DeviceBatchDecision<T>,
    options: { quota?: EventQuota; admitted?: Promise<unknown> } = {},
  ): Promise<T> {
    const { quota, admitted } = options;
    return this.retrying(accountId, async () => {
      const read = await this.store.loadDeviceBatch(this.db, accountId, accountFold, deviceId, batch);
      // The caller's admission (a request limit counted while the read ran) decides before anything else.
      if (admitted !== undefined) await admitted;
      this.observeLoad(read.loaded);
      const d = decide({
        state: read.loaded.state,
        cursor: read.cursor,
        bySeq: read.bySeq,
        byEventId: read.byEventId,
        credential: read.credential,
      });
      await this.write(
        this.db,
        accountId,
        read.loaded,
        d.state,
        d.appends.map((a) => newEvent(a.event, a.eventId, a.metadata)),
        {
          receipts: d.receipts,
          cursor: {
            deviceId,
            lastSeq: Math.max(d.ackSeq, read.cursor),
            at: d.at,
            expectedLastSeq: read.cursor,
          },
          // Every event that is not a duplicate has a new receipt: those are what the device adds.
          ...(quota ? { quota: { deviceId, events: d.receipts.length, limit: quota, at: d.at } } : {}),
        },
      );
      return d.result;
    });
  }

  private snapshotDue(loaded: LoadedStream<AccountState>, state: AccountState): boolean {
    return state.version - loaded.snapshotVersion >= this.store.snapshotEvery;
  }

  private observeLoad(loaded: LoadedStream<AccountState>): void {
    this.metrics?.snapshotLoads.inc({ result: loaded.snapshotHit ? 'hit' : 'miss' });
    this.metrics?.loadTail.observe({}, loaded.tailLength);
  }

  /** The one write of a unit: its events, receipts and cursor, and a snapshot when one is due. */
  private async write(
    q: Queryable,
    accountId: string,
    loaded: LoadedStream<AccountState>,
    state: AccountState,
    events: NewEvent[],
    extra: Pick<StreamWrite<AccountState>, 'receipts' | 'cursor' | 'quota'>,
  ): Promise<void> {
    const snapshotDue = this.snapshotDue(loaded, state);
    await this.store.write(q, accountId, {
      expectedVersion: loaded.version,
      events,
      ...extra,
      ...(snapshotDue ? { snapshot: { version: state.version, foldVersion: FOLD_VERSION, state } } : {}),
    });
    if (this.metrics)
      for (const [type, n] of countBy(events, (e) => e.type)) this.metrics.eventsAppended.inc({ type }, n);
    if (snapshotDue) this.metrics?.snapshotsWritten.inc();
  }

  private async retrying<T>(accountId: string, attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        // Deadlocks and serialisation failures are lost races too: rerun from a fresh load.
        const code = dbError(e)?.code;
        if (!isConcurrencyError(e) && code !== '40P01' && code !== '40001') throw e;
        if (n >= this.maxAttempts) {
          this.metrics?.conflictsExhausted.inc();
          throw new ConflictRetriesExhaustedError(accountId, n);
        }
        this.metrics?.conflictsRetried.inc();
        // Full jitter, exponential: spreads writers that keep colliding on one hot account.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 10 * 2 ** n)));
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
