/** Who recorded an event and when, as stored in `events.metadata`. */
export interface EventMetadata {
  deviceId?: string;
  seq?: number;
  deviceTime?: number;
  trustedTime?: number;
  /** For an event a device recorded: the server's instant when the merge received and judged it (epoch ms). */
  receivedAt?: number;
  requestId?: string;
}

/** An event to append: the store assigns its stream version, global position and recording time. */
export interface NewEvent {
  eventId: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata?: EventMetadata;
}

/** An event as stored. */
export interface StoredEvent {
  accountId: string;
  streamVersion: number;
  eventId: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: EventMetadata;
  /** Epoch milliseconds. */
  recordedAt: number;
  globalPosition: number;
}

export type ReceiptStatus = 'accepted' | 'duplicate' | 'rejected';

/** What the server answered for one device event (`seq`), kept so a replay gets the same answer. */
export interface DeviceReceipt {
  deviceId: string;
  seq: number;
  eventId: string;
  status: ReceiptStatus;
  code: string | null;
  message: string | null;
}

/** A device's cursor: the highest acknowledged `seq` and when it last synced (epoch ms, null if never). */
export interface DeviceCursor {
  deviceId: string;
  lastSeq: number;
  lastSyncAt: number | null;
}

/** A folded state at a stream version, with the version of the fold code that produced it. */
export interface Snapshot<S> {
  version: number;
  foldVersion: number;
  state: S;
}

/** How to fold an account's events: the store knows nothing of the domain. */
export interface Fold<S> {
  foldVersion: number;
  initial(accountId: string): S;
  /** Folds events, in stream order, into `state`; returns the new state. */
  apply(state: S, events: readonly StoredEvent[]): S;
}

export interface LoadedStream<S> {
  state: S;
  version: number;
  /** True when a snapshot with the current fold version was used. */
  snapshotHit: boolean;
  /** Events read and folded after the snapshot (or from the start). */
  tailLength: number;
  /** Version of the snapshot used, 0 when none. */
  snapshotVersion: number;
}

/** What one unit of work writes to an account, in one statement: see `EventStore.write`. */
export interface StreamWrite<S> {
  /** The stream version the events follow: the version the unit loaded. */
  expectedVersion: number;
  events: readonly NewEvent[];
  /** Device receipts to record. */
  receipts?: readonly DeviceReceipt[];
  /**
   * A device cursor to move forward (never back), stamped with the sync time (epoch ms). With
   * `expectedLastSeq`, a compare-and-set: when the cursor holds another value (another sync of the device
   * got there first), nothing at all is written and the write throws a `ConcurrencyError`.
   */
  cursor?: { deviceId: string; lastSeq: number; at: number; expectedLastSeq?: number };
  /** A snapshot to save; one of another fold version at the same stream version is replaced. */
  snapshot?: Snapshot<S>;
  /**
   * Counts `events` new events of a device against its quota in the same statement: when they do not fit
   * in the device's current window, nothing at all is written and the write throws an
   * `EventQuotaExceededError`. `events` 0 counts nothing.
   */
  quota?: { deviceId: string; events: number; limit: EventQuota; at: number };
}

/**
 * The quota of new events one device may add to the store: at most `points` in each fixed window of
 * `windowSec` seconds, the window starting at the first event counted after the last one ended (by the
 * writer's clock; a window that starts more than `windowSec` after the writer's now has ended too).
 */
export interface EventQuota {
  readonly points: number;
  readonly windowSec: number;
}
