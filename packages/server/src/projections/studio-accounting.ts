import {
  computeExpiry,
  type DomainEvent,
  type Policy,
  REJECTION_CODES,
  REVOCATION_REASONS,
} from '@satchel/core';
import { upcast } from '@satchel/core/schemas';
import type { Queryable } from '../db/database.js';
import type { Projection } from './runner.js';

/** The studio accounting projection's name (its checkpoint key). */
export const STUDIO_ACCOUNTING = 'studio-accounting';

/** The measures counted per title and month. `revoked:<reason>` and `refused:<code>` carry their reason. */
export type StudioMeasure =
  | 'issued'
  | 'renewed'
  | 'released'
  | 'expired'
  | `revoked:${string}`
  | `refused:${string}`;

/** One row of the studio accounting report: one title in one UTC calendar month. */
export interface StudioMonthRow {
  studio: string;
  titleId: string;
  /** `YYYY-MM` (UTC). */
  month: string;
  issued: number;
  renewed: number;
  released: number;
  /** Revocations by reason (`DEVICE_DEACTIVATED`, `TITLE_WITHDRAWN`, `LIMIT_CONFLICT`, `ADMIN`). */
  revoked: Record<string, number>;
  expired: number;
  /** Refused requests recorded (`LicenseRefused`), by code. */
  refused: Record<string, number>;
  /** Accounts that were issued or renewed a licence of the title in the month. */
  accounts: number;
  /** Devices that were issued or renewed a licence of the title in the month. */
  devices: number;
  /** Licence terms active at the month's end (the first instant of the next month, UTC). */
  activeAtMonthEnd: number;
}

interface Term {
  accountId: string;
  licenseId: string;
  term: number;
  titleId: string;
  deviceId: string;
  startsAt: number;
  firstPlayedAt: number | null;
  policy: Policy;
  expiresAt: number;
  endsAt: number | null;
  isCurrent: boolean;
  dirty: boolean;
}

const monthOf = (at: number): string => new Date(at).toISOString().slice(0, 7);
const expiryOf = (t: Pick<Term, 'startsAt' | 'firstPlayedAt' | 'policy'>): number =>
  computeExpiry({
    issuedAt: t.startsAt,
    firstPlayedAt: t.firstPlayedAt,
    policy: t.policy,
    lastCheckInAt: null,
  }).expiresAt;

const TERM_RECORD = `t(account_id text, license_id text, term int, title_id text, device_id text, starts_at bigint,
  first_played_at bigint, policy jsonb, expires_at bigint, ends_at bigint, is_current boolean)`;

const LOAD_TERMS_SQL = `SELECT account_id, license_id, term, title_id, device_id, starts_at, first_played_at,
    policy::text AS policy, expires_at, ends_at
  FROM studio_license_terms
  WHERE generation = $1 AND is_current
    AND (account_id, license_id) IN (SELECT k->>0, k->>1 FROM jsonb_array_elements($2::text::jsonb) AS k)`;

const LOAD_TITLE_TERMS_SQL = `SELECT account_id, license_id, term, title_id, device_id, starts_at, first_played_at,
    policy::text AS policy, expires_at, ends_at
  FROM studio_license_terms
  WHERE account_id = $1 AND generation = $2 AND title_id = $3 AND is_current`;

const UPSERT_TERMS_SQL = `INSERT INTO studio_license_terms (account_id, generation, license_id, term, title_id, device_id,
    starts_at, first_played_at, policy, expires_at, ends_at, is_current)
  SELECT t.account_id, $1::int, t.license_id, t.term, t.title_id, t.device_id, t.starts_at, t.first_played_at,
    t.policy, t.expires_at, t.ends_at, t.is_current
  FROM jsonb_to_recordset($2::text::jsonb) AS ${TERM_RECORD}
  ON CONFLICT (account_id, generation, license_id, term) DO UPDATE SET
    first_played_at = excluded.first_played_at, policy = excluded.policy, expires_at = excluded.expires_at,
    ends_at = excluded.ends_at, is_current = excluded.is_current`;

const ADD_COUNTS_SQL = `INSERT INTO studio_title_month_counts (account_id, generation, title_id, month, measure, count)
  SELECT c.account_id, $1::int, c.title_id, (c.month || '-01')::date, c.measure, c.count
  FROM jsonb_to_recordset($2::text::jsonb) AS c(account_id text, title_id text, month text, measure text, count bigint)
  ON CONFLICT (account_id, generation, title_id, month, measure)
  DO UPDATE SET count = studio_title_month_counts.count + excluded.count`;

const ADD_HOLDERS_SQL = `INSERT INTO studio_title_month_holders (account_id, generation, title_id, month, device_id)
  SELECT h.account_id, $1::int, h.title_id, (h.month || '-01')::date, h.device_id
  FROM jsonb_to_recordset($2::text::jsonb) AS h(account_id text, title_id text, month text, device_id text)
  ON CONFLICT DO NOTHING`;

type TermRow = {
  account_id: string;
  license_id: string;
  term: number;
  title_id: string;
  device_id: string;
  starts_at: string | number;
  first_played_at: string | number | null;
  policy: string;
  expires_at: string | number;
  ends_at: string | number | null;
};

const toTerm = (r: TermRow): Term => ({
  accountId: r.account_id,
  licenseId: r.license_id,
  term: Number(r.term),
  titleId: r.title_id,
  deviceId: r.device_id,
  startsAt: Number(r.starts_at),
  firstPlayedAt: r.first_played_at === null ? null : Number(r.first_played_at),
  policy: JSON.parse(r.policy) as Policy,
  expiresAt: Number(r.expires_at),
  endsAt: r.ends_at === null ? null : Number(r.ends_at),
  isCurrent: true,
  dirty: false,
});

const LICENCE_EVENTS = new Set([
  'LicenseIssued',
  'LicenseRenewed',
  'LicenseReleased',
  'DownloadDeleted',
  'LicenseRevoked',
  'LicenseExpired',
  'PlaybackStarted',
  'TitleWithdrawn',
  'LicenseRefused',
]);

/**
 * Studio accounting: per title and UTC calendar month, licences issued, renewed, released (by the member
 * or by deleting the download), revoked by reason, expired, refusals by code, the accounts and devices
 * that were granted the title, and the licence terms active at the month's end. Months are the months of
 * the events' own instants (`data.at`), so a late-synced or lazily recorded expiry counts in the month it
 * happened. Studios are the catalogue's current `studio` of each title, joined when the report is read.
 * Each licence term (issue, or renewal) is kept with its hard expiry, so "active at month end" is exact
 * for any month, whether or not `LicenseExpired` was recorded yet (R10).
 */
export function studioAccounting(): Projection {
  return {
    name: STUDIO_ACCOUNTING,
    async apply(tx, stored, generation) {
      const events: { accountId: string; event: DomainEvent }[] = [];
      const keys = new Map<string, [string, string]>();
      const withdrawals: [string, string][] = [];
      for (const s of stored) {
        if (!LICENCE_EVENTS.has(s.type)) continue;
        const event = upcast({ type: s.type, v: s.schemaVersion, data: s.data });
        events.push({ accountId: s.accountId, event });
        const d = event.data as { licenseId?: string; titleId?: string };
        if (event.type === 'TitleWithdrawn') withdrawals.push([s.accountId, d.titleId ?? '']);
        else if (event.type !== 'LicenseIssued' && event.type !== 'LicenseRefused' && d.licenseId)
          keys.set(`${s.accountId}\u0000${d.licenseId}`, [s.accountId, d.licenseId]);
      }
      if (events.length === 0) return;

      const terms = new Map<string, Term>();
      const keep = (t: Term) => terms.set(`${t.accountId}\u0000${t.licenseId}`, t);
      if (keys.size > 0) {
        const rows = await tx.query<TermRow>(LOAD_TERMS_SQL, [
          generation,
          JSON.stringify([...keys.values()]),
        ]);
        for (const r of rows) keep(toTerm(r));
      }
      for (const [accountId, titleId] of withdrawals) {
        const rows = await tx.query<TermRow>(LOAD_TITLE_TERMS_SQL, [accountId, generation, titleId]);
        for (const r of rows) if (!terms.has(`${accountId}\u0000${r.license_id}`)) keep(toTerm(r));
      }
      const closed: Term[] = [];
      const counts = new Map<
        string,
        { account_id: string; title_id: string; month: string; measure: string; count: number }
      >();
      const holders = new Map<
        string,
        { account_id: string; title_id: string; month: string; device_id: string }
      >();
      const count = (accountId: string, titleId: string, at: number, measure: StudioMeasure) => {
        const month = monthOf(at);
        const k = `${accountId}\u0000${titleId}\u0000${month}\u0000${measure}`;
        const c = counts.get(k);
        if (c) c.count += 1;
        else counts.set(k, { account_id: accountId, title_id: titleId, month, measure, count: 1 });
      };
      const hold = (t: Term, at: number) => {
        const month = monthOf(at);
        holders.set(`${t.accountId}\u0000${t.titleId}\u0000${month}\u0000${t.deviceId}`, {
          account_id: t.accountId,
          title_id: t.titleId,
          month,
          device_id: t.deviceId,
        });
      };
      const end = (t: Term, at: number) => {
        if (t.endsAt === null) {
          t.endsAt = at;
          t.dirty = true;
        }
      };

      for (const { accountId, event } of events) {
        const current = (licenseId: string) => terms.get(`${accountId}\u0000${licenseId}`);
        switch (event.type) {
          case 'LicenseIssued': {
            const { licenseId, deviceId, titleId, policy, at } = event.data;
            const t: Term = {
              accountId,
              licenseId,
              term: 1,
              titleId,
              deviceId,
              startsAt: at,
              firstPlayedAt: null,
              policy,
              expiresAt: 0,
              endsAt: null,
              isCurrent: true,
              dirty: true,
            };
            t.expiresAt = expiryOf(t);
            keep(t);
            count(accountId, titleId, at, 'issued');
            hold(t, at);
            break;
          }
          case 'LicenseRenewed': {
            const old = current(event.data.licenseId);
            if (!old) break;
            end(old, Math.min(event.data.at, old.expiresAt));
            old.isCurrent = false;
            old.dirty = true;
            closed.push(old);
            const t: Term = {
              ...old,
              term: old.term + 1,
              startsAt: event.data.at,
              firstPlayedAt: null,
              endsAt: null,
              isCurrent: true,
              dirty: true,
            };
            t.expiresAt = expiryOf(t);
            keep(t);
            count(accountId, t.titleId, event.data.at, 'renewed');
            hold(t, event.data.at);
            break;
          }
          case 'LicenseReleased':
          case 'DownloadDeleted': {
            const t = current(event.data.licenseId);
            if (!t || t.endsAt !== null) break;
            end(t, event.data.at);
            count(accountId, t.titleId, event.data.at, 'released');
            break;
          }
          case 'LicenseRevoked': {
            const t = current(event.data.licenseId);
            if (!t || t.endsAt !== null) break;
            end(t, event.data.at);
            count(accountId, t.titleId, event.data.at, `revoked:${event.data.reason}`);
            break;
          }
          case 'LicenseExpired': {
            const t = current(event.data.licenseId);
            if (!t || t.endsAt !== null) break;
            end(t, event.data.at);
            count(accountId, t.titleId, event.data.at, 'expired');
            break;
          }
          case 'PlaybackStarted': {
            const t = current(event.data.licenseId);
            if (!t || t.firstPlayedAt !== null || event.data.at < t.startsAt) break;
            t.firstPlayedAt = event.data.at;
            t.expiresAt = expiryOf(t);
            t.dirty = true;
            break;
          }
          case 'TitleWithdrawn': {
            for (const t of terms.values()) {
              if (t.accountId !== accountId || t.titleId !== event.data.titleId || t.endsAt !== null)
                continue;
              if ((t.policy.availableUntil ?? Infinity) <= event.data.availableUntil) continue;
              t.policy = { ...t.policy, availableUntil: event.data.availableUntil };
              t.expiresAt = expiryOf(t);
              t.dirty = true;
            }
            break;
          }
          case 'LicenseRefused':
            count(accountId, event.data.titleId, event.data.at, `refused:${event.data.code}`);
            break;
          default:
            break;
        }
      }

      const rows = [...closed, ...terms.values()]
        .filter((t) => t.dirty)
        .map((t) => ({
          account_id: t.accountId,
          license_id: t.licenseId,
          term: t.term,
          title_id: t.titleId,
          device_id: t.deviceId,
          starts_at: t.startsAt,
          first_played_at: t.firstPlayedAt,
          policy: t.policy,
          expires_at: t.expiresAt,
          ends_at: t.endsAt,
          is_current: t.isCurrent,
        }));
      if (rows.length > 0) await tx.query(UPSERT_TERMS_SQL, [generation, JSON.stringify(rows)]);
      if (counts.size > 0) await tx.query(ADD_COUNTS_SQL, [generation, JSON.stringify([...counts.values()])]);
      if (holders.size > 0)
        await tx.query(ADD_HOLDERS_SQL, [generation, JSON.stringify([...holders.values()])]);
    },
    async drop(tx, generation) {
      await tx.query('DELETE FROM studio_license_terms WHERE generation = $1', [generation]);
      await tx.query('DELETE FROM studio_title_month_counts WHERE generation = $1', [generation]);
      await tx.query('DELETE FROM studio_title_month_holders WHERE generation = $1', [generation]);
    },
  };
}

const REPORT_SQL = `WITH g AS (
    SELECT coalesce($3::int, (SELECT generation FROM projection_checkpoints
      WHERE projection = '${STUDIO_ACCOUNTING}' AND status = 'live' ORDER BY generation DESC LIMIT 1)) AS generation
  ), months AS (
    SELECT m::date AS month FROM generate_series($1::date, $2::date, interval '1 month') AS m
  ), counts AS (
    SELECT title_id, month, measure, sum(count) AS count FROM studio_title_month_counts, g
    WHERE studio_title_month_counts.generation = g.generation AND month BETWEEN $1::date AND $2::date
    GROUP BY title_id, month, measure
  ), holders AS (
    SELECT title_id, month, count(DISTINCT account_id) AS accounts, count(*) AS devices
    FROM (SELECT DISTINCT title_id, month, account_id, device_id FROM studio_title_month_holders, g
          WHERE studio_title_month_holders.generation = g.generation AND month BETWEEN $1::date AND $2::date) h
    GROUP BY title_id, month
  ), active AS (
    SELECT t.title_id, months.month, count(*) AS active
    FROM studio_license_terms t, g, months
    WHERE t.generation = g.generation
      AND t.starts_at < (extract(epoch FROM (months.month + interval '1 month')::timestamp) * 1000)::bigint
      AND coalesce(t.ends_at, t.expires_at) > (extract(epoch FROM (months.month + interval '1 month')::timestamp) * 1000)::bigint
    GROUP BY t.title_id, months.month
  ), keys AS (
    SELECT title_id, month FROM counts UNION SELECT title_id, month FROM holders UNION SELECT title_id, month FROM active
  )
  SELECT coalesce(c.studio, 'unassigned') AS studio, k.title_id, to_char(k.month, 'YYYY-MM') AS month,
    coalesce((SELECT jsonb_object_agg(measure, count) FROM counts WHERE counts.title_id = k.title_id AND counts.month = k.month), '{}'::jsonb)::text AS measures,
    coalesce(h.accounts, 0) AS accounts, coalesce(h.devices, 0) AS devices, coalesce(a.active, 0) AS active
  FROM keys k
  LEFT JOIN holders h ON h.title_id = k.title_id AND h.month = k.month
  LEFT JOIN active a ON a.title_id = k.title_id AND a.month = k.month
  LEFT JOIN catalogue_titles c ON c.title_id = k.title_id
  WHERE $4::text IS NULL OR coalesce(c.studio, 'unassigned') = $4::text
  ORDER BY 1, 2, 3`;

/** What to report: an inclusive range of UTC months (`YYYY-MM`), and optionally one studio. */
export interface StudioReportQuery {
  from: string;
  to: string;
  studio?: string | undefined;
  /** A generation to read instead of the live one (to compare a rebuild). */
  generation?: number | undefined;
}

/**
 * The studio accounting report, read from the live generation (or the one asked for): one row per studio,
 * title and month with any activity or active licence in `[from, to]`, sorted by studio, title, month.
 * Throws when a month is not `YYYY-MM`.
 */
export async function studioReport(q: Queryable, query: StudioReportQuery): Promise<StudioMonthRow[]> {
  for (const m of [query.from, query.to]) {
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(m)) throw new RangeError(`Not a month (YYYY-MM): ${m}`);
  }
  const rows = await q.query<{
    studio: string;
    title_id: string;
    month: string;
    measures: string;
    accounts: string | number;
    devices: string | number;
    active: string | number;
  }>(REPORT_SQL, [`${query.from}-01`, `${query.to}-01`, query.generation ?? null, query.studio ?? null]);
  return rows.map((r) => {
    const measures = JSON.parse(r.measures) as Record<string, number | string>;
    const revoked: Record<string, number> = {};
    const refused: Record<string, number> = {};
    const n = (k: string) => Number(measures[k] ?? 0);
    for (const [k, v] of Object.entries(measures)) {
      if (k.startsWith('revoked:')) revoked[k.slice(8)] = Number(v);
      if (k.startsWith('refused:')) refused[k.slice(8)] = Number(v);
    }
    return {
      studio: r.studio,
      titleId: r.title_id,
      month: r.month,
      issued: n('issued'),
      renewed: n('renewed'),
      released: n('released'),
      revoked,
      expired: n('expired'),
      refused,
      accounts: Number(r.accounts),
      devices: Number(r.devices),
      activeAtMonthEnd: Number(r.active),
    };
  });
}

/** Every known reason first, in their declared order, then any other key the rows carry (sorted). */
const columnsOf = (known: readonly string[], seen: Iterable<string>): string[] => [
  ...known,
  ...[...new Set(seen)].filter((k) => !known.includes(k)).sort(),
];

/**
 * The report as CSV (RFC 4180), one line per row, revocations and refusals as one column per reason.
 * The columns are the same whatever the rows hold — every revocation reason and every refusal code,
 * zero where none was counted — so a spreadsheet or a loader sees one schema month after month.
 */
export function studioReportCsv(rows: readonly StudioMonthRow[]): string {
  const revokedKeys = columnsOf(
    REVOCATION_REASONS,
    rows.flatMap((r) => Object.keys(r.revoked)),
  );
  const refusedKeys = columnsOf(
    REJECTION_CODES,
    rows.flatMap((r) => Object.keys(r.refused)),
  );
  const header = [
    'studio',
    'title_id',
    'month',
    'issued',
    'renewed',
    'released',
    ...revokedKeys.map((k) => `revoked_${k.toLowerCase()}`),
    'expired',
    ...refusedKeys.map((k) => `refused_${k.toLowerCase()}`),
    'accounts',
    'devices',
    'active_at_month_end',
  ];
  const cell = (v: string | number) => {
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = rows.map((r) =>
    [
      r.studio,
      r.titleId,
      r.month,
      r.issued,
      r.renewed,
      r.released,
      ...revokedKeys.map((k) => r.revoked[k] ?? 0),
      r.expired,
      ...refusedKeys.map((k) => r.refused[k] ?? 0),
      r.accounts,
      r.devices,
      r.activeAtMonthEnd,
    ]
      .map(cell)
      .join(','),
  );
  return `${[header.join(','), ...lines].join('\r\n')}\r\n`;
}
