export { isActive, isHeldStatus, isSatchelError, SatchelError } from '@satchel/core';
export {
  createSatchel,
  type DeviceCredential,
  type LicenseRequestResult,
  type LicenseState,
  type PlaybackRefusal,
  type PlaybackResult,
  type Registration,
  type SatchelChange,
  type SatchelClient,
  type SatchelClock,
  type SatchelOptions,
  type SatchelStatus,
} from './client.js';
export { ClientError, type ClientErrorCode, StorageError, type StorageErrorCode } from './errors.js';
export { heldLicense } from './held.js';
export type { SatchelLogger, SatchelLogLevel } from './logger.js';
export { IDB_SCHEMA_VERSION, type IdbStorageOptions, idbStorage } from './storage/idb.js';
export type {
  DeviceIdentity,
  MetaPatch,
  NewOutboxEvent,
  OutboxEntry,
  PendingCommand,
  RecordPlan,
  RecordRead,
  RecordState,
  RetainedEvent,
  SatchelStorage,
  StoredClock,
  StoredMeta,
  StoredSyncError,
  SyncCursor,
  SyncRecovery,
} from './storage/types.js';
export { MAX_REQUESTS_PER_MINUTE } from './sync/budget.js';
export {
  DEFAULT_RETENTION,
  type RejectedEvent,
  type RetentionOptions,
  type SyncResult,
} from './sync/engine.js';
export { RETRY_HINT_RANGE_MS } from './sync/http.js';
export type { SatchelTimers } from './sync/loop.js';
export type { StopReason, SyncStateKind } from './sync/machine.js';
export type { LockManagerLike } from './tabs.js';
