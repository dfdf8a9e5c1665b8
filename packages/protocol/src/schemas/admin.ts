import * as z from 'zod/mini';
import { OPERATOR_ROLES } from '../constants.js';
import { EpochMs, Id, NonNegativeInt, Plan, Policy, Uuid } from './primitives.js';
import { Allowance, DeviceStatus, DeviceView, ExpiryReason, LicenseStatus, LicenseView } from './views.js';

// The operators' API under /v1/admin (docs/operations.md, "Operator tasks"). Every route needs an
// operator token; `support` may call the GET routes, `admin` every route.

const Name = z.string().check(z.minLength(1), z.maxLength(200));
const PositiveInt = z.int().check(z.minimum(1));

/** One of `OPERATOR_ROLES`. */
export const OperatorRole = z.enum(OPERATOR_ROLES);
export type OperatorRole = z.infer<typeof OperatorRole>;

/** `POST /v1/admin/tokens` (admin): mint an operator token. `ttlSec` at most 30 days (default 12 h). */
export const MintOperatorTokenRequest = z.object({
  operatorId: Name,
  role: OperatorRole,
  ttlSec: z.optional(z.int().check(z.minimum(60), z.maximum(30 * 86_400))),
});
export type MintOperatorTokenRequest = z.infer<typeof MintOperatorTokenRequest>;

export const OperatorTokenResponse = z.object({
  token: z.string(),
  operatorId: Name,
  role: OperatorRole,
  expiresAt: EpochMs,
});
export type OperatorTokenResponse = z.infer<typeof OperatorTokenResponse>;

/**
 * `POST /v1/admin/accounts/{accountId}/devices/{deviceId}/token` (admin): a device token of the device's
 * current credential generation. `ttlSec` at most 90 days (default 90 days). A deactivated device is
 * refused (403 `DEVICE_DEACTIVATED`).
 */
export const MintDeviceTokenRequest = z.object({
  ttlSec: z.optional(z.int().check(z.minimum(60), z.maximum(90 * 86_400))),
});
export type MintDeviceTokenRequest = z.infer<typeof MintDeviceTokenRequest>;

export const DeviceTokenResponse = z.object({
  token: z.string(),
  accountId: Name,
  deviceId: Name,
  generation: z.int().check(z.minimum(0)),
  expiresAt: EpochMs,
});
export type DeviceTokenResponse = z.infer<typeof DeviceTokenResponse>;

/** `GET /v1/admin/whoami`: the operator a token speaks for. */
export const WhoAmIResponse = z.object({ operatorId: Name, role: OperatorRole });
export type WhoAmIResponse = z.infer<typeof WhoAmIResponse>;

/** Policy fields to set; absent fields keep their value (or take the defaults for a new title). */
export const PolicyPatch = z.partial(Policy);
export type PolicyPatch = z.infer<typeof PolicyPatch>;

/** `PUT /v1/admin/catalogue/{titleId}`: create a title, or write its name and policy as a new version. */
export const PutTitleRequest = z.object({
  name: Name,
  policy: z.optional(PolicyPatch),
  /** The studio that owns the title, for its accounting; kept when omitted (`unassigned` for a new title). */
  studio: z.optional(Name),
});
export type PutTitleRequest = z.infer<typeof PutTitleRequest>;

/** `PATCH /v1/admin/catalogue/{titleId}`: change the name or some policy fields (a new version). */
export const UpdateTitleRequest = z.object({
  name: z.optional(Name),
  policy: z.optional(PolicyPatch),
  studio: z.optional(Name),
});
export type UpdateTitleRequest = z.infer<typeof UpdateTitleRequest>;

/** A title with its policy version (1 when created, +1 per change). */
export const AdminTitle = z.object({
  titleId: Id,
  name: Name,
  policy: Policy,
  version: PositiveInt,
  updatedAt: EpochMs,
  /** The studio that owns the title (`unassigned` when never given). */
  studio: z.optional(z.string()),
});
export type AdminTitle = z.infer<typeof AdminTitle>;

export const AdminTitlesResponse = z.object({ titles: z.array(AdminTitle) });
export type AdminTitlesResponse = z.infer<typeof AdminTitlesResponse>;

export const PutTitleResponse = z.object({ title: AdminTitle, created: z.boolean() });
export type PutTitleResponse = z.infer<typeof PutTitleResponse>;

/** One version of a title's policy. */
export const PolicyVersionView = z.object({
  titleId: Id,
  version: PositiveInt,
  name: Name,
  policy: Policy,
  changedBy: z.nullable(z.string()),
  recordedAt: EpochMs,
});
export const PolicyVersionsResponse = z.object({ versions: z.array(PolicyVersionView) });
export type PolicyVersionsResponse = z.infer<typeof PolicyVersionsResponse>;

/** `POST /v1/admin/catalogue/{titleId}/withdraw`: the title leaves the catalogue at `at` (default now). */
export const WithdrawRequest = z.object({ at: z.optional(EpochMs) });
export type WithdrawRequest = z.infer<typeof WithdrawRequest>;

export const WithdrawResponse = z.object({
  titleId: Id,
  availableUntil: EpochMs,
  accounts: NonNegativeInt,
  revoked: NonNegativeInt,
});
export type WithdrawResponse = z.infer<typeof WithdrawResponse>;

/** `POST /v1/admin/accounts`: create and open an account (idempotent: an existing one is left as it is). */
export const CreateAccountRequest = z.object({ accountId: Id, name: Name, plan: z.optional(Plan) });
export type CreateAccountRequest = z.infer<typeof CreateAccountRequest>;

export const CreateAccountResponse = z.object({ accountId: Id, created: z.boolean() });
export type CreateAccountResponse = z.infer<typeof CreateAccountResponse>;

export const AccountSummary = z.object({ accountId: Id, name: Name, createdAt: EpochMs });
export type AccountSummary = z.infer<typeof AccountSummary>;

/** `GET /v1/admin/accounts?q=&limit=&after=`: `next` is the `after` of the next page, null at the end. */
export const AccountsResponse = z.object({ accounts: z.array(AccountSummary), next: z.nullable(Id) });
export type AccountsResponse = z.infer<typeof AccountsResponse>;

/** `GET /v1/admin/accounts/{accountId}`: the account now. */
export const AccountDetail = z.object({
  accountId: Id,
  name: Name,
  createdAt: EpochMs,
  plan: Plan,
  version: NonNegativeInt,
  devices: z.array(DeviceView),
  licenses: z.array(LicenseView),
});
export type AccountDetail = z.infer<typeof AccountDetail>;

/** `PUT /v1/admin/accounts/{accountId}/plan`: a downgrade revokes the excess (`LIMIT_CONFLICT`). */
export const ChangePlanRequest = z.object({ plan: Plan });
export type ChangePlanRequest = z.infer<typeof ChangePlanRequest>;

export const ChangePlanResponse = z.object({ plan: Plan, revoked: z.array(Uuid) });
export type ChangePlanResponse = z.infer<typeof ChangePlanResponse>;

export const AdminDevicesResponse = z.object({ devices: z.array(DeviceView) });
export type AdminDevicesResponse = z.infer<typeof AdminDevicesResponse>;

/** One event of an account's history, upcast to the current schema. */
export const HistoryEntry = z.object({
  version: PositiveInt,
  eventId: Uuid,
  type: z.string(),
  schemaVersion: PositiveInt,
  at: EpochMs,
  recordedAt: EpochMs,
  data: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/**
 * `GET /v1/admin/accounts/{accountId}/history?type=&device=&license=&from=&to=&after=&limit=&all=`:
 * oldest first; `next` is the `after` of the next page (a stream version), null at the end.
 */
export const HistoryResponse = z.object({ events: z.array(HistoryEntry), next: z.nullable(NonNegativeInt) });
export type HistoryResponse = z.infer<typeof HistoryResponse>;

/** A pointer to one event of the history. */
export const EventRef = z.object({
  eventId: z.string(),
  version: PositiveInt,
  type: z.string(),
  at: EpochMs,
  recordedAt: EpochMs,
});

export const ExpiryBound = z.object({ reason: ExpiryReason, at: z.number() });

/** Why a licence is in its state at the instant (core's `LicenseExplanation`). */
export const LicenseExplanation = z.object({
  licenseId: Uuid,
  titleId: Id,
  deviceId: Id,
  status: LicenseStatus,
  statusReason: z.nullable(z.string()),
  playable: z.boolean(),
  policy: Policy,
  policyVersion: z.nullable(PositiveInt),
  issuedAt: EpochMs,
  firstIssuedAt: EpochMs,
  downloadedAt: z.nullable(EpochMs),
  firstPlayedAt: z.nullable(EpochMs),
  renewals: NonNegativeInt,
  endedAt: z.nullable(EpochMs),
  expiresAt: z.number(),
  bound: ExpiryReason,
  bounds: z.array(ExpiryBound),
  rule: z.string(),
  setBy: z.array(EventRef),
  pending: z.boolean(),
  events: z.array(EventRef),
});

export const AllowanceExplanation = z.extend(Allowance, {
  uses: z.array(z.object({ at: EpochMs, freesAt: z.number(), event: z.nullable(EventRef) })),
});

export const DeviceExplanation = z.object({
  deviceId: Id,
  name: z.string(),
  status: DeviceStatus,
  registeredAt: EpochMs,
  deactivatedAt: z.nullable(EpochMs),
  lastCheckInAt: z.nullable(EpochMs),
  lastCheckInBy: z.nullable(EventRef),
  lastSyncAt: z.nullable(EpochMs),
  clockRollbacks: NonNegativeInt,
});

/**
 * `GET /v1/admin/accounts/{accountId}/state?at=&basis=`: the account at an instant with the reasons
 * (core's `AccountExplanation`). Before the account was opened `exists` is false and the rest is empty.
 */
export const AccountStateResponse = z.object({
  accountId: Id,
  at: EpochMs,
  basis: z.enum(['occurred', 'recorded']),
  exists: z.boolean(),
  version: NonNegativeInt,
  plan: z.nullable(Plan),
  planSetBy: z.nullable(EventRef),
  devices: z.array(DeviceExplanation),
  licenses: z.array(LicenseExplanation),
  allowances: z.array(AllowanceExplanation),
  slots: z.nullable(
    z.object({
      maxDownloadDevices: PositiveInt,
      maxDownloadsPerDevice: PositiveInt,
      maxDownloadsPerMonth: z.nullable(PositiveInt),
      downloadsThisMonth: NonNegativeInt,
      holders: z.array(z.object({ deviceId: Id, licenseIds: z.array(Uuid) })),
    }),
  ),
  clockRollbacks: z.array(
    z.object({ deviceId: Id, at: EpochMs, wallClockAt: z.int(), behindMs: PositiveInt, event: EventRef }),
  ),
});
export type AccountStateResponse = z.infer<typeof AccountStateResponse>;
