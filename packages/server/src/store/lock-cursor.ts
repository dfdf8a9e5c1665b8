import type { Queryable } from '../db/database.js';

// The no-op update locks the row and returns its latest committed last_seq, in one statement.
const LOCK_CURSOR_SQL = `INSERT INTO device_cursors (account_id, device_id, last_seq) VALUES ($1, $2, 0)
  ON CONFLICT (account_id, device_id) DO UPDATE SET last_seq = device_cursors.last_seq
  RETURNING last_seq`;

/** Locks a device's cursor row and reads it: see `EventStore.lockDeviceCursor`. */
export async function lockDeviceCursor(q: Queryable, accountId: string, deviceId: string): Promise<number> {
  const rows = await q.query<{ last_seq: string | number }>(LOCK_CURSOR_SQL, [accountId, deviceId]);
  return Number(rows[0]?.last_seq ?? 0);
}
