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

/** What one unit of work writes to an account, in one statement: see {@link EventStore.write}. */
export interface StreamWrite<S> {
  /** The stream version the events follow: the version the unit loaded. */
  expectedVersion: number;
  events: readonly NewEvent[];
  /** Device receipts to record. */
  receipts?: readonly DeviceReceipt[];
  /** A device cursor to move forward (never back), stamped with the sync time (epoch ms). */
  cursor?: { deviceId: string; lastSeq: number; at: number };
  /** A snapshot to save, as {@link EventStore.saveSnapshot} does. */
  snapshot?: Snapshot<S>;
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

/** What the database assigns on append; the caller holds the rest. */
type AppendedRow = {
  stream_version: string | number;
  global_position: string | number;
  recorded_at: Date | string;
};

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

// Lists travel as one JSON parameter, so every statement has a fixed text and is prepared once per
// connection.
const EVENT_RECORD =
  'e(stream_version bigint, event_id uuid, type text, schema_version int, data jsonb, metadata jsonb)';
const RECEIPT_RECORD = 'r(device_id text, seq bigint, event_id uuid, status text, code text, message text)';

const APPEND_SQL = `INSERT INTO events (account_id, stream_version, event_id, type, schema_version, data, metadata)
  SELECT $1::text, e.stream_version, e.event_id, e.type, e.schema_version, e.data, e.metadata
  FROM jsonb_to_recordset($2::text::jsonb) AS ${EVENT_RECORD} ORDER BY e.stream_version
  RETURNING stream_version, global_position, recorded_at`;

const INSERT_RECEIPTS_SQL = `INSERT INTO device_receipts (account_id, device_id, seq, event_id, status, code, message)
  SELECT $1::text, r.device_id, r.seq, r.event_id, r.status, r.code, r.message
  FROM jsonb_to_recordset($2::text::jsonb) AS ${RECEIPT_RECORD}`;

const SNAPSHOT_CONFLICT = `ON CONFLICT (account_id, version) DO UPDATE
  SET fold_version = excluded.fold_version, state = excluded.state, created_at = now()
  WHERE snapshots.fold_version <> excluded.fold_version`;

const CURSOR_CONFLICT = `ON CONFLICT (account_id, device_id) DO UPDATE
  SET last_seq = greatest(device_cursors.last_seq, excluded.last_seq), last_sync_at = excluded.last_sync_at`;

// Data-modifying CTEs all run to completion, so nothing is returned.
const WRITE_SQL = `WITH appended AS (
  INSERT INTO events (account_id, stream_version, event_id, type, schema_version, data, metadata)
  SELECT $1::text, e.stream_version, e.event_id, e.type, e.schema_version, e.data, e.metadata
  FROM jsonb_to_recordset($2::text::jsonb) AS ${EVENT_RECORD} ORDER BY e.stream_version
), receipts AS (
  INSERT INTO device_receipts (account_id, device_id, seq, event_id, status, code, message)
  SELECT $1::text, r.device_id, r.seq, r.event_id, r.status, r.code, r.message
  FROM jsonb_to_recordset($3::text::jsonb) AS ${RECEIPT_RECORD}
), cursor AS (
  INSERT INTO device_cursors (account_id, device_id, last_seq, last_sync_at)
  SELECT $1::text, $4::text, $5::bigint, $6::timestamptz WHERE $4::text IS NOT NULL
  ${CURSOR_CONFLICT}
), snapshot AS (
  INSERT INTO snapshots (account_id, version, fold_version, state)
  SELECT $1::text, $7::bigint, $8::int, $9::text::jsonb WHERE $9::text IS NOT NULL
  ${SNAPSHOT_CONFLICT}
)
SELECT 1`;

// The snapshot row (if any) and the events after it, from one statement snapshot: the snapshot row
// sorts first, since every event of the tail has a higher stream version.
const LOAD_SQL = `WITH snap AS (
  SELECT version, state FROM snapshots
  WHERE account_id = $1 AND fold_version = $2 AND $3::boolean
  ORDER BY version DESC LIMIT 1
)
SELECT true AS is_snapshot, version AS stream_version, NULL::text AS event_id, NULL::text AS type,
  NULL::int AS schema_version, state::text AS data, NULL::text AS metadata, NULL::timestamptz AS recorded_at,
  NULL::bigint AS global_position
FROM snap
UNION ALL
SELECT false, stream_version, event_id::text, type, schema_version, data::text, metadata::text, recorded_at,
  global_position
FROM events WHERE account_id = $1 AND stream_version > coalesce((SELECT version FROM snap), 0)
ORDER BY stream_version`;

const eventRecords = (expectedVersion: number, events: readonly NewEvent[]): string =>
  JSON.stringify(
    events.map((e, i) => ({
      stream_version: expectedVersion + i + 1,
      event_id: e.eventId,
      type: e.type,
      schema_version: e.schemaVersion,
      data: e.data,
      metadata: e.metadata ?? {},
    })),
  );

const receiptRecords = (receipts: readonly DeviceReceipt[]): string =>
  JSON.stringify(
    receipts.map((r) => ({
      device_id: r.deviceId,
      seq: r.seq,
      event_id: r.eventId,
      status: r.status,
      code: r.code,
      message: r.message,
    })),
  );

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
   * Resolves with the events as stored: the caller's `data` and `metadata`, with the stream version,
   * global position and recording time the database assigned.
   */
  async append(
    q: Queryable,
    accountId: string,
    expectedVersion: number,
    events: readonly NewEvent[],
  ): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    let rows: AppendedRow[];
    try {
      rows = await q.query<AppendedRow>(APPEND_SQL, [accountId, eventRecords(expectedVersion, events)]);
    } catch (e) {
      throw concurrencyOr(e, accountId, expectedVersion);
    }
    const assigned = new Map(rows.map((r) => [Number(r.stream_version), r]));
    return events.map((e, i) => {
      const streamVersion = expectedVersion + i + 1;
      const r = assigned.get(streamVersion);
      return {
        accountId,
        streamVersion,
        eventId: e.eventId,
        type: e.type,
        schemaVersion: e.schemaVersion,
        data: e.data,
        metadata: e.metadata ?? {},
        recordedAt: new Date(r?.recorded_at ?? Number.NaN).getTime(),
        globalPosition: Number(r?.global_position),
      };
    });
  }

  /**
   * Writes one unit of work on an account in one statement: appends `events` as versions
   * `expectedVersion + 1 …`, records the receipts, moves the device cursor and saves the snapshot
   * (each when given). Throws {@link ConcurrencyError} when another writer got there first (a stream
   * version, an event id or a receipt already taken); the enclosing transaction is then aborted and must
   * be retried from a fresh read. Durable once the enclosing transaction commits.
   */
  async write<S>(q: Queryable, accountId: string, w: StreamWrite<S>): Promise<void> {
    try {
      await q.query(WRITE_SQL, [
        accountId,
        eventRecords(w.expectedVersion, w.events),
        receiptRecords(w.receipts ?? []),
        w.cursor?.deviceId ?? null,
        w.cursor?.lastSeq ?? null,
        w.cursor ? new Date(w.cursor.at).toISOString() : null,
        w.snapshot?.version ?? null,
        w.snapshot?.foldVersion ?? null,
        w.snapshot ? JSON.stringify(w.snapshot.state) : null,
      ]);
    } catch (e) {
      throw concurrencyOr(e, accountId, w.expectedVersion);
    }
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
       ${SNAPSHOT_CONFLICT}`,
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
    const rows = await q.query<Omit<EventRow, 'account_id'> & { is_snapshot: boolean }>(LOAD_SQL, [
      accountId,
      fold.foldVersion,
      options.useSnapshots !== false,
    ]);
    const snap = rows[0]?.is_snapshot ? rows[0] : undefined;
    const snapshotVersion = snap ? Number(snap.stream_version) : 0;
    const tail = (snap ? rows.slice(1) : rows).map((r) => toEvent({ ...r, account_id: accountId }));
    const start = snap ? (JSON.parse(snap.data) as S) : fold.initial(accountId);
    const state = tail.length === 0 ? start : fold.apply(start, tail);
    return {
      state,
      version: tail.at(-1)?.streamVersion ?? snapshotVersion,
      snapshotHit: snap !== undefined,
      tailLength: tail.length,
      snapshotVersion,
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

  /**
   * Receipts already recorded: this device's for the sequence numbers `seqs`, and any device's of the
   * account for the event ids `eventIds`, read in one statement.
   */
  async receipts(
    q: Queryable,
    accountId: string,
    deviceId: string,
    seqs: readonly number[],
    eventIds: readonly string[],
  ): Promise<{ bySeq: Map<number, DeviceReceipt>; byEventId: Map<string, DeviceReceipt> }> {
    const bySeq = new Map<number, DeviceReceipt>();
    const byEventId = new Map<string, DeviceReceipt>();
    if (seqs.length === 0 && eventIds.length === 0) return { bySeq, byEventId };
    const rows = await q.query<ReceiptRow & { by_seq: boolean }>(
      `SELECT true AS by_seq, ${RECEIPT_COLUMNS} FROM device_receipts
       WHERE account_id = $1 AND device_id = $2 AND seq IN (SELECT jsonb_array_elements_text($3::text::jsonb)::bigint)
       UNION ALL
       SELECT false, ${RECEIPT_COLUMNS} FROM device_receipts
       WHERE account_id = $1 AND event_id IN (SELECT jsonb_array_elements_text($4::text::jsonb)::uuid)`,
      [accountId, deviceId, JSON.stringify(seqs), JSON.stringify(eventIds)],
    );
    for (const r of rows) {
      if (r.by_seq) bySeq.set(Number(r.seq), toReceipt(r));
      else byEventId.set(r.event_id, toReceipt(r));
    }
    return { bySeq, byEventId };
  }

  /** Receipts already recorded for these device sequence numbers. */
  async receiptsBySeq(
    q: Queryable,
    accountId: string,
    deviceId: string,
    seqs: readonly number[],
  ): Promise<Map<number, DeviceReceipt>> {
    return (await this.receipts(q, accountId, deviceId, seqs, [])).bySeq;
  }

  /** Receipts already recorded (by any device of the account) for these event ids. */
  async receiptsByEventId(
    q: Queryable,
    accountId: string,
    eventIds: readonly string[],
  ): Promise<Map<string, DeviceReceipt>> {
    return (await this.receipts(q, accountId, '', [], eventIds)).byEventId;
  }

  /** Records receipts; throws {@link ConcurrencyError} if one exists already (a concurrent replay). */
  async insertReceipts(q: Queryable, accountId: string, receipts: readonly DeviceReceipt[]): Promise<void> {
    if (receipts.length === 0) return;
    try {
      await q.query(INSERT_RECEIPTS_SQL, [accountId, receiptRecords(receipts)]);
    } catch (e) {
      throw concurrencyOr(e, accountId, -1);
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
    // The no-op update locks the row and returns its latest committed last_seq, in one statement.
    const rows = await q.query<{ last_seq: string | number }>(
      `INSERT INTO device_cursors (account_id, device_id, last_seq) VALUES ($1, $2, 0)
       ON CONFLICT (account_id, device_id) DO UPDATE SET last_seq = device_cursors.last_seq
       RETURNING last_seq`,
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
       ${CURSOR_CONFLICT}`,
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

function concurrencyOr(e: unknown, accountId: string, expectedVersion: number): unknown {
  const err = dbError(e);
  return err?.code === '23505' ? new ConcurrencyError(accountId, expectedVersion, err.constraint) : e;
}
