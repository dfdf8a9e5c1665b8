// The default entry: the protocol's data and pure functions, and the types of every wire message. It
// imports no validator, so a browser bundle that takes a constant or a type takes no zod. The zod schemas
// are in `@satchel/protocol/schemas`, the OpenAPI document in `@satchel/protocol/openapi`.
export {
  DOMAIN_REJECTION_CODES,
  type DomainRejectionCode,
  EVENT_REJECTION_CODES,
  type EventRejectionCode,
  PROTOCOL_REJECTION_CODES,
} from './codes.js';
export {
  DEVICE_EVENT_TYPES,
  DEVICE_PLATFORMS,
  DEVICE_STATUSES,
  type DeviceEventType,
  type DevicePlatform,
  type DeviceStatus,
  EXPIRY_REASONS,
  type ExpiryReason,
  LICENSE_STATUSES,
  type LicenseStatus,
  MAX_EVENT_SCHEMA_VERSION,
  MAX_REQUEST_JSON_DEPTH,
  MAX_SYNC_BATCH_EVENTS,
  MAX_SYNC_BODY_BYTES,
  OPERATOR_ROLES,
  type OperatorRole,
} from './constants.js';
export {
  ERROR_CODES,
  type ErrorCodeInfo,
  httpStatusFor,
  isRetryable,
  PROTOCOL_ERROR_CODES,
  type ProtocolErrorCode,
  type ProtocolErrorExtra,
  type ProtocolErrorOf,
  protocolError,
  toValidationIssues,
} from './errors.js';
export type {
  AccountDetail,
  AccountStateResponse,
  AccountSummary,
  AccountsResponse,
  AdminDevicesResponse,
  AdminTitle,
  AdminTitlesResponse,
  ChangePlanRequest,
  ChangePlanResponse,
  CreateAccountRequest,
  CreateAccountResponse,
  DeviceTokenResponse,
  HistoryEntry,
  HistoryResponse,
  MintDeviceTokenRequest,
  MintOperatorTokenRequest,
  OperatorTokenResponse,
  PolicyPatch,
  PolicyVersionsResponse,
  PutTitleRequest,
  PutTitleResponse,
  UpdateTitleRequest,
  WhoAmIResponse,
  WithdrawRequest,
  WithdrawResponse,
} from './schemas/admin.js';
export type { CatalogueResponse, CatalogueTitle } from './schemas/catalogue.js';
export type { DevicesResponse, RegisterDeviceRequest, RegisterDeviceResponse } from './schemas/devices.js';
export type {
  DeviceLimitDetails,
  ErrorResponse,
  PayloadTooLargeDetails,
  ProtocolError,
  ProtocolVersionDetails,
  RateLimitDetails,
  SeqGapDetails,
  ValidationIssue,
} from './schemas/errors.js';
export type { DeviceEventEnvelope } from './schemas/events.js';
export type {
  LicenseRequest,
  LicenseResponse,
  LicensesResponse,
  Refusal,
  ReleaseRequest,
  RenewRequest,
} from './schemas/licenses.js';
export type { EpochMs, Id, Plan, Policy, Uuid, UuidV7 } from './schemas/primitives.js';
export type { RebaseRequest, RebaseResponse } from './schemas/rebase.js';
export type {
  ProjectionLag,
  ProjectionsResponse,
  RebuildResponse,
  RuleChangeRequest,
  StudioMonthRow,
  StudioReportResponse,
  WhatIfAccountResponse,
  WhatIfRequest,
  WhatIfResponse,
} from './schemas/reports.js';
export type { EventResult, SyncRequest, SyncResponse } from './schemas/sync.js';
export type { Allowance, DeviceView, LicenseSnapshot, LicenseView } from './schemas/views.js';
export {
  MIN_SUPPORTED_PROTOCOL_VERSION,
  negotiateProtocolVersion,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  type ProtocolNegotiation,
  REQUEST_ID_HEADER,
} from './version.js';
