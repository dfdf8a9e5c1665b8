import type { Queryable } from '../db/database.js';
import { EVENT_COLUMNS, type EventRow, toEvent } from './rows.js';
import type { StoredEvent } from './types.js';

// Only rows of transactions older than every transaction still in flight, in (transaction id, global
// position) order: a reader resuming after the last position it saw never skips a row committed late.
const READ_ALL_SQL = `WITH cursor AS (
  SELECT coalesce((SELECT transaction_id FROM events WHERE global_position = $1), '0'::xid8) AS tx
)
SELECT ${EVENT_COLUMNS} FROM events, cursor
WHERE (transaction_id, global_position) > (cursor.tx, $1::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, global_position
LIMIT $2`;

/** A page of the global feed: see `EventStore.readAll`. */
export async function readAll(
  q: Queryable,
  afterPosition: number,
  limit: number,
): Promise<{ events: StoredEvent[]; lastPosition: number }> {
  const rows = await q.query<EventRow>(READ_ALL_SQL, [afterPosition, limit]);
  const events = rows.map(toEvent);
  return { events, lastPosition: events.at(-1)?.globalPosition ?? afterPosition };
}
