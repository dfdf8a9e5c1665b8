import { dbError, type Queryable } from '../db/database.js';
import { ConcurrencyError } from '../errors.js';
import type { DeviceReceipt, NewEvent, StreamWrite } from './types.js';

// Lists travel as one JSON parameter, so the statement has a fixed text and is prepared once per
// connection.
const EVENT_RECORD =
  'e(stream_version bigint, event_id uuid, type text, schema_version int, data jsonb, metadata jsonb)';
const RECEIPT_RECORD = 'r(device_id text, seq bigint, event_id uuid, status text, code text, message text)';

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
  ON CONFLICT (account_id, device_id) DO UPDATE
  SET last_seq = greatest(device_cursors.last_seq, excluded.last_seq), last_sync_at = excluded.last_sync_at
), snapshot AS (
  INSERT INTO snapshots (account_id, version, fold_version, state)
  SELECT $1::text, $7::bigint, $8::int, $9::text::jsonb WHERE $9::text IS NOT NULL
  ON CONFLICT (account_id, version) DO UPDATE
  SET fold_version = excluded.fold_version, state = excluded.state, created_at = now()
  WHERE snapshots.fold_version <> excluded.fold_version
)
SELECT 1`;

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
 * The one write path of the event store: see `EventStore.write`.
 * @throws {ConcurrencyError} when a stream version, an event id or a receipt is already taken.
 */
export async function writeStream<S>(q: Queryable, accountId: string, w: StreamWrite<S>): Promise<void> {
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
    const err = dbError(e);
    throw err?.code === '23505' ? new ConcurrencyError(accountId, w.expectedVersion, err.constraint) : e;
  }
}
