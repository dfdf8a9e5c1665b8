import { DAY_MS, HOUR_MS, type Policy, policy } from '@satchel/core';
import { PolicySchema } from '@satchel/core/schemas';
import type { Queryable } from './db/database.js';

/** A title of the catalogue and the policy its studio set. Licence requests name only the title. */
export interface Title {
  readonly titleId: string;
  readonly name: string;
  readonly policy: Policy;
  /** The studio that owns the title, for its accounting (`unassigned` when never given; kept when a change omits it). */
  readonly studio?: string;
}

/** A title as the catalogue stores it: with the version of its policy (1 when created, +1 per change). */
export interface CatalogueTitle extends Title {
  readonly version: number;
  /** When the current version was written (epoch ms). */
  readonly updatedAt: number;
}

/** One version of a title's policy, as it was written. */
export interface PolicyVersion {
  readonly titleId: string;
  readonly version: number;
  readonly name: string;
  readonly policy: Policy;
  /** The operator who wrote it, when known. */
  readonly changedBy: string | null;
  readonly recordedAt: number;
}

/**
 * The catalogue, stored in `catalogue_titles`. Reads are cached for `cacheMs` (default 5 s) per
 * process; the database stays the only state.
 */
export class Catalogue {
  private cache: { at: number; titles: Map<string, CatalogueTitle> } | null = null;

  constructor(
    private readonly db: Queryable,
    private readonly cacheMs = 5_000,
  ) {}

  /** Every title, by id. */
  async titles(): Promise<Map<string, CatalogueTitle>> {
    const now = Date.now();
    if (this.cache && now - this.cache.at < this.cacheMs) return this.cache.titles;
    const rows = await this.db.query<{
      title_id: string;
      name: string;
      policy: string;
      version: number | string;
      updated_at: Date | string;
      studio: string;
    }>(
      'SELECT title_id, name, policy::text AS policy, version, updated_at, studio FROM catalogue_titles ORDER BY title_id',
    );
    const titles = new Map(
      rows.map((r) => [
        r.title_id,
        {
          titleId: r.title_id,
          name: r.name,
          policy: PolicySchema.parse(JSON.parse(r.policy)),
          version: Number(r.version),
          updatedAt: new Date(r.updated_at).getTime(),
          studio: r.studio,
        },
      ]),
    );
    this.cache = { at: now, titles };
    return titles;
  }

  /** One title, or null when the catalogue does not have it. */
  async get(titleId: string): Promise<CatalogueTitle | null> {
    return (await this.titles()).get(titleId) ?? null;
  }

  /** Forgets the cached titles: the next read goes to the database. */
  invalidate(): void {
    this.cache = null;
  }

  /** One title read from the database (not the cache), or null. */
  async fresh(titleId: string): Promise<CatalogueTitle | null> {
    this.cache = null;
    return this.get(titleId);
  }

  /**
   * Adds titles; with `replace` false (default) an existing title is left as it is, so seeding twice
   * changes nothing. With `replace`, an existing title's name and policy are replaced as a new version
   * (licences already issued keep the version they were issued under). `changedBy` is recorded with the
   * version. Throws if a policy is invalid. Resolves once durable.
   */
  async put(
    titles: readonly Title[],
    { replace = false, changedBy = null as string | null } = {},
  ): Promise<void> {
    for (const t of titles) {
      const p = PolicySchema.parse(t.policy);
      await this.db.query(
        `WITH t AS (
           INSERT INTO catalogue_titles (title_id, name, policy, studio) VALUES ($1, $2, $3::text::jsonb, coalesce($5::text, 'unassigned'))
           ON CONFLICT (title_id) DO ${replace ? 'UPDATE SET name = excluded.name, policy = excluded.policy, studio = coalesce($5::text, catalogue_titles.studio), updated_at = now(), version = catalogue_titles.version + 1' : 'NOTHING'}
           RETURNING title_id, version, name, policy
         )
         INSERT INTO catalogue_policy_versions (title_id, version, name, policy, changed_by)
         SELECT title_id, version, name, policy, $4 FROM t
         ON CONFLICT (title_id, version) DO NOTHING`,
        [t.titleId, t.name, JSON.stringify(p), changedBy, t.studio ?? null],
      );
    }
    this.cache = null;
  }

  /** Every version of a title's policy, oldest first (empty for an unknown title). */
  async versions(titleId: string): Promise<PolicyVersion[]> {
    const rows = await this.db.query<{
      version: number | string;
      name: string;
      policy: string;
      changed_by: string | null;
      recorded_at: Date | string;
    }>(
      `SELECT version, name, policy::text AS policy, changed_by, recorded_at
       FROM catalogue_policy_versions WHERE title_id = $1 ORDER BY version`,
      [titleId],
    );
    return rows.map((r) => ({
      titleId,
      version: Number(r.version),
      name: r.name,
      policy: PolicySchema.parse(JSON.parse(r.policy)),
      changedBy: r.changed_by,
      recordedAt: new Date(r.recorded_at).getTime(),
    }));
  }
}

/** The demo catalogue; `now` fixes when the leaving title leaves (7 days later). */
export function demoCatalogue(now: number): Title[] {
  return [
    {
      titleId: 'night-train',
      studio: 'Northlight Pictures',
      name: 'Night Train (48 h rental)',
      policy: policy({ playbackDurationSec: (48 * HOUR_MS) / 1000 }),
    },
    {
      titleId: 'harbour-lights',
      studio: 'Harbour Films',
      name: 'Harbour Lights (3 downloads a year)',
      policy: policy({ maxDownloadsPerYear: 3, maxRenewals: 2 }),
    },
    {
      titleId: 'last-summer',
      studio: 'Northlight Pictures',
      name: 'Last Summer (leaves the catalogue in 7 days)',
      policy: policy({ availableUntil: now + 7 * DAY_MS }),
    },
    {
      titleId: 'paper-moon',
      studio: 'Harbour Films',
      name: 'Paper Moon',
      policy: policy({ playbackDurationSec: 0 }),
    },
    { titleId: 'quiet-river', studio: 'Riverbank Studio', name: 'Quiet River', policy: policy() },
    {
      titleId: 'short-film',
      studio: 'Riverbank Studio',
      name: 'Short Film (6 h window)',
      policy: policy({ playbackDurationSec: (6 * HOUR_MS) / 1000, rentalDurationSec: 7 * 86_400 }),
    },
  ];
}
