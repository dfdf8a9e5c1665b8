import type { DeviceReceipt, EventMetadata, ReceiptStatus, StoredEvent } from './types.js';

export type EventRow = {
  account_id: string;
  stream_version: string | number;
  event_id: string;
  type: string;
  schema_version: number;
  data: string;
  metadata: string;
  recorded_at: Date | string;
  global_position: string | number;
};

/** The `events` columns as {@link toEvent} reads them (jsonb as text: parsed once, in Node). */
export const EVENT_COLUMNS = `account_id, stream_version, event_id::text AS event_id, type, schema_version,
  data::text AS data, metadata::text AS metadata, recorded_at, global_position`;

export const toEvent = (r: EventRow): StoredEvent => ({
  accountId: r.account_id,
  streamVersion: Number(r.stream_version),
  eventId: r.event_id,
  type: r.type,
  schemaVersion: Number(r.schema_version),
  data: JSON.parse(r.data),
  metadata: JSON.parse(r.metadata) as EventMetadata,
  recordedAt: new Date(r.recorded_at).getTime(),
  globalPosition: Number(r.global_position),
});

export type ReceiptRow = {
  device_id: string;
  seq: string | number;
  event_id: string;
  status: ReceiptStatus;
  code: string | null;
  message: string | null;
};

export const RECEIPT_COLUMNS = 'device_id, seq, event_id::text AS event_id, status, code, message';

export const toReceipt = (r: ReceiptRow): DeviceReceipt => ({
  deviceId: r.device_id,
  seq: Number(r.seq),
  eventId: r.event_id,
  status: r.status,
  code: r.code,
  message: r.message,
});
