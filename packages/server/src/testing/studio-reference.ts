// An independent recompute of the studio accounting from the events, written apart from the projection
// (no shared code but core's expiry formula), and a reader of the projection's tables in the same shape:
// tests compare the two after crashes, rebuilds and side-by-side runs.
import { computeExpiry, type Policy } from '@satchel/core';
import { upcast } from '@satchel/core/schemas';
import type { Queryable } from '../db/database.js';
import type { EventStore, StoredEvent } from '../store/event-store.js';

/** The projection's content, in a comparable form: sorted lines. */
export interface StudioContent {
  counts: string[];
  holders: string[];
  terms: string[];
}

const month = (at: number) => new Date(at).toISOString().slice(0, 7);

/** Recomputes the studio accounting from events in feed order. */
export function recomputeStudio(events: readonly StoredEvent[]): StudioContent {
  const counts = new Map<string, number>();
  const holders = new Set<string>();
  type T = {
    title: string;
    device: string;
    term: number;
    start: number;
    played: number | null;
    policy: Policy;
    end: number | null;
    current: boolean;
  };
  const terms = new Map<string, T[]>();
  const add = (acct: string, title: string, at: number, measure: string) => {
    const k = `${acct}|${title}|${month(at)}|${measure}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  const expires = (t: T) =>
    computeExpiry({ issuedAt: t.start, firstPlayedAt: t.played, policy: t.policy, lastCheckInAt: null })
      .expiresAt;
  for (const s of events) {
    let e: ReturnType<typeof upcast>;
    try {
      e = upcast({ type: s.type, v: s.schemaVersion, data: s.data });
    } catch {
      continue;
    }
    const acct = s.accountId;
    const d = e.data as { licenseId?: string; at: number };
    const list = d.licenseId ? terms.get(`${acct}|${d.licenseId}`) : undefined;
    const cur = list?.at(-1);
    switch (e.type) {
      case 'LicenseIssued':
        terms.set(`${acct}|${e.data.licenseId}`, [
          {
            title: e.data.titleId,
            device: e.data.deviceId,
            term: 1,
            start: e.data.at,
            played: null,
            policy: e.data.policy,
            end: null,
            current: true,
          },
        ]);
        add(acct, e.data.titleId, e.data.at, 'issued');
        holders.add(`${acct}|${e.data.titleId}|${month(e.data.at)}|${e.data.deviceId}`);
        break;
      case 'LicenseRenewed':
        if (!cur || !list) break;
        if (cur.end === null) cur.end = Math.min(e.data.at, expires(cur));
        cur.current = false;
        list.push({ ...cur, term: cur.term + 1, start: e.data.at, played: null, end: null, current: true });
        add(acct, cur.title, e.data.at, 'renewed');
        holders.add(`${acct}|${cur.title}|${month(e.data.at)}|${cur.device}`);
        break;
      case 'LicenseReleased':
      case 'DownloadDeleted':
      case 'LicenseRevoked':
      case 'LicenseExpired':
        if (!cur || cur.end !== null) break;
        cur.end = e.data.at;
        add(
          acct,
          cur.title,
          e.data.at,
          e.type === 'LicenseRevoked'
            ? `revoked:${e.data.reason}`
            : e.type === 'LicenseExpired'
              ? 'expired'
              : 'released',
        );
        break;
      case 'PlaybackStarted':
        if (cur && cur.played === null && e.data.at >= cur.start) cur.played = e.data.at;
        break;
      case 'TitleWithdrawn':
        for (const [k, ts] of terms) {
          const t = ts.at(-1);
          if (!k.startsWith(`${acct}|`) || !t || t.title !== e.data.titleId || t.end !== null) continue;
          if ((t.policy.availableUntil ?? Infinity) > e.data.availableUntil)
            t.policy = { ...t.policy, availableUntil: e.data.availableUntil };
        }
        break;
      case 'LicenseRefused':
        add(acct, e.data.titleId, e.data.at, `refused:${e.data.code}`);
        break;
      default:
        break;
    }
  }
  const termLines: string[] = [];
  for (const [k, ts] of terms) {
    for (const t of ts) {
      termLines.push(
        `${k}|${t.term}|${t.title}|${t.device}|${t.start}|${t.played}|${expires(t)}|${t.end}|${t.current}`,
      );
    }
  }
  return {
    counts: [...counts].map(([k, n]) => `${k}|${n}`).sort(),
    holders: [...holders].sort(),
    terms: termLines.sort(),
  };
}

/** Reads one generation of the projection's tables in {@link recomputeStudio}'s shape. */
export async function readStudio(q: Queryable, generation: number): Promise<StudioContent> {
  const counts = await q.query<{ l: string }>(
    `SELECT account_id || '|' || title_id || '|' || to_char(month, 'YYYY-MM') || '|' || measure || '|' || count AS l
     FROM studio_title_month_counts WHERE generation = $1`,
    [generation],
  );
  const holders = await q.query<{ l: string }>(
    `SELECT account_id || '|' || title_id || '|' || to_char(month, 'YYYY-MM') || '|' || device_id AS l
     FROM studio_title_month_holders WHERE generation = $1`,
    [generation],
  );
  const terms = await q.query<{ l: string }>(
    `SELECT account_id || '|' || license_id || '|' || term || '|' || title_id || '|' || device_id || '|' || starts_at
       || '|' || coalesce(first_played_at::text, 'null') || '|' || expires_at || '|' || coalesce(ends_at::text, 'null')
       || '|' || is_current AS l
     FROM studio_license_terms WHERE generation = $1`,
    [generation],
  );
  const sorted = (rows: { l: string }[]) => rows.map((r) => r.l).sort();
  return { counts: sorted(counts), holders: sorted(holders), terms: sorted(terms) };
}

/** The feed from the start up to and including `position` (the checkpoint), in feed order. */
export async function feedUpTo(store: EventStore, q: Queryable, position: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let after = 0;
  if (position === 0) return out;
  for (;;) {
    const { events, lastPosition } = await store.readAll(after, 5000, q);
    for (const e of events) {
      out.push(e);
      if (e.globalPosition === position) return out;
    }
    if (events.length === 0) throw new Error(`position ${position} is not in the visible feed`);
    after = lastPosition;
  }
}
