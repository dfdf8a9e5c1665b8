// `@satchel/protocol/schemas`: the zod schemas of every wire message, for code that validates what it
// receives (the server; tools). Each schema shares its name with the type the default entry exports.
// A browser SDK reads answers with lean validators instead and never imports this entry.
export {
  AccountDetail,
  AccountStateResponse,
  AccountSummary,
  AccountsResponse,
  AdminDevicesResponse,
  AdminTitle,
  AdminTitlesResponse,
  AllowanceExplanation,
  ChangePlanRequest,
  ChangePlanResponse,
  CreateAccountRequest,
  CreateAccountResponse,
  DeviceExplanation,
  DeviceTokenResponse,
  EventRef,
  ExpiryBound,
  HistoryEntry,
  HistoryResponse,
  LicenseExplanation,
  MintDeviceTokenRequest,
  MintOperatorTokenRequest,
  OperatorRole,
  OperatorTokenResponse,
  PolicyPatch,
  PolicyVersionsResponse,
  PolicyVersionView,
  PutTitleRequest,
  PutTitleResponse,
  UpdateTitleRequest,
  WhoAmIResponse,
  WithdrawRequest,
  WithdrawResponse,
} from '../schemas/admin.js';
export { CatalogueResponse, CatalogueTitle } from '../schemas/catalogue.js';
export { DomainRejectionCode, EventRejectionCode } from '../schemas/codes.js';
export {
  DevicePlatform,
  DeviceSecret,
  DevicesResponse,
  RegisterDeviceRequest,
  RegisterDeviceResponse,
} from '../schemas/devices.js';
export {
  DeviceLimitDetails,
  ErrorResponse,
  PayloadTooLargeDetails,
  ProtocolError,
  ProtocolErrorCode,
  ProtocolVersionDetails,
  parseErrorResponse,
  RateLimitDetails,
  SeqGapDetails,
  ValidationIssue,
} from '../schemas/errors.js';
export { DeviceEventEnvelope, DeviceEventType } from '../schemas/events.js';
export {
  LicenseGranted,
  LicenseRefused,
  LicenseRequest,
  LicenseResponse,
  LicensesResponse,
  Refusal,
  ReleaseRequest,
  RenewRequest,
} from '../schemas/licenses.js';
export { EpochMs, Id, Plan, Policy, Uuid, UuidV7 } from '../schemas/primitives.js';
export { RebaseRequest, RebaseResponse } from '../schemas/rebase.js';
export {
  ProjectionLag,
  ProjectionsResponse,
  RebuildResponse,
  RuleChangeRequest,
  StudioMonthRow,
  StudioReportResponse,
  WhatIfAccountResponse,
  WhatIfAccountSummary,
  WhatIfRequest,
  WhatIfResponse,
  WhatIfTimelineEntry,
} from '../schemas/reports.js';
export {
  AcceptedEventResult,
  DuplicateEventResult,
  EventResult,
  isSyncRequest,
  ProtocolVersionNumber,
  RejectedEventResult,
  SyncRequest,
  SyncResponse,
} from '../schemas/sync.js';
export {
  Allowance,
  DeviceStatus,
  DeviceView,
  ExpiryReason,
  LicenseSnapshot,
  LicenseStatus,
  LicenseView,
} from '../schemas/views.js';
