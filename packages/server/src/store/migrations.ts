import type { Database, Queryable } from '../db/database.js';
import { PROJECTION_MIGRATIONS } from '../projections/schema.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Ordered, append-only: never edit a released migration, add a new one. Every key starts with account_id. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'event store',
    sql: `
CREATE TABLE events (
  account_id      text        NOT NULL,
  stream_version  bigint      NOT NULL,
  event_id        uuid        NOT NULL,
  type            text        NOT NULL,
  schema_version  int         NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  global_position bigint      GENERATED ALWAYS AS IDENTITY,
  transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  CONSTRAINT events_stream_version_key UNIQUE (account_id, stream_version),
  CONSTRAINT events_event_id_key UNIQUE (account_id, event_id)
);
CREATE INDEX events_feed_idx ON events (transaction_id, global_position);
CREATE INDEX events_global_position_idx ON events (global_position);

CREATE TABLE device_receipts (
  account_id text   NOT NULL,
  device_id  text   NOT NULL,
  seq        bigint NOT NULL,
  event_id   uuid   NOT NULL,
  status     text   NOT NULL CHECK (status IN ('accepted', 'duplicate', 'rejected')),
  code       text,
  message    text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT device_receipts_pkey PRIMARY KEY (account_id, device_id, seq),
  CONSTRAINT device_receipts_event_id_key UNIQUE (account_id, event_id)
);

CREATE TABLE device_cursors (
  account_id   text        NOT NULL,
  device_id    text        NOT NULL,
  last_seq     bigint      NOT NULL DEFAULT 0,
  last_sync_at timestamptz,
  CONSTRAINT device_cursors_pkey PRIMARY KEY (account_id, device_id)
);

CREATE TABLE snapshots (
  account_id   text        NOT NULL,
  version      bigint      NOT NULL,
  fold_version int         NOT NULL,
  state        jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT snapshots_pkey PRIMARY KEY (account_id, version)
);`,
  },
  {
    version: 2,
    name: 'accounts and catalogue',
    sql: `
CREATE TABLE accounts (
  account_id text        NOT NULL,
  name       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT accounts_pkey PRIMARY KEY (account_id)
);

CREATE TABLE catalogue_titles (
  title_id        text        NOT NULL,
  name            text        NOT NULL,
  policy          jsonb       NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT catalogue_titles_pkey PRIMARY KEY (title_id)
);`,
  },
  {
    version: 3,
    name: 'lz4 for snapshot state',
    // Snapshots are read on every account load: lz4 decompresses several times faster than the default
    // pglz. Servers built without lz4 (PGlite) keep the default.
    sql: `DO $$ BEGIN ALTER TABLE snapshots ALTER COLUMN state SET COMPRESSION lz4; EXCEPTION WHEN OTHERS THEN NULL; END $$;`,
  },
  {
    version: 4,
    name: 'versioned catalogue policies',
    // A policy change is a new version: licences record the version they were issued under
    // (LicenseIssued.policyVersion) and keep that policy; the versions are kept for the operators.
    sql: `
ALTER TABLE catalogue_titles ADD COLUMN version int NOT NULL DEFAULT 1;

CREATE TABLE catalogue_policy_versions (
  title_id    text        NOT NULL,
  version     int         NOT NULL,
  name        text        NOT NULL,
  policy      jsonb       NOT NULL,
  changed_by  text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT catalogue_policy_versions_pkey PRIMARY KEY (title_id, version)
);

INSERT INTO catalogue_policy_versions (title_id, version, name, policy, recorded_at)
SELECT title_id, version, name, policy, updated_at FROM catalogue_titles;`,
  },
  // Projections over the global feed and studio accounting (packages/server/src/projections/).
  ...PROJECTION_MIGRATIONS.map((m, i) => ({ ...m, version: 5 + i })),
  {
    // Numbered apart from the projections' block (5, 6, …), which grows.
    version: 50,
    name: 'device credentials',
    // A device's secret (hashed) and the generation its tokens must name; revoked_at is set by
    // deactivation. Devices registered before this migration get a row without a secret.
    sql: `
CREATE TABLE device_credentials (
  account_id  text        NOT NULL,
  device_id   text        NOT NULL,
  secret_hash bytea,
  generation  int         NOT NULL DEFAULT 0,
  revoked_at  timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT device_credentials_pkey PRIMARY KEY (account_id, device_id)
);
INSERT INTO device_credentials (account_id, device_id, revoked_at)
SELECT DISTINCT ON (account_id, data->>'deviceId') account_id, data->>'deviceId',
       CASE WHEN type = 'DeviceDeactivated' THEN recorded_at END
  FROM events
 WHERE type IN ('DeviceRegistered', 'DeviceDeactivated')
 ORDER BY account_id, data->>'deviceId', stream_version DESC;`,
  },
  {
    version: 60,
    name: 'rate limits',
    // The request and event-quota counters every instance shares (rate-limiter-flexible's PostgreSQL
    // store; see http/limits.ts). Its columns, in this order, are the ones that store writes. The key is
    // the limit's prefix and the counted ids, so it does not start with account_id.
    sql: `
CREATE TABLE rate_limits (
  key    text    PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
CREATE INDEX rate_limits_expire_idx ON rate_limits (expire);`,
  },
  {
    version: 61,
    name: 'event quotas',
    // Each device's event quota, counted by the write that appends the events (store/write.ts), so a
    // batch counts exactly once, when and only when it is stored. A fixed window: `used` events since
    // `window_start` (epoch ms, the server clock). Only the two counters change: the fill factor leaves
    // room for heap-only updates. The request counters stay in rate_limits (http/limits.ts).
    sql: `
DELETE FROM rate_limits WHERE key LIKE 'ev-d:%';
CREATE TABLE event_quotas (
  account_id   text    NOT NULL,
  device_id    text    NOT NULL,
  window_start bigint  NOT NULL,
  used         integer NOT NULL,
  CONSTRAINT event_quotas_pkey PRIMARY KEY (account_id, device_id)
) WITH (fillfactor = 80);`,
  },
  {
    version: 62,
    name: 'request counters unlogged',
    // The request counters are worth keeping across a restart, not across a crash: unlogged, their
    // upserts write no WAL and their commits do not wait for a WAL flush (ADR 0014). After a crash or a
    // failover to a standby they start again from zero.
    sql: `ALTER TABLE rate_limits SET UNLOGGED;`,
  },
];

const LOCK_KEY = 7_318_245_001;

/**
 * Applies every migration not yet recorded in `satchel_migrations`, in order, in one transaction
 * holding a PostgreSQL advisory lock, so instances starting together apply each migration once.
 * Resolves when the schema is current; throws (and applies nothing) if any migration fails.
 */
export async function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
    await tx.query(`CREATE TABLE IF NOT EXISTS satchel_migrations (
      version    int         PRIMARY KEY,
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set((await appliedVersions(tx)).map(Number));
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO satchel_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}

async function appliedVersions(q: Queryable): Promise<number[]> {
  const rows = await q.query<{ version: number | string }>('SELECT version FROM satchel_migrations');
  return rows.map((r) => Number(r.version));
}

/** True when every known migration has been applied (used by readiness checks). */
export async function migrationsCurrent(
  db: Queryable,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<boolean> {
  try {
    const done = new Set(await appliedVersions(db));
    return migrations.every((m) => done.has(m.version));
  } catch {
    return false;
  }
}

function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
