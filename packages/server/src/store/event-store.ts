import type { Database, Queryable } from '../db/database.js';
import { loadStream } from './load.js';
import { type DeviceBatchRead, loadDeviceBatch } from './load-device-batch.js';
import { readAll } from './read-all.js';
import { readDeviceCursors } from './read-cursors.js';
import { readReceipts } from './read-receipts.js';
import { readStream } from './read-stream.js';
import type { DeviceCursor, DeviceReceipt, Fold, LoadedStream, StoredEvent, StreamWrite } from './types.js';
import { writeStream } from './write.js';

export type { DeviceBatchRead } from './load-device-batch.js';
export type {
  DeviceCursor,
  DeviceReceipt,
  EventMetadata,
  EventQuota,
  Fold,
  LoadedStream,
  NewEvent,
  ReceiptStatus,
  Snapshot,
  StoredEvent,
  StreamWrite,
} from './types.js';

export interface EventStoreOptions {
  /** Save a snapshot when this many events have been appended since the last one (default 100). */
  snapshotEvery?: number;
}

/**
 * The PostgreSQL event store: one stream per account, per-device receipts and cursors, snapshots, and a
 * global feed. {@link write} is its one write path; every SQL operation lives in its own file beside this
 * one. Every method takes the {@link Queryable} to run on, so callers compose them in one transaction.
 */
export class EventStore {
  readonly db: Database;
  readonly snapshotEvery: number;

  constructor(db: Database, options: EventStoreOptions = {}) {
    this.db = db;
    this.snapshotEvery = options.snapshotEvery ?? 100;
  }

  /**
   * Writes one unit of work on an account in one statement: appends `events` as versions
   * `expectedVersion + 1 …`, records the receipts, moves the device cursor (never back) and saves the
   * snapshot (each when given). Throws {@link ConcurrencyError} when another writer got there first (a
   * stream version, an event id or a receipt already taken) and writes nothing; inside a transaction, the
   * transaction is then aborted and must be retried from a fresh read. Durable once the statement's
   * transaction commits (at once when `q` is not a transaction).
   */
  write<S>(q: Queryable, accountId: string, w: StreamWrite<S>): Promise<void> {
    return writeStream(q, accountId, w);
  }

  /**
   * Loads an account: the latest snapshot of `fold.foldVersion` plus the events after it (all events
   * when there is none, or `useSnapshots` is false), read in one statement.
   */
  load<S>(
    q: Queryable,
    accountId: string,
    fold: Fold<S>,
    options: { useSnapshots?: boolean } = {},
  ): Promise<LoadedStream<S>> {
    return loadStream(q, accountId, fold, options.useSnapshots !== false);
  }

  /**
   * Loads everything a device's sync decides from, in one statement (one snapshot of the database): the
   * account as {@link load} does, the device's cursor, this device's receipts for the batch's seqs at or
   * below the cursor, and the account's receipts for the event ids of the batch's events above it.
   * Takes no lock: write with the cursor's compare-and-set (`cursor.expectedLastSeq`).
   */
  loadDeviceBatch<S>(
    q: Queryable,
    accountId: string,
    fold: Fold<S>,
    deviceId: string,
    batch: readonly { seq: number; eventId: string }[],
  ): Promise<DeviceBatchRead<S>> {
    return loadDeviceBatch(q, accountId, fold, deviceId, batch);
  }

  /** Events of one account with a version above `afterVersion`, oldest first. */
  readStream(q: Queryable, accountId: string, afterVersion = 0): Promise<StoredEvent[]> {
    return readStream(q, accountId, afterVersion);
  }

  /**
   * Reads the global feed after `afterPosition` (0 = from the start), at most `limit` events.
   * Only rows of transactions older than every transaction still in flight are returned, ordered by
   * (transaction id, global position), so a reader that resumes from the last position it saw never
   * skips a row committed out of order. Pass the returned `lastPosition` to the next call.
   */
  readAll(
    afterPosition: number,
    limit: number,
    q: Queryable = this.db,
  ): Promise<{ events: StoredEvent[]; lastPosition: number }> {
    return readAll(q, afterPosition, limit);
  }

  /**
   * Receipts already recorded: this device's for the sequence numbers `seqs`, and any device's of the
   * account for the event ids `eventIds`, read in one statement.
   */
  receipts(
    q: Queryable,
    accountId: string,
    deviceId: string,
    seqs: readonly number[],
    eventIds: readonly string[],
  ): Promise<{ bySeq: Map<number, DeviceReceipt>; byEventId: Map<string, DeviceReceipt> }> {
    return readReceipts(q, accountId, deviceId, seqs, eventIds);
  }

  /** Every device cursor of the account, by device id. */
  deviceCursors(q: Queryable, accountId: string): Promise<DeviceCursor[]> {
    return readDeviceCursors(q, accountId);
  }
}
