import {
  type RecordedEvent,
  type RejectionCode,
  type ReplayOutcome,
  type RuleChange,
  replayAccount,
  replayDiffers,
} from '@satchel/core';
import { upcast } from '@satchel/core/schemas';
import type { Queryable } from '../db/database.js';
import { NotFoundError } from '../service.js';

/** What one account would see under the proposed rules, in counts. */
export interface WhatIfAccountSummary {
  accountId: string;
  refusedGrants: number;
  refusedRenewals: number;
  newGrants: number;
  expiresEarlier: number;
  expiresLater: number;
  /** Sum over its licences of how much earlier (negative) or later (positive) they would expire, ms. */
  expiryDeltaMs: number;
}

/** Totals of a what-if run over every affected account. */
export interface WhatIfTotals {
  /** Accounts whose history the change could touch (they hold the title or the plan). */
  accountsScanned: number;
  /** Accounts for which something would differ. */
  accountsAffected: number;
  refusedGrants: { total: number; byCode: Partial<Record<RejectionCode, number>> };
  refusedRenewals: { total: number; byCode: Partial<Record<RejectionCode, number>> };
  newGrants: number;
  /** Licences that would expire earlier: how many, the sum and the largest shift (ms, positive). */
  expiresEarlier: { licences: number; totalMs: number; maxMs: number };
  /** Licences that would expire later: how many, the sum and the largest shift (ms, positive). */
  expiresLater: { licences: number; totalMs: number; maxMs: number };
}

/** A what-if report: the change, the totals and the accounts that differ (up to `detailLimit`). */
export interface WhatIfReport {
  change: RuleChange;
  totals: WhatIfTotals;
  /** Accounts that differ, by account id, at most `detailLimit` of them. */
  accounts: WhatIfAccountSummary[];
  /** True when more accounts differ than `accounts` lists. */
  truncated: boolean;
}

export interface WhatIfOptions {
  /** Accounts per read (default 100): memory is bounded by the largest chunk of histories. */
  chunk?: number;
  /** Most accounts listed in `accounts` (default 1000); the totals count every one. */
  detailLimit?: number;
  /** Only these accounts (default: every account the change could touch). */
  accountIds?: readonly string[];
  /** Called after each chunk with the accounts done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Called with each account's outcome (e.g. to stream it out) before it is summarised. */
  onOutcome?: (outcome: ReplayOutcome) => void;
}

const AFFECTED_SQL = `SELECT DISTINCT account_id FROM events
  WHERE (type IN ('LicenseIssued', 'LicenseRefused') AND data->>'titleId' IN (SELECT jsonb_array_elements_text($1::text::jsonb)))
     OR (type IN ('AccountOpened', 'AccountPlanChanged') AND data->'plan'->>'planId' IN (SELECT jsonb_array_elements_text($2::text::jsonb)))
  ORDER BY account_id`;

const HISTORIES_SQL = `SELECT account_id, stream_version, event_id::text AS event_id, type, schema_version,
    data::text AS data, metadata->>'deviceId' AS device_id,
    (metadata->>'receivedAt')::bigint AS received_at, recorded_at FROM events
  WHERE account_id IN (SELECT jsonb_array_elements_text($1::text::jsonb))
  ORDER BY account_id, stream_version`;

type HistoryRow = {
  account_id: string;
  stream_version: string | number;
  event_id: string;
  device_id: string | null;
  received_at: string | number | null;
  type: string;
  schema_version: number;
  data: string;
  recorded_at: Date | string;
};

const KNOWN_TITLES_SQL = `SELECT title_id AS id FROM catalogue_titles
  WHERE title_id IN (SELECT jsonb_array_elements_text($1::text::jsonb))`;

const KNOWN_PLANS_SQL = `SELECT DISTINCT data->'plan'->>'planId' AS id FROM events
  WHERE type IN ('AccountOpened', 'AccountPlanChanged')
    AND data->'plan'->>'planId' IN (SELECT jsonb_array_elements_text($1::text::jsonb))`;

const KNOWN_ACCOUNTS_SQL = `SELECT account_id AS id FROM accounts
  WHERE account_id IN (SELECT jsonb_array_elements_text($1::text::jsonb))`;

/** Of `ids`, those `sql` does not find (in the order given, each once). */
async function missing(q: Queryable, sql: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = new Set((await q.query<{ id: string }>(sql, [JSON.stringify(ids)])).map((r) => r.id));
  return [...new Set(ids)].filter((id) => !found.has(id));
}

/** `title a, b` (at most 10 named), or nothing for no ids. */
const listed = (what: string, ids: readonly string[], why = ''): string[] =>
  ids.length === 0
    ? []
    : [
        `${what}${ids.length > 1 ? 's' : ''} ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ` and ${ids.length - 10} more` : ''}${why}`,
      ];

/**
 * Checks that everything a what-if names exists: each title of `change` is in the catalogue, each plan
 * is one an account has been on, each of `accountIds` is an account. Throws {@link NotFoundError}
 * (wire `404 NOT_FOUND`) naming every one that is not, rather than replaying nothing and reporting
 * 0 accounts. Reads the store and writes nothing.
 */
export async function checkWhatIfNames(
  q: Queryable,
  change: RuleChange,
  accountIds: readonly string[] = [],
): Promise<void> {
  const [titles, plans, accounts] = await Promise.all([
    missing(q, KNOWN_TITLES_SQL, Object.keys(change.titles ?? {})),
    missing(q, KNOWN_PLANS_SQL, Object.keys(change.plans ?? {})),
    missing(q, KNOWN_ACCOUNTS_SQL, accountIds),
  ]);
  const unknown = [
    ...listed('title', titles),
    ...listed('plan', plans, ` (no account has been on ${plans.length > 1 ? 'them' : 'it'})`),
    ...listed('account', accounts),
  ];
  if (unknown.length > 0) throw new NotFoundError(`No ${unknown.join('; no ')}`);
}

/** The accounts a change could touch: those that were granted (or refused) one of its titles, or hold one of its plans. */
export async function affectedAccounts(q: Queryable, change: RuleChange): Promise<string[]> {
  const rows = await q.query<{ account_id: string }>(AFFECTED_SQL, [
    JSON.stringify(Object.keys(change.titles ?? {})),
    JSON.stringify(Object.keys(change.plans ?? {})),
  ]);
  return rows.map((r) => r.account_id);
}

/** Reads the histories of `accountIds` (one statement) as replay input, by account. */
export async function readHistories(
  q: Queryable,
  accountIds: readonly string[],
): Promise<Map<string, RecordedEvent[]>> {
  const rows = await q.query<HistoryRow>(HISTORIES_SQL, [JSON.stringify(accountIds)]);
  const out = new Map<string, RecordedEvent[]>(accountIds.map((id) => [id, []]));
  for (const r of rows) {
    out.get(r.account_id)?.push({
      event: upcast({ type: r.type, v: r.schema_version, data: JSON.parse(r.data) }),
      eventId: r.event_id,
      version: Number(r.stream_version),
      recordedAt: new Date(r.recorded_at).getTime(),
      deviceId: r.device_id,
      ...(r.received_at === null ? {} : { receivedAt: Number(r.received_at) }),
    });
  }
  return out;
}

/**
 * Replays one account under `change` with both timelines, for a side-by-side view. Writes nothing.
 * Names are taken as given (an unknown account replays as empty): see {@link checkWhatIfNames}.
 */
export async function whatIfAccount(
  q: Queryable,
  accountId: string,
  change: RuleChange,
): Promise<ReplayOutcome> {
  const history = (await readHistories(q, [accountId])).get(accountId) ?? [];
  return replayAccount(accountId, history, change, { timelines: true });
}

const summarise = (o: ReplayOutcome): WhatIfAccountSummary => ({
  accountId: o.accountId,
  refusedGrants: o.refusedGrants.length,
  refusedRenewals: o.refusedRenewals.length,
  newGrants: o.newGrants.length,
  expiresEarlier: o.expiryChanges.filter((c) => c.deltaMs < 0).length,
  expiresLater: o.expiryChanges.filter((c) => c.deltaMs > 0).length,
  expiryDeltaMs: o.expiryChanges.reduce((a, c) => a + c.deltaMs, 0),
});

/**
 * Re-decides the history of every account `change` could touch under the proposed rules (core's
 * `replayAccount`), chunk by chunk, and reports what would differ: totals over all of them and a summary
 * per differing account. Reads the store and writes nothing. Memory is bounded by one chunk of
 * histories plus `detailLimit` summaries. Names are taken as given (a title or plan no account holds
 * touches none): the admin API refuses unknown ones first with {@link checkWhatIfNames}.
 */
export async function whatIf(
  q: Queryable,
  change: RuleChange,
  options: WhatIfOptions = {},
): Promise<WhatIfReport> {
  const chunk = Math.max(1, options.chunk ?? 100);
  const detailLimit = options.detailLimit ?? 1000;
  const ids = options.accountIds ? [...options.accountIds] : await affectedAccounts(q, change);
  const totals: WhatIfTotals = {
    accountsScanned: ids.length,
    accountsAffected: 0,
    refusedGrants: { total: 0, byCode: {} },
    refusedRenewals: { total: 0, byCode: {} },
    newGrants: 0,
    expiresEarlier: { licences: 0, totalMs: 0, maxMs: 0 },
    expiresLater: { licences: 0, totalMs: 0, maxMs: 0 },
  };
  const accounts: WhatIfAccountSummary[] = [];
  let truncated = false;
  options.onProgress?.(0, ids.length);
  for (let i = 0; i < ids.length; i += chunk) {
    const part = ids.slice(i, i + chunk);
    const histories = await readHistories(q, part);
    for (const accountId of part) {
      const outcome = replayAccount(accountId, histories.get(accountId) ?? [], change);
      histories.delete(accountId);
      options.onOutcome?.(outcome);
      if (!replayDiffers(outcome)) continue;
      totals.accountsAffected += 1;
      for (const g of outcome.refusedGrants) {
        totals.refusedGrants.total += 1;
        totals.refusedGrants.byCode[g.code] = (totals.refusedGrants.byCode[g.code] ?? 0) + 1;
      }
      for (const r of outcome.refusedRenewals) {
        totals.refusedRenewals.total += 1;
        totals.refusedRenewals.byCode[r.code] = (totals.refusedRenewals.byCode[r.code] ?? 0) + 1;
      }
      totals.newGrants += outcome.newGrants.length;
      for (const c of outcome.expiryChanges) {
        const side = c.deltaMs < 0 ? totals.expiresEarlier : totals.expiresLater;
        side.licences += 1;
        side.totalMs += Math.abs(c.deltaMs);
        side.maxMs = Math.max(side.maxMs, Math.abs(c.deltaMs));
      }
      if (accounts.length < detailLimit) accounts.push(summarise(outcome));
      else truncated = true;
    }
    options.onProgress?.(Math.min(i + chunk, ids.length), ids.length);
  }
  return { change, totals, accounts, truncated };
}
