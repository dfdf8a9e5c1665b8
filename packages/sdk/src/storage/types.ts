import type { SecureClockState } from '@satchel/core';
import type { DeviceEventEnvelope, LicenseSnapshot } from '@satchel/protocol';

/** A device event waiting in the outbox: exactly the wire envelope, `seq` and `eventId` assigned on write. */
export type OutboxEntry = DeviceEventEnvelope;

/** An event to append: the storage assigns `seq` and `eventId` in the transaction that stores it. */
export type NewOutboxEvent = Omit<DeviceEventEnvelope, 'seq' | 'eventId'>;

/** The device's identity and bearer token, stored after registration. */
export interface DeviceIdentity {
  deviceId: string;
  token: string | null;
  tokenExpiresAt: number | null;
  accountId: string | null;
  name: string | null;
}

/** The persisted secure clock (core's state; its monotonic reading names the session it belongs to). */
export type StoredClock = SecureClockState;

/**
 * The last error a sync ended with, as stored for every tab to see. `code` is the server's wire code when
 * it answered with one (e.g. `RATE_LIMITED`), otherwise the SDK error's code (e.g. `NETWORK`).
 */
export interface StoredSyncError {
  code: string;
  message: string;
  at: number;
}

/** Where sync stands: what the server acknowledged, when, and how the last attempt ended. */
export interface SyncCursor {
  /** Highest seq the server acknowledged (0: none). */
  ackSeq: number;
  /** Wall-clock time of the last successful sync, or null. */
  lastSyncAt: number | null;
  lastError: StoredSyncError | null;
  /** Set when the server refused this SDK's protocol version. */
  updateRequired: { minProtocolVersion: number | null; message: string } | null;
}

/** Everything but the outbox, read in one transaction. `lastSeq` is the highest seq ever assigned. */
export interface StoredMeta {
  identity: DeviceIdentity | null;
  snapshot: LicenseSnapshot | null;
  clock: StoredClock | null;
  cursor: SyncCursor;
  lastSeq: number;
}

/**
 * A change to the stored meta, written atomically with the operation that carries it. Absent fields are
 * untouched; `null` clears. The clock's high-water mark never moves backwards: a patch with a lower
 * mark keeps the stored one.
 */
export interface MetaPatch {
  identity?: DeviceIdentity | null;
  snapshot?: LicenseSnapshot | null;
  clock?: StoredClock | null;
  cursor?: Partial<SyncCursor>;
}

/**
 * Durable device storage: the outbox, the last authoritative snapshot, the secure clock, the identity and
 * the ack cursor. Every method is one IndexedDB transaction: when its promise resolves the change is
 * committed; when it rejects (with a {@link StorageError}) nothing was written.
 */
export interface SatchelStorage {
  /** Short name of the adapter (`idb`, `dexie`). */
  readonly kind: string;
  /** Opens the database, creating or upgrading its schema. Idempotent. */
  open(): Promise<void>;
  /**
   * Appends events to the outbox, assigning each the next per-device `seq` and a UUIDv7 `eventId` in the
   * same transaction (concurrent writers, even in other tabs, never share or skip a seq), and applies
   * `patch` in that transaction too.
   */
  append(events: readonly NewOutboxEvent[], patch?: MetaPatch): Promise<OutboxEntry[]>;
  /** The oldest `limit` outbox entries (all without a limit), in seq order. */
  pending(limit?: number): Promise<OutboxEntry[]>;
  /** How many entries the outbox holds. */
  pendingCount(): Promise<number>;
  /**
   * In one transaction: drops every outbox entry with `seq <= ackSeq` (when `ackSeq` is given), raises the
   * cursor's `ackSeq`, and applies `patch` (e.g. the snapshot that came with the acknowledgement).
   * Resolves with the number of entries dropped.
   */
  commit(ackSeq: number | null, patch?: MetaPatch): Promise<number>;
  /** The identity, snapshot, clock, cursor and last assigned seq, read in one transaction. */
  readMeta(): Promise<StoredMeta>;
  /** Closes the connection. Later calls reject with `STORAGE_CLOSED`. */
  close(): Promise<void>;
}

export const EMPTY_CURSOR: SyncCursor = {
  ackSeq: 0,
  lastSyncAt: null,
  lastError: null,
  updateRequired: null,
};
