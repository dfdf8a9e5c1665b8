import type { Queryable } from '../db/database.js';
import { RECEIPT_COLUMNS, type ReceiptRow, toReceipt } from './rows.js';
import type { DeviceReceipt } from './types.js';

const READ_RECEIPTS_SQL = `SELECT true AS by_seq, ${RECEIPT_COLUMNS} FROM device_receipts
  WHERE account_id = $1 AND device_id = $2 AND seq IN (SELECT jsonb_array_elements_text($3::text::jsonb)::bigint)
  UNION ALL
  SELECT false, ${RECEIPT_COLUMNS} FROM device_receipts
  WHERE account_id = $1 AND event_id IN (SELECT jsonb_array_elements_text($4::text::jsonb)::uuid)`;

/** Receipts by seq (this device) and by event id (any device of the account): see `EventStore.receipts`. */
export async function readReceipts(
  q: Queryable,
  accountId: string,
  deviceId: string,
  seqs: readonly number[],
  eventIds: readonly string[],
): Promise<{ bySeq: Map<number, DeviceReceipt>; byEventId: Map<string, DeviceReceipt> }> {
  const bySeq = new Map<number, DeviceReceipt>();
  const byEventId = new Map<string, DeviceReceipt>();
  if (seqs.length === 0 && eventIds.length === 0) return { bySeq, byEventId };
  const rows = await q.query<ReceiptRow & { by_seq: boolean }>(READ_RECEIPTS_SQL, [
    accountId,
    deviceId,
    JSON.stringify(seqs),
    JSON.stringify(eventIds),
  ]);
  for (const r of rows) {
    if (r.by_seq) bySeq.set(Number(r.seq), toReceipt(r));
    else byEventId.set(r.event_id, toReceipt(r));
  }
  return { bySeq, byEventId };
}
