import { dbError, type Queryable } from '../db/database.js';
import { ConcurrencyError } from '../errors.js';
import type { StreamWrite } from './types.js';

// Lists travel as typed arrays (one per column) and are expanded with unnest: the statement has a fixed
// text, is prepared once per connection, and PostgreSQL parses no JSON but the payloads themselves. The
// JSON payloads travel as one text each, joined by the record separator U+001E, which JSON.stringify
// never leaves unescaped: no array quoting on either side.
// Data-modifying CTEs all run to completion; `go` gates every insert on the cursor's compare-and-set.
const WRITE_SQL = `WITH cursor AS (
  INSERT INTO device_cursors (account_id, device_id, last_seq, last_sync_at)
  SELECT $1::text, $14::text, $15::bigint, $16::timestamptz WHERE $14::text IS NOT NULL
  ON CONFLICT (account_id, device_id) DO UPDATE
  SET last_seq = greatest(device_cursors.last_seq, excluded.last_seq), last_sync_at = excluded.last_sync_at
  WHERE $17::bigint IS NULL OR device_cursors.last_seq = $17::bigint
  RETURNING 1
), go AS (
  SELECT ($14::text IS NULL OR $17::bigint IS NULL OR EXISTS (SELECT 1 FROM cursor)) AS ok
), appended AS (
  INSERT INTO events (account_id, stream_version, event_id, type, schema_version, data, metadata)
  SELECT $1::text, $2::bigint + e.n, e.event_id, e.type, e.schema_version, e.data::jsonb, e.metadata::jsonb
  FROM unnest($3::uuid[], $4::text[], $5::int[], string_to_array($6::text, E'\x1e'),
    string_to_array($7::text, E'\x1e'))
    WITH ORDINALITY AS e(event_id, type, schema_version, data, metadata, n)
  WHERE (SELECT ok FROM go)
  ORDER BY e.n
), receipts AS (
  INSERT INTO device_receipts (account_id, device_id, seq, event_id, status, code, message)
  SELECT $1::text, r.device_id, r.seq, r.event_id, r.status, r.code, r.message
  FROM unnest($8::text[], $9::bigint[], $10::uuid[], $11::text[], $12::text[], $13::text[])
    AS r(device_id, seq, event_id, status, code, message)
  WHERE (SELECT ok FROM go)
), snapshot AS (
  INSERT INTO snapshots (account_id, version, fold_version, state)
  SELECT $1::text, $18::bigint, $19::int, $20::text::jsonb WHERE $20::text IS NOT NULL AND (SELECT ok FROM go)
  ON CONFLICT (account_id, version) DO UPDATE
  SET fold_version = excluded.fold_version, state = excluded.state, created_at = now()
  WHERE snapshots.fold_version <> excluded.fold_version
)
SELECT ok FROM go`;

const RS = '\u001e';

/**
 * The one write path of the event store: see `EventStore.write`.
 * @throws {ConcurrencyError} when a stream version, an event id or a receipt is already taken, or the
 * cursor's compare-and-set finds another value.
 */
export async function writeStream<S>(q: Queryable, accountId: string, w: StreamWrite<S>): Promise<void> {
  const events = w.events;
  const receipts = w.receipts ?? [];
  let rows: { ok: boolean }[];
  try {
    rows = await q.query<{ ok: boolean }>(WRITE_SQL, [
      accountId,
      w.expectedVersion,
      events.map((e) => e.eventId),
      events.map((e) => e.type),
      events.map((e) => e.schemaVersion),
      events.map((e) => JSON.stringify(e.data)).join(RS),
      events.map((e) => JSON.stringify(e.metadata ?? {})).join(RS),
      receipts.map((r) => r.deviceId),
      receipts.map((r) => r.seq),
      receipts.map((r) => r.eventId),
      receipts.map((r) => r.status),
      receipts.map((r) => r.code),
      receipts.map((r) => r.message),
      w.cursor?.deviceId ?? null,
      w.cursor?.lastSeq ?? null,
      w.cursor ? new Date(w.cursor.at).toISOString() : null,
      w.cursor?.expectedLastSeq ?? null,
      w.snapshot?.version ?? null,
      w.snapshot?.foldVersion ?? null,
      w.snapshot ? JSON.stringify(w.snapshot.state) : null,
    ]);
  } catch (e) {
    const err = dbError(e);
    throw err?.code === '23505' ? new ConcurrencyError(accountId, w.expectedVersion, err.constraint) : e;
  }
  if (rows[0]?.ok !== true) throw new ConcurrencyError(accountId, w.expectedVersion, 'device_cursors_pkey');
}
