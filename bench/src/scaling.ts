import {
  type AccountState,
  type Command,
  DEFAULT_PLAN,
  decide,
  fold,
  initialState,
  toVersioned,
} from '@satchel/core';
import { demoCatalogue, migrate, postgresDatabase, Tokens } from '@satchel/server';
import postgres from 'postgres';
import { httpClient } from './http.js';
import { measureWindow, selfCpuSeconds, type WindowLoad } from './machine-load.js';
import { batchFor, type Device, SECRET, type SyncBody } from './merge.js';
import { backendCpuSeconds, freshDatabase } from './pg.js';
import { startServerProcess } from './server-process.js';
import { lanes, round } from './stats.js';

export interface ScalingPoint {
  accounts: number;
  seedSeconds: number;
  eventsPerSec: number;
  /** Server + PostgreSQL backends CPU per sync, ms (what foreign load disturbs least). */
  cpuMsPerSync: number;
  load: WindowLoad;
}

export interface ScalingResult {
  points: ScalingPoint[];
  /** Merge rate at the most accounts ÷ at the fewest (1 = flat). */
  rateRatio: number;
  /** CPU per sync at the fewest accounts ÷ at the most (1 = flat). */
  cpuRatio: number;
}

const N = '__N__';

/** The tables {@link seedScalingDatabase} fills: the only ones the seeding vacuums and analyzes. */
export const SEEDED_TABLES = ['accounts', 'device_credentials', 'events', 'catalogue_titles'] as const;

/**
 * A fresh database `url` as the scaling section measures it: migrated, the demo catalogue, and
 * `accounts` accounts seeded in SQL (see {@link seedInSql}).
 */
export async function seedScalingDatabase(url: string, accounts: number, now: number): Promise<void> {
  const migrated = postgresDatabase(url, { max: 1 });
  try {
    await migrate(migrated);
  } finally {
    await migrated.close();
  }
  const catalogue = postgres(url, { max: 1, onnotice: () => {} });
  try {
    for (const t of demoCatalogue(now)) {
      await catalogue.unsafe(
        'INSERT INTO catalogue_titles (title_id, name, policy) VALUES ($1, $2, $3::text::jsonb)',
        [t.titleId, t.name, JSON.stringify(t.policy)],
      );
    }
  } finally {
    await catalogue.end({ timeout: 2 });
  }
  await seedInSql(url, accounts, now);
}

/**
 * Seeds `accounts` accounts in SQL, each as the service would have left it: opened, one device, one
 * licence for `paper-moon` (the events come from core's `decide` for a template account and are copied
 * with the ids replaced), so 100,000 accounts take seconds, not an hour of HTTP.
 *
 * Then vacuums and analyzes the tables it filled, and only those. The sync's tables that start empty
 * (`device_cursors`, `device_receipts`, `snapshots`, `rate_limits`) must not be analyzed while empty: that
 * records them as empty (`reltuples` 0), and a connection whose generic plan of the sync's read is made
 * while they still have no page keeps sequential scans of them for its life (nothing analyzes them
 * again when autovacuum is off, as on the benchmark machine). Those scans grow with every receipt and
 * cursor the run writes, and which size they hit was chance (docs/benchmarks.md, the latest run's
 * notes). Left unanalyzed, as a fresh server's are, they are planned by their indexes.
 */
async function seedInSql(url: string, accounts: number, now: number): Promise<void> {
  const title = demoCatalogue(now).find((t) => t.titleId === 'paper-moon');
  if (!title) throw new Error('paper-moon is not in the demo catalogue');
  const commands: Command[] = [
    { type: 'OpenAccount', accountId: `bench-${N}`, plan: DEFAULT_PLAN, now },
    { type: 'RegisterDevice', deviceId: `dev-${N}`, name: 'Bench device', now },
    {
      type: 'IssueLicense',
      licenseId: `lic-${N}`,
      deviceId: `dev-${N}`,
      titleId: title.titleId,
      policy: title.policy,
      now,
    },
  ];
  let state: AccountState = initialState(`bench-${N}`);
  const templates: { type: string; v: number; data: string }[] = [];
  for (const c of commands) {
    const d = decide(state, c);
    if (!d.ok) throw new Error(`seeding template: ${d.rejection.code}`);
    state = fold(d.events, state);
    for (const e of d.events) {
      const v = toVersioned(e);
      templates.push({ type: v.type, v: v.v, data: JSON.stringify(v.data) });
    }
  }
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  try {
    const chunk = 20_000;
    const jobs: Promise<unknown>[] = [];
    for (let from = 0; from < accounts; from += chunk) {
      const to = Math.min(accounts, from + chunk) - 1;
      jobs.push(
        sql.unsafe(
          `INSERT INTO accounts (account_id, name)
           SELECT 'bench-' || i, 'Bench household' FROM generate_series($1::int, $2::int) i`,
          [from, to],
        ),
      );
      // Each device's credential row, as registration writes it: the server checks it on every request.
      jobs.push(
        sql.unsafe(
          `INSERT INTO device_credentials (account_id, device_id)
           SELECT 'bench-' || i, 'dev-' || i FROM generate_series($1::int, $2::int) i`,
          [from, to],
        ),
      );
      templates.forEach((t, k) => {
        jobs.push(
          sql.unsafe(
            `INSERT INTO events (account_id, stream_version, event_id, type, schema_version, data, metadata)
             SELECT 'bench-' || i, $3::bigint, gen_random_uuid(), $4, $5, replace($6, $7, i::text)::jsonb, '{}'
             FROM generate_series($1::int, $2::int) i`,
            [from, to, k + 1, t.type, t.v, t.data, N],
          ),
        );
      });
    }
    await Promise.all(jobs);
    await sql.unsafe(`VACUUM (ANALYZE) ${SEEDED_TABLES.join(', ')}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * The merge rate against the number of accounts: for each size, a fresh database seeded in SQL, the
 * real server in its own process, `concurrency` devices syncing 50-event batches back to back for
 * `seconds`, each sync to a random account (the working set spans them all).
 */
export async function benchScaling(o: {
  sizes: number[];
  concurrency: number;
  batch: number;
  warmupSec: number;
  seconds: number;
  poolSize: number;
  log: (line: string) => void;
}): Promise<ScalingResult> {
  const points: ScalingPoint[] = [];
  for (const accounts of o.sizes) {
    const db = await freshDatabase('scale');
    try {
      const now = Date.now();
      const t0 = performance.now();
      await seedScalingDatabase(db.url, accounts, now);
      const seedSeconds = (performance.now() - t0) / 1000;
      o.log(`  ${accounts.toLocaleString('en-US')} accounts seeded in SQL in ${round(seedSeconds, 1)} s`);
      const server = await startServerProcess({
        databaseUrl: db.url,
        tokenSecret: SECRET,
        poolSize: o.poolSize,
      });
      const client = httpClient(server.baseUrl, o.concurrency);
      const tokens = new Tokens(SECRET, { cache: false });
      const devices = new Map<number, Device>();
      const device = async (): Promise<Device> => {
        for (;;) {
          const i = Math.floor(Math.random() * accounts);
          const known = devices.get(i);
          if (known?.busy) continue;
          // Taken here, before the caller's await resumes: two lanes must never sync one device at once.
          if (known) {
            known.busy = true;
            return known;
          }
          // Registered busy before the token is minted, so no other lane takes the same device meanwhile.
          const d: Device = {
            accountId: `bench-${i}`,
            deviceId: `dev-${i}`,
            licenseId: `lic-${i}`,
            token: '',
            seq: 0,
            snapshotVersion: null,
            busy: true,
          };
          devices.set(i, d);
          d.token = (
            await tokens.mint({ kind: 'device', accountId: d.accountId, deviceId: d.deviceId })
          ).token;
          return d;
        }
      };
      let failure = '';
      const run = async (seconds: number) => {
        let events = 0;
        let syncs = 0;
        await lanes(
          o.concurrency,
          async () => {
            const d = await device();
            d.busy = true;
            const res = await client
              .post('/v1/sync', d.token, batchFor(d, o.batch, Date.now()))
              .finally(() => {
                d.busy = false;
              });
            const accepted =
              res.status === 200
                ? (res.body as SyncBody).results.filter((r) => r.status === 'accepted').length
                : 0;
            if (accepted !== o.batch) {
              failure ||= `HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`;
              return false;
            }
            events += accepted;
            syncs++;
            return true;
          },
          performance.now() + seconds * 1000,
        );
        return { events, syncs };
      };
      try {
        await run(o.warmupSec);
        const s0 = await server.reading();
        const pg0 = await backendCpuSeconds(db.name);
        const self0 = selfCpuSeconds();
        const window = measureWindow();
        const started = performance.now();
        const m = await run(o.seconds);
        const seconds = (performance.now() - started) / 1000;
        const s1 = await server.reading();
        const pg1 = await backendCpuSeconds(db.name);
        const load = window((s1.cpuUs - s0.cpuUs) / 1e6 + (pg1 - pg0) + (selfCpuSeconds() - self0));
        if (failure) throw new Error(`sync failed at ${accounts} accounts: ${failure}`);
        points.push({
          accounts,
          seedSeconds: round(seedSeconds, 1),
          eventsPerSec: round(m.events / seconds, 0),
          cpuMsPerSync: round((((s1.cpuUs - s0.cpuUs) / 1e6 + (pg1 - pg0)) * 1e3) / Math.max(1, m.syncs), 2),
          load,
        });
        o.log(`  ${accounts.toLocaleString('en-US')} accounts: ${points.at(-1)?.eventsPerSec} ev/s`);
      } finally {
        client.close();
        await server.stop();
      }
    } finally {
      await db.drop();
    }
  }
  const first = points[0];
  const last = points.at(-1);
  return {
    points,
    rateRatio: first && last ? round(last.eventsPerSec / first.eventsPerSec, 3) : Number.NaN,
    cpuRatio: first && last ? round(first.cpuMsPerSync / last.cpuMsPerSync, 3) : Number.NaN,
  };
}
