import { DAY_MS, HOUR_MS, type Policy, PolicySchema, policy } from '@satchel/core';
import type { Queryable } from './db/database.js';

/** A title of the catalogue and the policy its studio set. Licence requests name only the title. */
export interface Title {
  readonly titleId: string;
  readonly name: string;
  readonly policy: Policy;
}

/**
 * The catalogue, stored in `catalogue_titles`. Reads are cached for `cacheMs` (default 5 s) per
 * process; the database stays the only state.
 */
export class Catalogue {
  private cache: { at: number; titles: Map<string, Title> } | null = null;

  constructor(
    private readonly db: Queryable,
    private readonly cacheMs = 5_000,
  ) {}

  /** Every title, by id. */
  async titles(): Promise<Map<string, Title>> {
    const now = Date.now();
    if (this.cache && now - this.cache.at < this.cacheMs) return this.cache.titles;
    const rows = await this.db.query<{ title_id: string; name: string; policy: string }>(
      'SELECT title_id, name, policy::text AS policy FROM catalogue_titles ORDER BY title_id',
    );
    const titles = new Map(
      rows.map((r) => [
        r.title_id,
        { titleId: r.title_id, name: r.name, policy: PolicySchema.parse(JSON.parse(r.policy)) },
      ]),
    );
    this.cache = { at: now, titles };
    return titles;
  }

  /** One title, or null when the catalogue does not have it. */
  async get(titleId: string): Promise<Title | null> {
    return (await this.titles()).get(titleId) ?? null;
  }

  /**
   * Adds titles; with `replace` false (default) an existing title is left as it is, so seeding twice
   * changes nothing. Throws if a policy is invalid.
   */
  async put(titles: readonly Title[], { replace = false } = {}): Promise<void> {
    for (const t of titles) {
      const p = PolicySchema.parse(t.policy);
      await this.db.query(
        `INSERT INTO catalogue_titles (title_id, name, policy) VALUES ($1, $2, $3::text::jsonb)
         ON CONFLICT (title_id) DO ${replace ? 'UPDATE SET name = excluded.name, policy = excluded.policy, updated_at = now()' : 'NOTHING'}`,
        [t.titleId, t.name, JSON.stringify(p)],
      );
    }
    this.cache = null;
  }
}

/** The demo catalogue; `now` fixes when the leaving title leaves (7 days later). */
export function demoCatalogue(now: number): Title[] {
  return [
    {
      titleId: 'night-train',
      name: 'Night Train (48 h rental)',
      policy: policy({ playbackDurationSec: (48 * HOUR_MS) / 1000 }),
    },
    {
      titleId: 'harbour-lights',
      name: 'Harbour Lights (3 downloads a year)',
      policy: policy({ maxDownloadsPerYear: 3, maxRenewals: 2 }),
    },
    {
      titleId: 'last-summer',
      name: 'Last Summer (leaves the catalogue in 7 days)',
      policy: policy({ availableUntil: now + 7 * DAY_MS }),
    },
    { titleId: 'paper-moon', name: 'Paper Moon', policy: policy({ playbackDurationSec: 0 }) },
    { titleId: 'quiet-river', name: 'Quiet River', policy: policy() },
    {
      titleId: 'short-film',
      name: 'Short Film (6 h window)',
      policy: policy({ playbackDurationSec: (6 * HOUR_MS) / 1000, rentalDurationSec: 7 * 86_400 }),
    },
  ];
}
