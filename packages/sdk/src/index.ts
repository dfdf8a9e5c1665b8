export { isSatchelError, SatchelError } from '@satchel/core';
export {
  createSatchel,
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
export { IDB_SCHEMA_VERSION, type IdbStorageOptions, idbStorage } from './storage/idb.js';
export type {
  DeviceIdentity,
  MetaPatch,
  NewOutboxEvent,
  OutboxEntry,
  RecordPlan,
  RecordRead,
  RecordState,
  SatchelStorage,
  StoredClock,
  StoredMeta,
  StoredSyncError,
  SyncCursor,
} from './storage/types.js';
export type { RejectedEvent, SyncResult } from './sync/engine.js';
export type { LockManagerLike } from './tabs.js';
