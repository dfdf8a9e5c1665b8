import type { Queryable } from '../db/database.js';
import { EVENT_COLUMNS, type EventRow, toEvent } from './rows.js';
import type { StoredEvent } from './types.js';

const READ_STREAM_SQL = `SELECT ${EVENT_COLUMNS} FROM events
  WHERE account_id = $1 AND stream_version > $2 ORDER BY stream_version`;

/** One account's events after `afterVersion`, in order: see `EventStore.readStream`. */
export async function readStream(
  q: Queryable,
  accountId: string,
  afterVersion: number,
): Promise<StoredEvent[]> {
  const rows = await q.query<EventRow>(READ_STREAM_SQL, [accountId, afterVersion]);
  return rows.map(toEvent);
}
