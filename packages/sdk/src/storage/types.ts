import type { SecureClockState } from '@satchel/core';
import type { DeviceEventEnvelope, LicenseSnapshot } from '@satchel/protocol';
import type { SatchelLogger } from '../logger.js';

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
  /** The device secret sent at registration (`device-secret.ts`); absent for identities given out of band. */
  secret?: string;
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

/**
 * The idempotency key of an online command sent but not yet answered: the licence id a download request
 * asked for, or the renewal count a renewal started from. `at` is when it was first sent (wall clock).
 */
export interface PendingCommand {
  licenseId?: string;
  fromRenewal?: number;
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
  /** Online commands sent and not yet answered, by command (`issue:<titleId>`, `renew:<licenseId>`). */
  commands?: Record<string, PendingCommand>;
  /**
   * Acknowledged events kept for the retention window, oldest first, with when they were acknowledged
   * (wall clock): a server restored from a backup is refilled from them.
   */
  retained?: RetainedEvent[];
  /** The last time the device and the server disagreed about its history, and how it was resolved. */
  lastRecovery?: SyncRecovery | null;
}

/** An acknowledged event kept for the retention window. */
export interface RetainedEvent {
  entry: OutboxEntry;
  ackedAt: number;
}

/**
 * How the device and the server were brought back in agreement after the server lost acknowledged
 * events (`SEQ_GAP` behind the outbox):
 * - `refilled`: the device still held `fromSeq`…`toSeq` (retained) and sent them again;
 * - `rebased`: it no longer held them; the server recorded `DeviceHistoryRebased` for that range in the
 *   account's history and moved on. Nothing is dropped silently: this is how the player learns of it;
 * - `renumbered`: the other way round — the device's storage was restored from an older backup, so its
 *   new events from `fromSeq` on reused seqs the server had already acknowledged for other events
 *   (`EVENT_ID_REUSED`); they were renumbered after the server's cursor `toSeq` (ids unchanged) and sent
 *   again. Events of the same batch the server accepted past its old cursor were applied before them.
 */
export interface SyncRecovery {
  kind: 'refilled' | 'rebased' | 'renumbered';
  fromSeq: number;
  toSeq: number;
  at: number;
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

/** What {@link SatchelStorage.record} reads, inside its transaction, before `build` decides what to write. */
export interface RecordRead {
  /** Read the stored identity (otherwise `identity` is `null`). */
  identity?: boolean;
  /** Read the stored snapshot (otherwise `snapshot` is `null`). */
  snapshot?: boolean;
  /** Read the pending outbox entries about this licence (otherwise `pending` is empty). */
  licenseId?: string;
}

/**
 * The state {@link SatchelStorage.record} hands to `build`, read in the transaction that writes. Read
 * only: an adapter may hand the same parsed snapshot to several calls while the stored one is unchanged.
 */
export interface RecordState {
  identity: DeviceIdentity | null;
  snapshot: LicenseSnapshot | null;
  /** The stored secure clock, always read. */
  clock: StoredClock | null;
  /** Pending entries whose `data.licenseId` is {@link RecordRead.licenseId}, in seq order. */
  pending: OutboxEntry[];
}

/** What `build` decided: the events to append, the clock state to store (merged as in a patch), a result. */
export interface RecordPlan<T> {
  events: readonly NewOutboxEvent[];
  clock?: StoredClock;
  result: T;
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
  /**
   * Optional fast path for recording: in ONE read-write transaction, reads the clock (and what `read` asks
   * for), calls `build` synchronously with it, then appends the events it returns, assigning their `seq`
   * and `eventId` as {@link SatchelStorage.append} does, and stores its clock state. `build` must not
   * throw and may be called again if the transaction is retried after a lost connection. Resolves once
   * committed. A storage without it is driven through `readMeta`, `pending` and `append`.
   */
  record?<T>(
    read: RecordRead,
    build: (state: RecordState) => RecordPlan<T>,
  ): Promise<{ entries: OutboxEntry[]; result: T }>;
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
  /**
   * In ONE transaction, gives the entries whose seq is in `moved` (in that order), then
   * every entry above `afterSeq` (in seq order), the seqs `afterSeq + 1`, `afterSeq + 2`, … — `eventId`
   * and content unchanged — and raises the last assigned seq to the last of them (at least `afterSeq`),
   * so the next recorded event follows. Used when the server already holds those seqs from history this
   * device lost (its storage was restored from an older backup). Resolves with the moved entries.
   */
  renumber(moved: readonly number[], afterSeq: number): Promise<OutboxEntry[]>;
  /** The identity, snapshot, clock, cursor and last assigned seq, read in one transaction. */
  readMeta(): Promise<StoredMeta>;
  /** Closes the connection. Later calls reject with `STORAGE_CLOSED`. */
  close(): Promise<void>;
  /**
   * Optional: where the adapter reports the errors it handles without throwing (a failed abort of a
   * transaction that already failed, a failed close of a lost connection). The client passes its
   * `logger` here when it is created.
   */
  useLogger?(logger: SatchelLogger): void;
}

export const EMPTY_CURSOR: SyncCursor = {
  ackSeq: 0,
  lastSyncAt: null,
  lastError: null,
  updateRequired: null,
};
