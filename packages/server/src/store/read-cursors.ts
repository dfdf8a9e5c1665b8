import type { Queryable } from '../db/database.js';
import type { DeviceCursor } from './types.js';

const READ_CURSORS_SQL =
  'SELECT device_id, last_seq, last_sync_at FROM device_cursors WHERE account_id = $1 ORDER BY device_id';

/** Every device cursor of an account: see `EventStore.deviceCursors`. */
export async function readDeviceCursors(q: Queryable, accountId: string): Promise<DeviceCursor[]> {
  const rows = await q.query<{
    device_id: string;
    last_seq: string | number;
    last_sync_at: Date | string | null;
  }>(READ_CURSORS_SQL, [accountId]);
  return rows.map((r) => ({
    deviceId: r.device_id,
    lastSeq: Number(r.last_seq),
    lastSyncAt: r.last_sync_at === null ? null : new Date(r.last_sync_at).getTime(),
  }));
}
