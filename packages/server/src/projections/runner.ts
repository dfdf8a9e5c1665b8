import { uuidv7 } from 'uuidv7';
import type { Database, Queryable } from '../db/database.js';
import type { Metrics } from '../metrics.js';
import type { EventStore, StoredEvent } from '../store/event-store.js';

/**
 * A read model kept from the global feed. `apply` runs inside the batch's transaction, together with the
 * checkpoint: what it writes and the new position commit or roll back as one, so a crash at any point
 * neither loses nor repeats an event. Every row it writes carries `generation`, so a rebuild can fill a
 * new generation while readers keep reading the live one.
 */
export interface Projection {
  /** A stable name: the checkpoint's key. */
  readonly name: string;
  /** Applies events in feed order to `generation`, on `tx`. Throwing rolls the whole batch back. */
  apply(tx: Queryable, events: readonly StoredEvent[], generation: number): Promise<void>;
  /** Deletes every row of a retired generation. */
  drop(tx: Queryable, generation: number): Promise<void>;
}

/** How far one generation of a projection is behind the feed. */
export interface ProjectionLag {
  projection: string;
  generation: number;
  status: 'building' | 'live' | 'retired';
  /** Global position of the last event processed (0 = none). */
  position: number;
  eventsProcessed: number;
  /** Events committed to the feed and not processed yet (in-flight transactions' events included once committed). */
  eventsBehind: number;
  /** Age of the oldest unprocessed event, in seconds (0 when none). */
  secondsBehind: number;
  /** The instance holding the lease, if the lease is current. */
  leaseOwner: string | null;
}

export interface ProjectionRunnerOptions {
  /** This instance's id in leases (default a fresh UUIDv7). */
  instanceId?: string;
  /** Events per batch (default 1000). */
  batchSize?: number;
  /** How long a lease lasts without a batch renewing it (default 15 s). */
  leaseMs?: number;
  /** Pause when every projection is caught up or leased elsewhere (default 200 ms). */
  idleMs?: number;
  metrics?: Metrics;
  /** Called with each error a loop pass meets (the loop keeps going after a pause). */
  onError?: (error: unknown) => void;
  /** Called after each committed batch: `(projection, generation, events, lastPosition)`. */
  onBatch?: (projection: string, generation: number, events: number, position: number) => void;
}

type CheckpointRow = {
  projection: string;
  generation: number;
  status: 'building' | 'live' | 'retired';
  position: string | number;
  events_processed: string | number;
  lease_owner: string | null;
  lease_current: boolean;
};

// Takes (or renews) the lease of one generation when it is free, expired or already ours, and returns the
// checkpoint. SKIP LOCKED: while another instance runs a batch of it, this one moves on instead of waiting.
const CLAIM_SQL = `UPDATE projection_checkpoints c
  SET lease_owner = $3, lease_until = now() + make_interval(secs => $4::double precision / 1000), updated_at = now()
  FROM (SELECT projection, generation FROM projection_checkpoints
        WHERE projection = $1 AND generation = $2 AND status IN ('building', 'live')
          AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until < now())
        FOR UPDATE SKIP LOCKED) free
  WHERE c.projection = free.projection AND c.generation = free.generation
  RETURNING c.position`;

const ADVANCE_SQL = `UPDATE projection_checkpoints
  SET position = $3, events_processed = events_processed + $4, updated_at = now()
  WHERE projection = $1 AND generation = $2`;

const ENSURE_SQL = `INSERT INTO projection_checkpoints (projection, generation, status)
  SELECT $1, 1, 'live' WHERE NOT EXISTS (SELECT 1 FROM projection_checkpoints WHERE projection = $1)
  ON CONFLICT DO NOTHING`;

const ACTIVE_SQL = `SELECT projection, generation, status, position, events_processed, lease_owner,
    coalesce(lease_until > now(), false) AS lease_current
  FROM projection_checkpoints WHERE status IN ('building', 'live') ORDER BY projection, generation`;

// Lag from the feed's own order (transaction id, position); the count is capped so a rebuild from 0 on a
// large store stays cheap to ask about.
const LAG_SQL = `WITH c AS (
    SELECT coalesce((SELECT transaction_id FROM events WHERE global_position = $1), '0'::xid8) AS tx
  ), pending AS (
    SELECT e.recorded_at FROM events e, c
    WHERE (e.transaction_id, e.global_position) > (c.tx, $1::bigint)
    ORDER BY e.transaction_id, e.global_position LIMIT $2
  )
  SELECT count(*) AS behind,
    coalesce(extract(epoch FROM now() - (SELECT recorded_at FROM pending LIMIT 1)), 0) AS seconds
  FROM pending`;

const LAG_COUNT_CAP = 10_000_000;

/**
 * Runs projections over the global feed ({@link EventStore.readAll}): named, checkpointed consumers whose
 * every batch (the projection's writes and the new checkpoint) is one transaction. Several instances may
 * run side by side on one database: each generation of a projection has a lease (a row with an owner and
 * an expiry, taken with `FOR UPDATE SKIP LOCKED`), so one instance at a time runs it, and another takes
 * over when a lease lapses (e.g. the instance died). Correctness does not rest on the lease: the
 * checkpoint row is locked by the batch that moves it, so two batches of one generation never overlap.
 *
 * `rebuild(name)` starts a new generation at position 0 beside the live one; once it has caught up with
 * the feed it becomes live in one transaction, and the old generation's rows are deleted.
 */
export class ProjectionRunner {
  readonly instanceId: string;
  private readonly byName: Map<string, Projection>;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly idleMs: number;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private ensured = false;

  constructor(
    readonly db: Database,
    readonly store: EventStore,
    projections: readonly Projection[],
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    this.instanceId = options.instanceId ?? uuidv7();
    this.byName = new Map(projections.map((p) => [p.name, p]));
    this.batchSize = options.batchSize ?? 1000;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.idleMs = options.idleMs ?? 200;
  }

  /** Creates the checkpoint (generation 1, live, position 0) of every projection that has none. Idempotent. */
  async ensure(): Promise<void> {
    for (const name of this.byName.keys()) await this.db.query(ENSURE_SQL, [name]);
    this.ensured = true;
  }

  /**
   * One pass: at most one batch of every generation this instance can lease. Resolves with the number of
   * events processed (0 when all are caught up or leased elsewhere). Throws what a batch threw (that batch
   * was rolled back; its checkpoint did not move).
   */
  async runOnce(): Promise<number> {
    if (!this.ensured) await this.ensure();
    const rows = await this.db.query<CheckpointRow>(ACTIVE_SQL);
    let total = 0;
    for (const row of rows) {
      const projection = this.byName.get(row.projection);
      if (!projection) continue;
      if (row.lease_current && row.lease_owner !== this.instanceId) continue;
      total += await this.batch(projection, Number(row.generation), row.status);
    }
    return total;
  }

  private async batch(projection: Projection, generation: number, status: string): Promise<number> {
    const m = this.options.metrics;
    let caughtUp = false;
    let position = 0;
    const n = await this.db.transaction(async (tx) => {
      const claimed = await tx.query<{ position: string | number }>(CLAIM_SQL, [
        projection.name,
        generation,
        this.instanceId,
        this.leaseMs,
      ]);
      const row = claimed[0];
      if (!row) return -1;
      const from = Number(row.position);
      const { events, lastPosition } = await this.store.readAll(from, this.batchSize, tx);
      caughtUp = events.length < this.batchSize;
      position = lastPosition;
      if (events.length === 0) return 0;
      await projection.apply(tx, events, generation);
      await tx.query(ADVANCE_SQL, [projection.name, generation, lastPosition, events.length]);
      return events.length;
    });
    if (n < 0) {
      m?.projectionBatches.inc({ projection: projection.name, result: 'leased_elsewhere' });
      return 0;
    }
    if (n > 0) {
      m?.projectionBatches.inc({ projection: projection.name, result: 'committed' });
      m?.projectionEvents.inc({ projection: projection.name }, n);
      this.options.onBatch?.(projection.name, generation, n, position);
    }
    if (status === 'building' && caughtUp) await this.promote(projection, generation);
    return n;
  }

  /** Makes a caught-up building generation live and deletes the rows of the generation it replaces. */
  private async promote(projection: Projection, generation: number): Promise<void> {
    const retired = await this.db.transaction(async (tx) => {
      const rows = await tx.query<{ generation: number }>(
        `UPDATE projection_checkpoints SET status = 'retired', lease_owner = NULL, updated_at = now()
         WHERE projection = $1 AND status = 'live' AND generation <> $2 RETURNING generation`,
        [projection.name, generation],
      );
      await tx.query(
        `UPDATE projection_checkpoints SET status = 'live', updated_at = now()
         WHERE projection = $1 AND generation = $2 AND status = 'building'`,
        [projection.name, generation],
      );
      return rows.map((r) => Number(r.generation));
    });
    for (const g of retired) await this.db.transaction((tx) => projection.drop(tx, g));
  }

  /**
   * Starts rebuilding `name` from position 0 in a new generation (or returns the one already building).
   * The live generation keeps serving until the new one has caught up. Throws for an unknown projection.
   */
  async rebuild(name: string): Promise<number> {
    if (!this.byName.has(name)) throw new Error(`No projection named ${name}`);
    if (!this.ensured) await this.ensure();
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM projection_checkpoints WHERE projection = $1 FOR UPDATE', [name]);
      const building = await tx.query<{ generation: number }>(
        `SELECT generation FROM projection_checkpoints WHERE projection = $1 AND status = 'building'`,
        [name],
      );
      if (building[0]) return Number(building[0].generation);
      const rows = await tx.query<{ generation: number }>(
        `INSERT INTO projection_checkpoints (projection, generation, status)
         SELECT $1, coalesce(max(generation), 0) + 1, 'building' FROM projection_checkpoints WHERE projection = $1
         RETURNING generation`,
        [name],
      );
      return Number(rows[0]?.generation);
    });
  }

  /** Every building or live generation and how far behind the feed it is; updates the lag gauges. */
  async lag(q: Queryable = this.db): Promise<ProjectionLag[]> {
    const rows = await q.query<CheckpointRow>(ACTIVE_SQL);
    const out: ProjectionLag[] = [];
    for (const r of rows) {
      const position = Number(r.position);
      const [l] = await q.query<{ behind: string | number; seconds: string | number }>(LAG_SQL, [
        position,
        LAG_COUNT_CAP,
      ]);
      const lag: ProjectionLag = {
        projection: r.projection,
        generation: Number(r.generation),
        status: r.status,
        position,
        eventsProcessed: Number(r.events_processed),
        eventsBehind: Number(l?.behind ?? 0),
        secondsBehind: Math.max(0, Math.round(Number(l?.seconds ?? 0) * 1000) / 1000),
        leaseOwner: r.lease_current ? r.lease_owner : null,
      };
      const labels = { projection: lag.projection, generation: String(lag.generation), status: lag.status };
      this.options.metrics?.projectionLagEvents.set(labels, lag.eventsBehind);
      this.options.metrics?.projectionLagSeconds.set(labels, lag.secondsBehind);
      out.push(lag);
    }
    return out;
  }

  /**
   * Runs passes until one processes nothing (every generation this instance can lease is caught up with
   * the visible feed). Resolves with the events processed. For tests, the CLI and benchmarks.
   */
  async catchUp(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  /**
   * Runs passes until every generation this instance can lease has processed every committed event
   * (`eventsBehind` 0), waiting out transactions still open elsewhere in the cluster, which hold the
   * visible feed back. Resolves with the events processed; throws after `timeoutMs` (default 60 s).
   */
  async catchUpWithHead(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let total = 0;
    for (;;) {
      total += await this.catchUp();
      const lags = await this.lag();
      const mine = lags.filter((l) => l.leaseOwner === null || l.leaseOwner === this.instanceId);
      if (mine.every((l) => l.eventsBehind === 0)) return total;
      if (Date.now() > deadline) {
        throw new Error(`projections still behind after ${timeoutMs} ms: ${JSON.stringify(mine)}`);
      }
      await new Promise((r) => setTimeout(r, this.idleMs));
    }
  }

  /** True between {@link start} and the end of {@link stop}: this instance's background loop is on. */
  get running(): boolean {
    return this.loop !== null;
  }

  /** Starts the background loop (idempotent). Errors are reported to `onError` and retried after a pause. */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = (async () => {
      while (!this.stopping) {
        let n = 0;
        try {
          n = await this.runOnce();
        } catch (e) {
          this.options.metrics?.projectionBatches.inc({ projection: '*', result: 'failed' });
          this.options.onError?.(e);
        }
        if (n === 0 && !this.stopping) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, this.idleMs);
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wake = null;
        }
      }
    })();
  }

  /** Stops the loop after the batch in flight, and gives up this instance's leases. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
    await this.db
      .query(
        'UPDATE projection_checkpoints SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1',
        [this.instanceId],
      )
      .catch(() => {});
  }
}
