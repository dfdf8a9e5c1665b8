import type { Migration } from '../store/migrations.js';

/**
 * The projections' tables: checkpoints with leases, and the studio accounting read model. Every row of
 * a projection carries its `generation`, so a rebuild fills a new generation while the live one keeps
 * serving (docs/operations.md, "Projections"). Instants are epoch milliseconds, months are UTC.
 */
export const PROJECTION_MIGRATIONS: readonly Omit<Migration, 'version'>[] = [
  {
    name: 'projections and studio accounting',
    sql: `
ALTER TABLE catalogue_titles ADD COLUMN IF NOT EXISTS studio text NOT NULL DEFAULT 'unassigned';

CREATE TABLE projection_checkpoints (
  projection       text        NOT NULL,
  generation       int         NOT NULL,
  status           text        NOT NULL CHECK (status IN ('building', 'live', 'retired')),
  position         bigint      NOT NULL DEFAULT 0,
  events_processed bigint      NOT NULL DEFAULT 0,
  lease_owner      text,
  lease_until      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT projection_checkpoints_pkey PRIMARY KEY (projection, generation)
);

CREATE TABLE studio_license_terms (
  account_id       text   NOT NULL,
  generation       int    NOT NULL,
  license_id       text   NOT NULL,
  term             int    NOT NULL,
  title_id         text   NOT NULL,
  device_id        text   NOT NULL,
  starts_at        bigint NOT NULL,
  first_played_at  bigint,
  policy           jsonb  NOT NULL,
  expires_at       bigint NOT NULL,
  ends_at          bigint,
  is_current       boolean NOT NULL,
  CONSTRAINT studio_license_terms_pkey PRIMARY KEY (account_id, generation, license_id, term)
);

CREATE TABLE studio_title_month_counts (
  account_id text   NOT NULL,
  generation int    NOT NULL,
  title_id   text   NOT NULL,
  month      date   NOT NULL,
  measure    text   NOT NULL,
  count      bigint NOT NULL,
  CONSTRAINT studio_title_month_counts_pkey PRIMARY KEY (account_id, generation, title_id, month, measure)
);

CREATE TABLE studio_title_month_holders (
  account_id text NOT NULL,
  generation int  NOT NULL,
  title_id   text NOT NULL,
  month      date NOT NULL,
  device_id  text NOT NULL,
  CONSTRAINT studio_title_month_holders_pkey PRIMARY KEY (account_id, generation, title_id, month, device_id)
);`,
  },
];
