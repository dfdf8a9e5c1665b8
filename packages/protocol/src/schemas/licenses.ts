import * as z from 'zod/mini';
import { DomainRejectionCode } from './codes.js';
import { EpochMs, Id, NonNegativeInt, Uuid, UuidV7 } from './primitives.js';
import { LicenseSnapshot, LicenseView } from './views.js';

/**
 * The body of `POST /v1/licenses`: ask for a download licence for a title. A client-chosen `licenseId`
 * makes a retry idempotent: while that licence is active on this device for this title, the same id
 * answers `granted` with it (the first outcome) instead of issuing a second one or refusing
 * `ALREADY_LICENSED`.
 */
export const LicenseRequest = z.object({
  titleId: Id,
  licenseId: z.optional(UuidV7),
});
export type LicenseRequest = z.infer<typeof LicenseRequest>;

/**
 * `POST /v1/licenses/{licenseId}/renew`: the licence to renew (carried in the path). `fromRenewal`, the
 * licence's `renewals` count as the device saw it when it first asked, makes a retry idempotent: if the
 * licence has been renewed past it already, the answer is the licence as it stands (the first outcome)
 * and nothing is renewed again.
 */
export const RenewRequest = z.object({ licenseId: Uuid, fromRenewal: z.optional(NonNegativeInt) });
export type RenewRequest = z.infer<typeof RenewRequest>;

/**
 * `POST /v1/licenses/{licenseId}/release`: the licence to give back (carried in the path). Idempotent: a
 * licence this device already released answers `granted` with the released licence.
 */
export const ReleaseRequest = z.object({ licenseId: Uuid });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/**
 * Why the rules refused a licence request, with what a player needs to explain it: the limit, how much is
 * used and remains, and when the next slot frees up (`nextAvailableAt`) or a retry may succeed (`retryAt`).
 */
export const Refusal = z.object({
  code: DomainRejectionCode,
  message: z.string(),
  limit: z.optional(NonNegativeInt),
  used: z.optional(NonNegativeInt),
  remaining: z.optional(NonNegativeInt),
  nextAvailableAt: z.optional(EpochMs),
  retryAt: z.optional(EpochMs),
  titleId: z.optional(Id),
  licenseId: z.optional(Uuid),
});
export type Refusal = z.infer<typeof Refusal>;

/** The licence was issued, renewed or released; `snapshot` already reflects it. */
export const LicenseGranted = z.object({
  outcome: z.literal('granted'),
  license: LicenseView,
  snapshot: LicenseSnapshot,
});
/** The rules refused the request: an answer (HTTP 200), not an error. */
export const LicenseRefused = z.object({
  outcome: z.literal('refused'),
  refusal: Refusal,
  snapshot: LicenseSnapshot,
});

/**
 * The answer to a licence request, renewal or release, discriminated by `outcome`. A refusal by the
 * rules is an ordinary answer (HTTP 200 with `outcome: 'refused'`); errors are reserved for requests that
 * could not be judged (see `ErrorResponse`).
 */
export const LicenseResponse = z.discriminatedUnion('outcome', [LicenseGranted, LicenseRefused]);
export type LicenseResponse = z.infer<typeof LicenseResponse>;

/** The answer to `GET /v1/licenses`: the authenticated device's licences at `serverTime`. */
export const LicensesResponse = z.object({
  licenses: z.array(LicenseView),
  serverTime: EpochMs,
});
export type LicensesResponse = z.infer<typeof LicensesResponse>;
