import type { Queryable } from '../db/database.js';
import { type EventRow, toEvent } from './rows.js';
import type { Fold, LoadedStream } from './types.js';

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

/** Loads a stream: see `EventStore.load`. */
export async function loadStream<S>(
  q: Queryable,
  accountId: string,
  fold: Fold<S>,
  useSnapshots: boolean,
): Promise<LoadedStream<S>> {
  const rows = await q.query<Omit<EventRow, 'account_id'> & { is_snapshot: boolean }>(LOAD_SQL, [
    accountId,
    fold.foldVersion,
    useSnapshots,
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
