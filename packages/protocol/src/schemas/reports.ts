import * as z from 'zod/mini';
import { DomainRejectionCode } from './codes.js';
import { EpochMs, Id, Plan, Policy } from './primitives.js';

// Reports from the projections, their lag, and what-if replay (/v1/admin, docs/operations.md "Projections").

const Count = z.int().check(z.minimum(0));
const Month = z.string().check(z.regex(/^\d{4}-(0[1-9]|1[0-2])$/));

/** How far one generation of a projection is behind the global feed. */
export const ProjectionLag = z.object({
  projection: z.string(),
  generation: z.int(),
  status: z.enum(['building', 'live', 'retired']),
  position: Count,
  eventsProcessed: Count,
  eventsBehind: Count,
  secondsBehind: z.number().check(z.minimum(0)),
  leaseOwner: z.nullable(z.string()),
});
export type ProjectionLag = z.infer<typeof ProjectionLag>;

/** `GET /v1/admin/projections`. */
export const ProjectionsResponse = z.object({ projections: z.array(ProjectionLag) });
export type ProjectionsResponse = z.infer<typeof ProjectionsResponse>;

/** `POST /v1/admin/projections/{name}/rebuild`: the generation now building beside the live one. */
export const RebuildResponse = z.object({ projection: z.string(), generation: z.int() });
export type RebuildResponse = z.infer<typeof RebuildResponse>;

/** One studio, title and UTC month of the studio accounting. */
export const StudioMonthRow = z.object({
  studio: z.string(),
  titleId: Id,
  month: Month,
  issued: Count,
  renewed: Count,
  released: Count,
  revoked: z.record(z.string(), Count),
  expired: Count,
  refused: z.record(z.string(), Count),
  accounts: Count,
  devices: Count,
  activeAtMonthEnd: Count,
});
export type StudioMonthRow = z.infer<typeof StudioMonthRow>;

/** `GET /v1/admin/reports/studios` (JSON; `format=csv` answers text/csv). */
export const StudioReportResponse = z.object({
  from: Month,
  to: Month,
  rows: z.array(StudioMonthRow),
  lag: z.array(ProjectionLag),
});
export type StudioReportResponse = z.infer<typeof StudioReportResponse>;

/** A proposed rule change: policy fields by title id, plan fields by plan id. */
export const RuleChangeRequest = z.object({
  titles: z.optional(z.record(Id, z.partial(Policy))),
  plans: z.optional(z.record(Id, z.partial(z.omit(Plan, { planId: true })))),
});
export type RuleChangeRequest = z.infer<typeof RuleChangeRequest>;

/** `POST /v1/admin/what-if`: a change, optionally limited to some accounts. */
export const WhatIfRequest = z.extend(RuleChangeRequest, {
  accountIds: z.optional(z.array(Id).check(z.maxLength(100_000))),
  detailLimit: z.optional(z.int().check(z.minimum(0), z.maximum(10_000))),
});
export type WhatIfRequest = z.infer<typeof WhatIfRequest>;

const ByCode = z.object({ total: Count, byCode: z.record(z.string(), Count) });
const Shift = z.object({ licences: Count, totalMs: Count, maxMs: Count });

/** One account's differences under the change, counted. */
export const WhatIfAccountSummary = z.object({
  accountId: Id,
  refusedGrants: Count,
  refusedRenewals: Count,
  newGrants: Count,
  expiresEarlier: Count,
  expiresLater: Count,
  expiryDeltaMs: z.int(),
});

/** `POST /v1/admin/what-if`: totals over every affected account and the accounts that differ. */
export const WhatIfResponse = z.object({
  change: RuleChangeRequest,
  totals: z.object({
    accountsScanned: Count,
    accountsAffected: Count,
    refusedGrants: ByCode,
    refusedRenewals: ByCode,
    newGrants: Count,
    expiresEarlier: Shift,
    expiresLater: Shift,
  }),
  accounts: z.array(WhatIfAccountSummary),
  truncated: z.boolean(),
});
export type WhatIfResponse = z.infer<typeof WhatIfResponse>;

/** One line of a timeline in a what-if comparison. */
export const WhatIfTimelineEntry = z.object({
  at: EpochMs,
  type: z.string(),
  licenseId: z.optional(z.string()),
  titleId: z.optional(z.string()),
  detail: z.optional(z.string()),
});

/** One domain event of a what-if history: its type and its data (with `at`). */
export const WhatIfEvent = z.object({
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
});

/** `POST /v1/admin/what-if/accounts/{accountId}`: one account's differences and both timelines. */
export const WhatIfAccountResponse = z.object({
  accountId: Id,
  refusedGrants: z.array(
    z.object({
      licenseId: z.string(),
      deviceId: z.string(),
      titleId: z.string(),
      at: EpochMs,
      code: DomainRejectionCode,
    }),
  ),
  refusedRenewals: z.array(
    z.object({
      licenseId: z.string(),
      titleId: z.string(),
      at: EpochMs,
      renewal: z.int(),
      code: DomainRejectionCode,
    }),
  ),
  newGrants: z.array(
    z.object({
      request: z.enum(['issue', 'renew']),
      licenseId: z.string(),
      titleId: z.string(),
      at: EpochMs,
      wasRefusedWith: DomainRejectionCode,
    }),
  ),
  expiryChanges: z.array(
    z.object({
      licenseId: z.string(),
      titleId: z.string(),
      actualExpiresAt: EpochMs,
      proposedExpiresAt: EpochMs,
      deltaMs: z.int(),
    }),
  ),
  actual: z.optional(z.array(WhatIfTimelineEntry)),
  proposed: z.optional(z.array(WhatIfTimelineEntry)),
  /** The recorded events, and the events the proposed rules would have written, in order (to draw both timelines). */
  actualEvents: z.optional(z.array(WhatIfEvent)),
  proposedEvents: z.optional(z.array(WhatIfEvent)),
});
export type WhatIfAccountResponse = z.infer<typeof WhatIfAccountResponse>;
