import { type Database, dbError, type Queryable } from '../db/database.js';
import { ConcurrencyError } from '../errors.js';

/** Who recorded an event and when, as stored in `events.metadata`. */
export interface EventMetadata {
  deviceId?: string;
  seq?: number;
  deviceTime?: number;
  trustedTime?: number;
  requestId?: string;
}

export interface NewEvent {
  eventId: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata?: EventMetadata;
}

export interface StoredEvent {
  accountId: string;
  streamVersion: number;
  eventId: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: EventMetadata;
  /** Epoch milliseconds. */
  recordedAt: number;
  globalPosition: number;
}

export type ReceiptStatus = 'accepted' | 'duplicate' | 'rejected';

export interface DeviceReceipt {
  deviceId: string;
  seq: number;
  eventId: string;
  status: ReceiptStatus;
  code: string | null;
  message: string | null;
}

export interface Snapshot<S> {
  version: number;
  foldVersion: number;
  state: S;
}

/** How to fold an account's events: the store knows nothing of the domain. */
export interface Fold<S> {
  foldVersion: number;
  initial(accountId: string): S;
  /** Folds events, in stream order, into `state`; returns the new state. */
  apply(state: S, events: readonly StoredEvent[]): S;
}

export interface LoadedStream<S> {
  state: S;
  version: number;
  /** True when a snapshot with the current fold version was used. */
  snapshotHit: boolean;
  /** Events read and folded after the snapshot (or from the start). */
  tailLength: number;
  /** Version of the snapshot used, 0 when none. */
  snapshotVersion: number;
}

export interface EventStoreOptions {
  /** Save a snapshot when this many events have been appended since the last one (default 100). */
  snapshotEvery?: number;
}

type EventRow = {
  account_id: string;
  stream_version: string | number;
  event_id: string;
  type: string;
  schema_version: number;
  data: string;
  metadata: string;
  recorded_at: Date | string;
  global_position: string | number;
};

const EVENT_COLUMNS = `account_id, stream_version, event_id::text AS event_id, type, schema_version,
  data::text AS data, metadata::text AS metadata, recorded_at, global_position`;

const toEvent = (r: EventRow): StoredEvent => ({
  accountId: r.account_id,
  streamVersion: Number(r.stream_version),
  eventId: r.event_id,
  type: r.type,
  schemaVersion: Number(r.schema_version),
  data: JSON.parse(r.data),
  metadata: JSON.parse(r.metadata) as EventMetadata,
  recordedAt: new Date(r.recorded_at).getTime(),
  globalPosition: Number(r.global_position),
});

const APPEND_CHUNK = 500;

/**
 * The PostgreSQL event store: one stream per account, append with an expected version,
 * per-device receipts and cursors, snapshots, and a global feed.
 * Every method takes the {@link Queryable} to run on, so callers compose them in one transaction.
 */
export class EventStore {
  readonly db: Database;
  readonly snapshotEvery: number;

  constructor(db: Database, options: EventStoreOptions = {}) {
    this.db = db;
    this.snapshotEvery = options.snapshotEvery ?? 100;
  }

  /** Highest stream version of the account, 0 when it has no events. */
  async streamVersion(q: Queryable, accountId: string): Promise<number> {
    const rows = await q.query<{ v: string | number | null }>(
      'SELECT max(stream_version) AS v FROM events WHERE account_id = $1',
      [accountId],
    );
    return Number(rows[0]?.v ?? 0);
  }

  /**
   * Appends `events` as versions `expectedVersion + 1 …`. Throws {@link ConcurrencyError} when another
   * writer got there first (or an event id is already in the stream); the enclosing transaction is then
   * aborted and must be retried from a fresh read. Durable once the enclosing transaction commits.
   */
  async append(
    q: Queryable,
    accountId: string,
    expectedVersion: number,
    events: readonly NewEvent[],
  ): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for (let start = 0; start < events.length; start += APPEND_CHUNK) {
      const chunk = events.slice(start, start + APPEND_CHUNK);
      const params: unknown[] = [];
      const values = chunk.map((e, i) => {
        const b = params.length;
        params.push(
          accountId,
          expectedVersion + start + i + 1,
          e.eventId,
          e.type,
          e.schemaVersion,
          JSON.stringify(e.data),
          JSON.stringify(e.metadata ?? {}),
        );
        return `($${b + 1}, $${b + 2}, $${b + 3}::uuid, $${b + 4}, $${b + 5}, $${b + 6}::text::jsonb, $${b + 7}::text::jsonb)`;
      });
      try {
        const rows = await q.query<EventRow>(
          `INSERT INTO events (account_id, stream_version, event_id, type, schema_version, data, metadata)
           VALUES ${values.join(', ')} RETURNING ${EVENT_COLUMNS}`,
          params,
        );
        out.push(...rows.map(toEvent));
      } catch (e) {
        const err = dbError(e);
        if (err?.code === '23505') throw new ConcurrencyError(accountId, expectedVersion, err.constraint);
        throw e;
      }
    }
    return out.sort((a, b) => a.streamVersion - b.streamVersion);
  }

  /** Events of one account with a version above `afterVersion`, in order (up to `untilVersion` if given). */
  async readStream(
    q: Queryable,
    accountId: string,
    afterVersion = 0,
    untilVersion?: number,
  ): Promise<StoredEvent[]> {
    const rows = await q.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE account_id = $1 AND stream_version > $2 ${untilVersion === undefined ? '' : 'AND stream_version <= $3'}
       ORDER BY stream_version`,
      untilVersion === undefined ? [accountId, afterVersion] : [accountId, afterVersion, untilVersion],
    );
    return rows.map(toEvent);
  }

  /**
   * Reads the global feed after `afterPosition` (0 = from the start), at most `limit` events.
   * Only rows of transactions older than every transaction still in flight are returned, ordered by
   * (transaction id, global position), so a reader that resumes from the last position it saw never
   * skips a row committed out of order. Pass the returned `lastPosition` to the next call.
   */
  async readAll(
    afterPosition: number,
    limit: number,
    q: Queryable = this.db,
  ): Promise<{ events: StoredEvent[]; lastPosition: number }> {
    const rows = await q.query<EventRow>(
      `WITH cursor AS (
         SELECT coalesce((SELECT transaction_id FROM events WHERE global_position = $1), '0'::xid8) AS tx
       )
       SELECT ${EVENT_COLUMNS} FROM events, cursor
       WHERE (transaction_id, global_position) > (cursor.tx, $1::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id, global_position
       LIMIT $2`,
      [afterPosition, limit],
    );
    const events = rows.map(toEvent);
    return { events, lastPosition: events.at(-1)?.globalPosition ?? afterPosition };
  }

  /** The newest snapshot folded by `foldVersion`; snapshots of other fold versions are ignored. */
  async latestSnapshot<S>(q: Queryable, accountId: string, foldVersion: number): Promise<Snapshot<S> | null> {
    const rows = await q.query<{ version: string | number; fold_version: number; state: string }>(
      `SELECT version, fold_version, state::text AS state FROM snapshots
       WHERE account_id = $1 AND fold_version = $2 ORDER BY version DESC LIMIT 1`,
      [accountId, foldVersion],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      version: Number(r.version),
      foldVersion: Number(r.fold_version),
      state: JSON.parse(r.state) as S,
    };
  }

  /** Stores a snapshot; one of an older fold version at the same stream version is replaced. */
  async saveSnapshot<S>(q: Queryable, accountId: string, snapshot: Snapshot<S>): Promise<void> {
    await q.query(
      `INSERT INTO snapshots (account_id, version, fold_version, state) VALUES ($1, $2, $3, $4::text::jsonb)
       ON CONFLICT (account_id, version) DO UPDATE
         SET fold_version = excluded.fold_version, state = excluded.state, created_at = now()
         WHERE snapshots.fold_version <> excluded.fold_version`,
      [accountId, snapshot.version, snapshot.foldVersion, JSON.stringify(snapshot.state)],
    );
  }

  /**
   * Loads an account: the latest snapshot of `fold.foldVersion` plus the events after it
   * (all events when there is none, or `useSnapshots` is false).
   */
  async load<S>(
    q: Queryable,
    accountId: string,
    fold: Fold<S>,
    options: { useSnapshots?: boolean } = {},
  ): Promise<LoadedStream<S>> {
    const snap =
      options.useSnapshots === false ? null : await this.latestSnapshot<S>(q, accountId, fold.foldVersion);
    const tail = await this.readStream(q, accountId, snap?.version ?? 0);
    const start = snap ? snap.state : fold.initial(accountId);
    const state = tail.length === 0 ? start : fold.apply(start, tail);
    return {
      state,
      version: tail.at(-1)?.streamVersion ?? snap?.version ?? 0,
      snapshotHit: snap !== null,
      tailLength: tail.length,
      snapshotVersion: snap?.version ?? 0,
    };
  }

  /** Saves a snapshot of `loaded` when `snapshotEvery` events or more were folded after the last one. */
  async maybeSnapshot<S>(
    q: Queryable,
    accountId: string,
    foldVersion: number,
    version: number,
    state: S,
    snapshotVersion: number,
  ): Promise<boolean> {
    if (version - snapshotVersion < this.snapshotEvery) return false;
    await this.saveSnapshot(q, accountId, { version, foldVersion, state });
    return true;
  }

  /** Receipts already recorded for these device sequence numbers. */
  async receiptsBySeq(
    q: Queryable,
    accountId: string,
    deviceId: string,
    seqs: readonly number[],
  ): Promise<Map<number, DeviceReceipt>> {
    if (seqs.length === 0) return new Map();
    const rows = await q.query<ReceiptRow>(
      `SELECT ${RECEIPT_COLUMNS} FROM device_receipts
       WHERE account_id = $1 AND device_id = $2 AND seq IN (SELECT jsonb_array_elements_text($3::text::jsonb)::bigint)`,
      [accountId, deviceId, JSON.stringify(seqs)],
    );
    return new Map(rows.map((r) => [Number(r.seq), toReceipt(r)]));
  }

  /** Receipts already recorded (by any device of the account) for these event ids. */
  async receiptsByEventId(
    q: Queryable,
    accountId: string,
    eventIds: readonly string[],
  ): Promise<Map<string, DeviceReceipt>> {
    if (eventIds.length === 0) return new Map();
    const rows = await q.query<ReceiptRow>(
      `SELECT ${RECEIPT_COLUMNS} FROM device_receipts WHERE account_id = $1 AND event_id IN (SELECT jsonb_array_elements_text($2::text::jsonb)::uuid)`,
      [accountId, JSON.stringify(eventIds)],
    );
    return new Map(rows.map((r) => [r.event_id, toReceipt(r)]));
  }

  /** Records receipts; throws {@link ConcurrencyError} if one exists already (a concurrent replay). */
  async insertReceipts(q: Queryable, accountId: string, receipts: readonly DeviceReceipt[]): Promise<void> {
    if (receipts.length === 0) return;
    const params: unknown[] = [];
    const values = receipts.map((r) => {
      const b = params.length;
      params.push(accountId, r.deviceId, r.seq, r.eventId, r.status, r.code, r.message);
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}::uuid, $${b + 5}, $${b + 6}, $${b + 7})`;
    });
    try {
      await q.query(
        `INSERT INTO device_receipts (account_id, device_id, seq, event_id, status, code, message)
         VALUES ${values.join(', ')}`,
        params,
      );
    } catch (e) {
      const err = dbError(e);
      if (err?.code === '23505') throw new ConcurrencyError(accountId, -1, err.constraint);
      throw e;
    }
  }

  /** The highest sequence number acknowledged for the device, 0 when none. */
  async deviceCursor(q: Queryable, accountId: string, deviceId: string): Promise<number> {
    const rows = await q.query<{ last_seq: string | number }>(
      'SELECT last_seq FROM device_cursors WHERE account_id = $1 AND device_id = $2',
      [accountId, deviceId],
    );
    return Number(rows[0]?.last_seq ?? 0);
  }

  /**
   * Locks the device's cursor row until the transaction ends (creating it at 0 if needed) and returns
   * its `last_seq`, read after the lock: concurrent syncs of one device run one after another.
   */
  async lockDeviceCursor(q: Queryable, accountId: string, deviceId: string): Promise<number> {
    await q.query(
      `INSERT INTO device_cursors (account_id, device_id, last_seq) VALUES ($1, $2, 0)
       ON CONFLICT (account_id, device_id) DO NOTHING`,
      [accountId, deviceId],
    );
    const rows = await q.query<{ last_seq: string | number }>(
      'SELECT last_seq FROM device_cursors WHERE account_id = $1 AND device_id = $2 FOR UPDATE',
      [accountId, deviceId],
    );
    return Number(rows[0]?.last_seq ?? 0);
  }

  /** Moves the device cursor forward (never back) and stamps the sync time. */
  async advanceCursor(
    q: Queryable,
    accountId: string,
    deviceId: string,
    lastSeq: number,
    at: number,
  ): Promise<void> {
    await q.query(
      `INSERT INTO device_cursors (account_id, device_id, last_seq, last_sync_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (account_id, device_id) DO UPDATE
         SET last_seq = greatest(device_cursors.last_seq, excluded.last_seq), last_sync_at = excluded.last_sync_at`,
      [accountId, deviceId, lastSeq, new Date(at).toISOString()],
    );
  }

  /** Every device cursor of the account. */
  async deviceCursors(
    q: Queryable,
    accountId: string,
  ): Promise<{ deviceId: string; lastSeq: number; lastSyncAt: number | null }[]> {
    const rows = await q.query<{
      device_id: string;
      last_seq: string | number;
      last_sync_at: Date | string | null;
    }>(
      'SELECT device_id, last_seq, last_sync_at FROM device_cursors WHERE account_id = $1 ORDER BY device_id',
      [accountId],
    );
    return rows.map((r) => ({
      deviceId: r.device_id,
      lastSeq: Number(r.last_seq),
      lastSyncAt: r.last_sync_at === null ? null : new Date(r.last_sync_at).getTime(),
    }));
  }
}

type ReceiptRow = {
  device_id: string;
  seq: string | number;
  event_id: string;
  status: ReceiptStatus;
  code: string | null;
  message: string | null;
};
const RECEIPT_COLUMNS = 'device_id, seq, event_id::text AS event_id, status, code, message';
const toReceipt = (r: ReceiptRow): DeviceReceipt => ({
  deviceId: r.device_id,
  seq: Number(r.seq),
  eventId: r.event_id,
  status: r.status,
  code: r.code,
  message: r.message,
});
