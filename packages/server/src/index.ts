export { AccountRepository, type AccountUnit, accountFold } from './accounts.js';
export {
  AuthError,
  DEVELOPMENT_TOKEN_SECRET,
  estimatedEntropyBits,
  MIN_PRODUCTION_SECRET_BITS,
  MIN_PRODUCTION_SECRET_CHARS,
  type Principal,
  productionSecretProblem,
  type TokenOptions,
  Tokens,
} from './auth.js';
export { Catalogue, demoCatalogue, type Title } from './catalogue.js';
export {
  type CredentialStatus,
  credentialStatus,
  currentCredential,
  DeviceAlreadyRegisteredError,
} from './credentials.js';
export type { Database, Queryable } from './db/database.js';
export { pgliteDatabase } from './db/pglite.js';
export { postgresDatabase } from './db/postgres.js';
export {
  ConcurrencyError,
  ConflictRetriesExhaustedError,
  isConcurrencyError,
  isConflictRetriesExhaustedError,
  ServerError,
} from './errors.js';
export { type Api, type AppOptions, createApi, createApp, refuseOversizedBatch } from './http/app.js';
export {
  type BodyBounds,
  DEFAULT_BODY_BOUNDS,
  DEFAULT_BODY_TIMEOUT_MS,
  depthExceededAt,
  parseJsonBody,
} from './http/body.js';
export {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
} from './http/connections.js';
export { DeviceGate, type DeviceGateOptions } from './http/device-gate.js';
export {
  type ClearKey,
  KEY_SYSTEMS,
  type KeySystem,
  keyReleasable,
  type LicenseProxyOptions,
  type LicenseUpstream,
} from './http/license-proxy.js';
export {
  DEFAULT_LIMITS,
  type LimitRefusal,
  type Limits,
  type LimitWindow,
  RequestLimits,
  resolveLimits,
} from './http/limits.js';
export {
  type MergeAppend,
  type MergeInput,
  type MergeOutcome,
  type MergeRefusal,
  mergeBatch,
  type SeenReceipts,
} from './merge.js';
export { Metrics } from './metrics.js';
export {
  type Projection,
  type ProjectionLag,
  ProjectionRunner,
  type ProjectionRunnerOptions,
} from './projections/runner.js';
export {
  STUDIO_ACCOUNTING,
  type StudioMeasure,
  type StudioMonthRow,
  type StudioReportQuery,
  studioAccounting,
  studioReport,
  studioReportCsv,
} from './projections/studio-accounting.js';
export {
  affectedAccounts,
  checkWhatIfNames,
  readHistories,
  type WhatIfAccountSummary,
  type WhatIfOptions,
  type WhatIfReport,
  type WhatIfTotals,
  whatIf,
  whatIfAccount,
} from './projections/what-if.js';
export {
  createSatchelServer,
  type DatabaseConfig,
  type Listener,
  openDatabase,
  type SatchelServer,
  type SatchelServerConfig,
  type SyncHandler,
  serveFetch,
  startingUpFetch,
  withLeanSync,
} from './server.js';
export { DeviceLimitError, ForbiddenError, NotFoundError, SatchelService, SeqGapError } from './service.js';
export {
  type DeviceCursor,
  type DeviceReceipt,
  type EventMetadata,
  EventStore,
  type EventStoreOptions,
  type Fold,
  type LoadedStream,
  type NewEvent,
  type StoredEvent,
} from './store/event-store.js';
export { MIGRATIONS, type Migration, migrate, migrationsCurrent } from './store/migrations.js';
