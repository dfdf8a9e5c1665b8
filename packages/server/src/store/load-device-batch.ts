import type { Queryable } from '../db/database.js';
import { type EventRow, type ReceiptRow, toEvent, toReceipt } from './rows.js';
import type { DeviceReceipt, Fold, LoadedStream } from './types.js';

// The receipt probes are LATERAL subqueries kept apart by OFFSET 0, so every plan — the generic one
// PostgreSQL switches a prepared statement to after five runs included — probes the index once per
// batch event and never walks all the device's receipts (a join on the unnested batch, or `= ANY`, did in
// the generic plan: a 500-event sync's read took 55–130 ms instead of a few).
// Everything a device's sync decides from, from one statement snapshot: a first row with the device's
// cursor, its credential (generation in schema_version, 'active' or 'revoked' in type, both NULL when it
// has none) and the receipts the batch needs (by seq for the events at or below the cursor, by event id —
// any device of the account — for those above it), then the snapshot row (if any), then the tail.
export const LOAD_DEVICE_BATCH_SQL = `WITH snap AS (
  SELECT version, state FROM snapshots WHERE account_id = $1 AND fold_version = $2
  ORDER BY version DESC LIMIT 1
), cur AS (
  SELECT coalesce((SELECT last_seq FROM device_cursors WHERE account_id = $1 AND device_id = $3), 0) AS last_seq
), cred AS (
  SELECT generation, CASE WHEN revoked_at IS NULL THEN 'active' ELSE 'revoked' END AS status
  FROM device_credentials WHERE account_id = $1 AND device_id = $3
), batch AS (
  SELECT b.seq, b.event_id FROM unnest($4::bigint[], $5::uuid[]) AS b(seq, event_id)
), seen AS (
  SELECT true AS by_seq, r.device_id, r.seq, r.event_id::text AS event_id, r.status, r.code, r.message
  FROM batch CROSS JOIN LATERAL (
    SELECT * FROM device_receipts WHERE account_id = $1 AND device_id = $3 AND seq = batch.seq OFFSET 0
  ) r
  WHERE batch.seq <= (SELECT last_seq FROM cur)
  UNION ALL
  SELECT false, r.device_id, r.seq, r.event_id::text, r.status, r.code, r.message
  FROM batch CROSS JOIN LATERAL (
    SELECT * FROM device_receipts WHERE account_id = $1 AND event_id = batch.event_id OFFSET 0
  ) r
  WHERE batch.seq > (SELECT last_seq FROM cur)
)
SELECT 0 AS kind, (SELECT last_seq FROM cur) AS stream_version, NULL::text AS event_id,
  (SELECT status FROM cred) AS type, (SELECT generation FROM cred)::int AS schema_version,
  coalesce((SELECT json_agg(seen)::text FROM seen), '[]') AS data,
  NULL::text AS metadata, NULL::timestamptz AS recorded_at, NULL::bigint AS global_position
UNION ALL
SELECT 1, version, NULL, NULL, NULL, state::text, NULL, NULL, NULL FROM snap
UNION ALL
SELECT 2, stream_version, event_id::text, type, schema_version, data::text, metadata::text, recorded_at,
  global_position
FROM events WHERE account_id = $1 AND stream_version > coalesce((SELECT version FROM snap), 0)
ORDER BY 1, 2`;

/** What a device's sync reads: see `EventStore.loadDeviceBatch`. */
export interface DeviceBatchRead<S> {
  loaded: LoadedStream<S>;
  /** The device's highest acknowledged seq, 0 when none. */
  cursor: number;
  /** This device's receipts for the batch's seqs at or below `cursor`. */
  bySeq: Map<number, DeviceReceipt>;
  /** Receipts (any device of the account) for the event ids of the batch's events above `cursor`. */
  byEventId: Map<string, DeviceReceipt>;
  /** The device's credential as of the same snapshot (see `credentials.ts`), null when it has none. */
  credential: { generation: number; revoked: boolean } | null;
}

/** Loads what a device's sync decides from, in one statement: see `EventStore.loadDeviceBatch`. */
export async function loadDeviceBatch<S>(
  q: Queryable,
  accountId: string,
  fold: Fold<S>,
  deviceId: string,
  batch: readonly { seq: number; eventId: string }[],
): Promise<DeviceBatchRead<S>> {
  const rows = await q.query<Omit<EventRow, 'account_id'> & { kind: number }>(LOAD_DEVICE_BATCH_SQL, [
    accountId,
    fold.foldVersion,
    deviceId,
    batch.map((e) => e.seq),
    batch.map((e) => e.eventId),
  ]);
  const head = rows[0];
  const bySeq = new Map<number, DeviceReceipt>();
  const byEventId = new Map<string, DeviceReceipt>();
  for (const r of JSON.parse(head?.data ?? '[]') as (ReceiptRow & { by_seq: boolean })[]) {
    if (r.by_seq) bySeq.set(Number(r.seq), toReceipt(r));
    else byEventId.set(r.event_id, toReceipt(r));
  }
  const snap = rows[1]?.kind === 1 ? rows[1] : undefined;
  const tail = rows.slice(snap ? 2 : 1).map((r) => toEvent({ ...r, account_id: accountId }));
  const snapshotVersion = snap ? Number(snap.stream_version) : 0;
  const start = snap ? (JSON.parse(snap.data) as S) : fold.initial(accountId);
  return {
    loaded: {
      state: tail.length === 0 ? start : fold.apply(start, tail),
      version: tail.at(-1)?.streamVersion ?? snapshotVersion,
      snapshotHit: snap !== undefined,
      tailLength: tail.length,
      snapshotVersion,
    },
    cursor: Number(head?.stream_version ?? 0),
    credential:
      head?.type === 'active' || head?.type === 'revoked'
        ? { generation: Number(head.schema_version), revoked: head.type === 'revoked' }
        : null,
    bySeq,
    byEventId,
  };
}
