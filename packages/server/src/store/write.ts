import { dbError, type Queryable } from '../db/database.js';
import { ConcurrencyError, EventQuotaExceededError } from '../errors.js';
import type { StreamWrite } from './types.js';

// Lists travel as typed arrays (one per column) and are expanded with unnest: the statement has a fixed
// text, is prepared once per connection, and PostgreSQL parses no JSON but the payloads themselves. The
// JSON payloads travel as one text each, joined by the record separator U+001E, which JSON.stringify
// never leaves unescaped: no array quoting on either side.
// Data-modifying CTEs all run to completion; `fits` gates the cursor and `go` every insert: on the event
// quota's count and the cursor's compare-and-set. The quota counts only when the compare-and-set will
// hold (`cas`: the cursor row locked, as last committed), so a write that loses its race to a sync of
// the same device writes nothing, its count included. The last SELECT reads the quota row as it was
// before the statement: when the quota refused, that is the window the device waits out. A window is
// over at its end by the writer's clock, or when it starts more than a window after the writer's now (a
// clock far ahead opened it): a device never waits more than two windows on a clock that is not its
// writer's.
const WRITE_SQL = `WITH held AS (
  SELECT last_seq FROM device_cursors
  WHERE account_id = $1::text AND device_id = $14::text AND $17::bigint IS NOT NULL AND $21::text IS NOT NULL
  FOR UPDATE
), cas AS (
  SELECT ($14::text IS NULL OR $17::bigint IS NULL OR coalesce((SELECT last_seq FROM held) = $17::bigint, true)) AS ok
), quota AS (
  INSERT INTO event_quotas AS q (account_id, device_id, window_start, used)
  SELECT $1::text, $21::text, $25::bigint, $22::int
  WHERE $21::text IS NOT NULL AND $22::int <= $23::int AND (SELECT ok FROM cas)
  ON CONFLICT (account_id, device_id) DO UPDATE
  SET window_start = CASE WHEN q.window_start + $24::bigint <= excluded.window_start
      OR q.window_start > excluded.window_start + $24::bigint THEN excluded.window_start ELSE q.window_start END,
    used = CASE WHEN q.window_start + $24::bigint <= excluded.window_start
      OR q.window_start > excluded.window_start + $24::bigint THEN excluded.used ELSE q.used + excluded.used END
  WHERE q.window_start + $24::bigint <= excluded.window_start
    OR q.window_start > excluded.window_start + $24::bigint OR q.used + excluded.used <= $23::int
  RETURNING 1
), fits AS (
  SELECT ($21::text IS NULL OR NOT (SELECT ok FROM cas) OR EXISTS (SELECT 1 FROM quota)) AS ok
), cursor AS (
  INSERT INTO device_cursors (account_id, device_id, last_seq, last_sync_at)
  SELECT $1::text, $14::text, $15::bigint, $16::timestamptz WHERE $14::text IS NOT NULL AND (SELECT ok FROM fits)
  ON CONFLICT (account_id, device_id) DO UPDATE
  SET last_seq = greatest(device_cursors.last_seq, excluded.last_seq), last_sync_at = excluded.last_sync_at
  WHERE $17::bigint IS NULL OR device_cursors.last_seq = $17::bigint
  RETURNING 1
), go AS (
  SELECT (SELECT ok FROM fits) AND ($14::text IS NULL OR $17::bigint IS NULL OR EXISTS (SELECT 1 FROM cursor)) AS ok
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
SELECT (SELECT ok FROM go) AS ok, (SELECT ok FROM fits) AS fits,
  (SELECT window_start FROM event_quotas WHERE account_id = $1 AND device_id = $21::text) AS window_start`;

const RS = '\u001e';

/**
 * The one write path of the event store: see `EventStore.write`.
 * @throws {ConcurrencyError} when a stream version, an event id or a receipt is already taken, or the
 * cursor's compare-and-set finds another value.
 * @throws {EventQuotaExceededError} when `w.quota`'s events do not fit in the device's window.
 */
export async function writeStream<S>(q: Queryable, accountId: string, w: StreamWrite<S>): Promise<void> {
  const events = w.events;
  const receipts = w.receipts ?? [];
  const quota = w.quota !== undefined && w.quota.events > 0 ? w.quota : undefined;
  let rows: Answer[];
  try {
    rows = await q.query<Answer>(WRITE_SQL, [
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
      quota?.deviceId ?? null,
      quota?.events ?? null,
      quota?.limit.points ?? null,
      quota ? quota.limit.windowSec * 1000 : null,
      quota?.at ?? null,
    ]);
  } catch (e) {
    const err = dbError(e);
    throw err?.code === '23505' ? new ConcurrencyError(accountId, w.expectedVersion, err.constraint) : e;
  }
  const answer = rows[0];
  if (quota && answer?.fits === false) {
    const windowMs = quota.limit.windowSec * 1000;
    // The row as read before the statement: absent, or a window already over by this clock, when a
    // concurrent write opened the window that refused (it opened no later than now: wait a whole window).
    const read = answer.window_start === null ? null : Number(answer.window_start);
    const started = read === null || read + windowMs <= quota.at ? quota.at : read;
    throw new EventQuotaExceededError(
      quota.deviceId,
      quota.limit.points,
      quota.limit.windowSec,
      Math.max(1, started + windowMs - quota.at),
    );
  }
  if (answer?.ok !== true) throw new ConcurrencyError(accountId, w.expectedVersion, 'device_cursors_pkey');
}

/** The write's one row: whether it wrote, whether the quota let it, and the quota's window as read. */
interface Answer {
  ok: boolean;
  fits: boolean;
  window_start: string | number | null;
}
