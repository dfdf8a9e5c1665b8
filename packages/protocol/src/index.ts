export {
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
  HistoryEntry,
  HistoryResponse,
  MintOperatorTokenRequest,
  OPERATOR_ROLES,
  OperatorRole,
  OperatorTokenResponse,
  PolicyPatch,
  PolicyVersionsResponse,
  PutTitleRequest,
  PutTitleResponse,
  UpdateTitleRequest,
  WhoAmIResponse,
  WithdrawRequest,
  WithdrawResponse,
} from './admin.js';
export { CatalogueResponse, CatalogueTitle } from './catalogue.js';
export {
  DOMAIN_REJECTION_CODES,
  DomainRejectionCode,
  EVENT_REJECTION_CODES,
  EventRejectionCode,
  PROTOCOL_REJECTION_CODES,
} from './codes.js';
export {
  DEVICE_PLATFORMS,
  DevicePlatform,
  DevicesResponse,
  RegisterDeviceRequest,
  RegisterDeviceResponse,
} from './devices.js';
export {
  ERROR_CODES,
  type ErrorCodeInfo,
  ErrorResponse,
  httpStatusFor,
  isRetryable,
  PayloadTooLargeDetails,
  PROTOCOL_ERROR_CODES,
  ProtocolError,
  ProtocolErrorCode,
  type ProtocolErrorExtra,
  type ProtocolErrorOf,
  ProtocolVersionDetails,
  parseErrorResponse,
  protocolError,
  SeqGapDetails,
  toValidationIssues,
  ValidationIssue,
} from './errors.js';
export {
  DEVICE_EVENT_TYPES,
  DeviceEventEnvelope,
  DeviceEventType,
  MAX_EVENT_SCHEMA_VERSION,
} from './events.js';
export {
  LicenseGranted,
  LicenseRefused,
  LicenseRequest,
  LicenseResponse,
  LicensesResponse,
  Refusal,
  ReleaseRequest,
  RenewRequest,
} from './licenses.js';
export { type OpenApiDocument, type OpenApiOptions, openApiDocument } from './openapi.js';
export { EpochMs, Id, Plan, Policy, Uuid, UuidV7 } from './primitives.js';
export { RebaseRequest, RebaseResponse } from './rebase.js';
export {
  AcceptedEventResult,
  DuplicateEventResult,
  EventResult,
  MAX_SYNC_BATCH_EVENTS,
  MAX_SYNC_BODY_BYTES,
  ProtocolVersionNumber,
  RejectedEventResult,
  SyncRequest,
  SyncResponse,
} from './sync.js';
export {
  MIN_SUPPORTED_PROTOCOL_VERSION,
  negotiateProtocolVersion,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  type ProtocolNegotiation,
  REQUEST_ID_HEADER,
} from './version.js';
export {
  Allowance,
  DEVICE_STATUSES,
  DeviceStatus,
  DeviceView,
  EXPIRY_REASONS,
  ExpiryReason,
  LICENSE_STATUSES,
  LicenseSnapshot,
  LicenseStatus,
  LicenseView,
} from './views.js';
