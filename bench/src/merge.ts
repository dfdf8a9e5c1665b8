import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import { createSatchelServer, demoCatalogue, postgresDatabase } from '@satchel/server';
import { pino } from 'pino';
import postgres from 'postgres';
import { uuidv7 } from 'uuidv7';
import { httpClient } from './http.js';
import { FOREIGN_LOAD_CORES, measureWindow, selfCpuSeconds, type WindowLoad } from './machine-load.js';
import { backendCpuSeconds, freshDatabase } from './pg.js';
import { type ProfileSummary, summarizeProfile } from './profile.js';
import { startServerProcess } from './server-process.js';
import { lanes, round, summarize } from './stats.js';

export interface MergeOptions {
  accounts: number;
  concurrency: number;
  batch: number;
  warmupSec: number;
  durationSec: number;
  /** Length of each open-loop window (50% and 70% of capacity). */
  openLoopSec: number;
  /** Pool size of the server and of the baselines (same for all). */
  poolSize: number;
  profile: boolean;
  log: (line: string) => void;
}

export interface OpenLoopResult {
  /** Closed-loop throughput the offered rates are a share of, syncs/s. */
  capacitySyncsPerSec: number;
  /** Syncs offered per second at 50% and 70% of capacity (Poisson arrivals). */
  offeredAt50: number;
  offeredAt70: number;
  /** Syncs completed per second in each window. */
  achievedAt50: number;
  achievedAt70: number;
  /** Latency from the scheduled send time to the answer (queueing in the client included). */
  p50At50Ms: number;
  p99At50Ms: number;
  p50At70Ms: number;
  p99At70Ms: number;
}

export interface MergeResult {
  accounts: number;
  concurrency: number;
  batch: number;
  poolSize: number;
  /** Syncs that failed (a dropped connection on a loaded machine); the run fails above 1%. */
  failedSyncs: number;
  syncs: number;
  events: number;
  seconds: number;
  /** Closed loop: `concurrency` devices syncing back to back, the merge's capacity. */
  eventsPerSec: number;
  /** Baseline: BEGIN; lock the cursor; INSERT the batch; UPDATE the cursor; COMMIT — prepared, postgres.js. */
  minimalTxEventsPerSec: number;
  /** Baseline: one prepared multi-row INSERT per batch. */
  rawInsertRowsPerSec: number;
  /** The headline: merge ÷ minimal sync transaction, same rows, same lanes, same pool, same run. */
  ratioToMinimalTx: number;
  ratioToRawInsert: number;
  /**
   * The same comparison in CPU rather than wall time, which foreign load disturbs far less: CPU per
   * batch of the minimal transaction (driver + PostgreSQL backends) ÷ CPU per sync of the merge (server
   * + PostgreSQL backends). 1 = the merge costs the machine what the minimal transaction does.
   */
  cpuRatioToMinimalTx: number;
  /** Closed-loop latency (information only: with a closed loop, latency = devices ÷ throughput). */
  closedLoop: { p50Ms: number; p95Ms: number; p99Ms: number };
  openLoop: OpenLoopResult;
  /** Latency with one device syncing at a time (no queueing). */
  singleP50Ms: number;
  singleP99Ms: number;
  /**
   * Where the single-device tail goes: the p50/p99 of one database statement in that window (two per
   * sync), and the server's garbage-collection pauses (longest, and ms per sync).
   */
  singleStatementP50Ms: number;
  singleStatementP99Ms: number;
  singleGcMaxMs: number;
  singleGcMsPerSync: number;
  /** Garbage collection in the closed-loop window, ms per sync. */
  gcMsPerSync: number;
  peakRssMiB: number;
  /** CPU the server process used per second of the closed-loop window (1 = one full core). */
  serverCores: number;
  /** Server CPU per sync, ms. */
  serverCpuMsPerSync: number;
  /** CPU of the bench database's PostgreSQL backends per sync, ms (merge, minimal transaction). */
  postgresCpuMsPerSync: number;
  minimalTxPostgresCpuMsPerSync: number;
  /** Own CPU per sync, ms: the merge's server + backends; the minimal transaction's driver + backends. */
  cpuMsPerSync: number;
  minimalTxCpuMsPerSync: number;
  /** Database statements and round trips per sync (BEGIN and COMMIT count as round trips, not statements). */
  statementsPerSync: number;
  roundTripsPerSync: number;
  /** Mean time a sync holds a pool connection. */
  connectionHoldMs: number;
  /** WAL written per sync, bytes (cluster-wide: other databases' writes in the window count too). */
  walBytesPerSync: number;
  minimalTxWalBytesPerSync: number;
  postgresCores: number;
  minimalTxPostgresCores: number;
  rawInsertPostgresCores: number;
  /** The machine's load in each measured window; `foreignLoad` when any window had other work on it. */
  load: { foreignLoad: boolean; windows: Record<string, WindowLoad> };
  profile: ProfileSummary | null;
}

export interface Device {
  accountId: string;
  deviceId: string;
  licenseId: string;
  token: string;
  seq: number;
  snapshotVersion: number | null;
  busy: boolean;
}

export const SECRET = `bench-secret-${Math.random().toString(36).slice(2)}-0123456789`;

export type SyncBody = { results: { status: string }[]; snapshot: { version: number } };

export function batchFor(d: Device, size: number, now: number): string {
  const events = [];
  for (let i = 0; i < size; i++) {
    const seq = ++d.seq;
    const type = seq === 1 ? 'DownloadCompleted' : seq % 2 === 0 ? 'PlaybackStarted' : 'PlaybackStopped';
    const data: Record<string, unknown> = { licenseId: d.licenseId, deviceId: d.deviceId, at: now };
    if (type !== 'DownloadCompleted') data.positionMs = (seq * 1000) % 7_200_000;
    events.push({
      eventId: uuidv7(),
      seq,
      type,
      v: CURRENT_EVENT_VERSIONS[type],
      occurredAt: now,
      trustedAt: now,
      data,
    });
  }
  return JSON.stringify({
    protocolVersion: 1,
    deviceId: d.deviceId,
    snapshotVersion: d.snapshotVersion,
    events,
  });
}

async function seed(url: string, accounts: number, log: (l: string) => void): Promise<Device[]> {
  const db = postgresDatabase(url, { max: 8 });
  try {
    const server = await createSatchelServer({ db, tokenSecret: SECRET, logger: pino({ level: 'silent' }) });
    await server.service.catalogue.put(demoCatalogue(Date.now()));
    const devices: Device[] = new Array(accounts);
    let next = 0;
    const started = performance.now();
    await lanes(8, async () => {
      const i = next++;
      if (i >= accounts) return false;
      const accountId = `bench-${String(i).padStart(5, '0')}`;
      await server.service.createAccount(accountId, 'Bench household');
      const { deviceId } = await server.service.registerDevice(accountId, { name: 'Bench device' });
      const res = await server.service.requestLicense(accountId, deviceId, { titleId: 'paper-moon' });
      if (res.outcome !== 'granted') throw new Error(`seeding: licence refused (${res.refusal.code})`);
      const { token } = await server.tokens.mint({ kind: 'device', accountId, deviceId });
      devices[i] = {
        accountId,
        deviceId,
        licenseId: res.license.licenseId,
        token,
        seq: 0,
        snapshotVersion: null,
        busy: false,
      };
      return true;
    });
    log(`  seeded ${accounts} accounts in ${round((performance.now() - started) / 1000, 1)} s`);
    return devices;
  } finally {
    await db.close();
  }
}

/**
 * Devices drive POST /v1/sync over HTTP against the real server (own process) on a fresh PostgreSQL
 * database: a closed loop measures capacity, then Poisson arrivals at 50% and 70% of it measure latency.
 * Then the same rows go through two baselines on the same lanes and pool: the minimal sync transaction
 * and a prepared raw INSERT. The machine's load is read in every measured window.
 */
export async function benchMerge(o: MergeOptions): Promise<MergeResult> {
  const db = await freshDatabase('merge');
  const profileDir = o.profile ? mkdtempSync(join(tmpdir(), 'satchel-bench-prof-')) : undefined;
  const windows: Record<string, WindowLoad> = {};
  try {
    const devices = await seed(db.url, o.accounts, o.log);
    const server = await startServerProcess({
      databaseUrl: db.url,
      tokenSecret: SECRET,
      poolSize: o.poolSize,
      cpuProfileDir: profileDir,
    });
    // Open-loop arrivals may overlap more than `concurrency` syncs: enough sockets that the client never
    // queues a request the schedule has sent.
    const client = httpClient(server.baseUrl, 512);
    let cursor = 0;
    let failures = 0;
    let firstFailure = '';
    const idle = (): Device => {
      for (let tries = 0; tries < devices.length; tries++) {
        const candidate = devices[cursor++ % devices.length];
        if (candidate && !candidate.busy) return candidate;
      }
      throw new Error('no idle device: more syncs in flight than accounts');
    };
    /** One sync of a fresh batch; resolves with the number of accepted events (0 on failure). */
    let attempts = 0;
    // A loaded machine drops the odd connection: a run fails on more than 1% failed syncs, else reports them.
    const tooManyFailures = () => failures > Math.max(20, attempts / 100);
    const syncOnce = async (d: Device): Promise<number> => {
      attempts++;
      d.busy = true;
      const body = batchFor(d, o.batch, Date.now());
      const res = await client.post('/v1/sync', d.token, body).finally(() => {
        d.busy = false;
      });
      const r = res.body as SyncBody;
      const accepted = res.status === 200 ? r.results.filter((x) => x.status === 'accepted').length : 0;
      if (res.status !== 200 || accepted !== o.batch) {
        failures++;
        firstFailure ||= `HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`;
        return 0;
      }
      d.snapshotVersion = r.snapshot.version;
      return accepted;
    };
    const closedLoop = async (seconds: number, latencies: number[] | null, concurrency = o.concurrency) => {
      let syncs = 0;
      let events = 0;
      await lanes(
        concurrency,
        async () => {
          const t0 = performance.now();
          const accepted = await syncOnce(idle());
          if (accepted === 0) return !tooManyFailures();
          latencies?.push(performance.now() - t0);
          syncs++;
          events += accepted;
          return true;
        },
        performance.now() + seconds * 1000,
      );
      return { syncs, events };
    };
    /** Poisson arrivals at `rate` syncs/s for `seconds`; latency from each scheduled send time. */
    const openLoop = async (rate: number, seconds: number) => {
      const latencies: number[] = [];
      const inflight = new Set<Promise<void>>();
      const t0 = performance.now();
      const end = t0 + seconds * 1000;
      let next = t0;
      let completed = 0;
      for (;;) {
        next += (-Math.log(1 - Math.random()) / rate) * 1000;
        if (next >= end) break;
        const wait = next - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const scheduled = next;
        const p = syncOnce(idle()).then(
          (accepted) => {
            if (accepted > 0) {
              latencies.push(performance.now() - scheduled);
              completed++;
            }
          },
          (e: unknown) => {
            failures++;
            firstFailure ||= String(e);
          },
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await Promise.all(inflight);
      return { latencies, achieved: completed / ((performance.now() - t0) / 1000) };
    };
    const ownCpu = async () => {
      const [s, pg] = await Promise.all([server.reading(), backendCpuSeconds(db.name)]);
      return { server: s, pg, self: selfCpuSeconds(), wal: await walLsnBytes(db.url) };
    };

    o.log(`  warm-up ${o.warmupSec} s`);
    await closedLoop(o.warmupSec, null);
    if (tooManyFailures()) throw new Error(`sync failed during warm-up: ${firstFailure}`);
    o.log(
      `  closed loop ${o.durationSec} s: ${o.concurrency} devices, ${o.batch} events per sync, ${o.accounts} accounts`,
    );
    const latencies: number[] = [];
    const c0 = await ownCpu();
    const window = measureWindow();
    const t0 = performance.now();
    const measured = await closedLoop(o.durationSec, latencies);
    const seconds = (performance.now() - t0) / 1000;
    const c1 = await ownCpu();
    windows.closedLoop = window(
      (c1.server.cpuUs - c0.server.cpuUs) / 1e6 + (c1.pg - c0.pg) + (c1.self - c0.self),
    );
    const capacity = measured.syncs / seconds;

    const open: { latencies: number[]; achieved: number }[] = [];
    for (const share of [0.5, 0.7]) {
      o.log(
        `  open loop ${o.openLoopSec} s: Poisson arrivals at ${share * 100}% of ${round(capacity, 1)} syncs/s`,
      );
      const w0 = await ownCpu();
      const w = measureWindow();
      open.push(await openLoop(capacity * share, o.openLoopSec));
      const w1 = await ownCpu();
      windows[`openLoop${share * 100}`] = w(
        (w1.server.cpuUs - w0.server.cpuUs) / 1e6 + (w1.pg - w0.pg) + (w1.self - w0.self),
      );
    }
    o.log('  one device at a time, 3 s: latency without queueing');
    const single: number[] = [];
    await server.window();
    const s0 = await server.reading();
    await closedLoop(3, single, 1);
    const s1 = await server.reading();
    const singleWindow = await server.window();
    const singleStatements = summarize(singleWindow.ms);
    client.close();
    const stats = await server.stop();
    if (tooManyFailures()) throw new Error(`${failures} of ${attempts} syncs failed: ${firstFailure}`);
    if (failures > 0) o.log(`  ${failures} of ${attempts} syncs failed (first: ${firstFailure})`);
    const lat = summarize(latencies);
    const one = summarize(single);
    const at50 = summarize(open[0]?.latencies ?? []);
    const at70 = summarize(open[1]?.latencies ?? []);

    const rows = await mergedRows(db.url, o.batch);
    o.log(
      '  baseline: the minimal sync transaction, prepared (BEGIN; lock cursor; INSERT; UPDATE cursor; COMMIT)',
    );
    const minimal = await minimalTxBaseline(db.url, db.name, rows, o);
    windows.minimalTx = minimal.load;
    o.log('  baseline: prepared raw multi-row INSERTs of the same rows');
    const raw = await rawInsertBaseline(db.url, db.name, rows, o);
    windows.rawInsert = raw.load;

    const eventsPerSec = measured.events / seconds;
    const syncs = Math.max(1, measured.syncs);
    const mergeCpuMs = (((c1.server.cpuUs - c0.server.cpuUs) / 1e6 + (c1.pg - c0.pg)) * 1e3) / syncs;
    return {
      accounts: o.accounts,
      concurrency: o.concurrency,
      batch: o.batch,
      poolSize: o.poolSize,
      failedSyncs: failures,
      syncs: measured.syncs,
      events: measured.events,
      seconds: round(seconds, 2),
      eventsPerSec: round(eventsPerSec, 0),
      minimalTxEventsPerSec: round(minimal.rowsPerSec, 0),
      rawInsertRowsPerSec: round(raw.rowsPerSec, 0),
      ratioToMinimalTx: round(eventsPerSec / minimal.rowsPerSec, 3),
      ratioToRawInsert: round(eventsPerSec / raw.rowsPerSec, 3),
      closedLoop: { p50Ms: round(lat.p50, 1), p95Ms: round(lat.p95, 1), p99Ms: round(lat.p99, 1) },
      openLoop: {
        capacitySyncsPerSec: round(capacity, 1),
        offeredAt50: round(capacity * 0.5, 1),
        offeredAt70: round(capacity * 0.7, 1),
        achievedAt50: round(open[0]?.achieved ?? 0, 1),
        achievedAt70: round(open[1]?.achieved ?? 0, 1),
        p50At50Ms: round(at50.p50, 1),
        p99At50Ms: round(at50.p99, 1),
        p50At70Ms: round(at70.p50, 1),
        p99At70Ms: round(at70.p99, 1),
      },
      singleP50Ms: round(one.p50, 1),
      singleP99Ms: round(one.p99, 1),
      singleStatementP50Ms: round(singleStatements.p50, 2),
      singleStatementP99Ms: round(singleStatements.p99, 2),
      singleGcMaxMs: round(singleWindow.gcMaxMs, 1),
      singleGcMsPerSync: round((s1.gcMs - s0.gcMs) / Math.max(1, single.length), 2),
      gcMsPerSync: round((c1.server.gcMs - c0.server.gcMs) / syncs, 3),
      peakRssMiB: round(stats.maxRssBytes / 2 ** 20, 0),
      serverCores: round((c1.server.cpuUs - c0.server.cpuUs) / 1e6 / seconds, 2),
      serverCpuMsPerSync: round((c1.server.cpuUs - c0.server.cpuUs) / 1e3 / syncs, 2),
      postgresCpuMsPerSync: round(((c1.pg - c0.pg) * 1e3) / syncs, 2),
      minimalTxPostgresCpuMsPerSync: minimal.postgresCpuMsPerBatch,
      cpuMsPerSync: round(mergeCpuMs, 2),
      minimalTxCpuMsPerSync: minimal.cpuMsPerBatch,
      cpuRatioToMinimalTx: round(minimal.cpuMsPerBatch / mergeCpuMs, 3),
      statementsPerSync: round((c1.server.statements - c0.server.statements) / syncs, 2),
      roundTripsPerSync: round((c1.server.roundTrips - c0.server.roundTrips) / syncs, 2),
      connectionHoldMs: round((c1.server.connectionMs - c0.server.connectionMs) / syncs, 1),
      walBytesPerSync: round((c1.wal - c0.wal) / syncs, 0),
      minimalTxWalBytesPerSync: minimal.walBytesPerBatch,
      postgresCores: round((c1.pg - c0.pg) / seconds, 2),
      minimalTxPostgresCores: minimal.postgresCores,
      rawInsertPostgresCores: raw.postgresCores,
      load: {
        foreignLoad: Object.values(windows).some((w) => w.foreignCores > FOREIGN_LOAD_CORES),
        windows,
      },
      profile: profileDir
        ? summarizeProfile(profileDir, { fromUs: c0.server.monotonicUs, toUs: c1.server.monotonicUs })
        : null,
    };
  } finally {
    await db.drop();
    if (profileDir && !process.env.BENCH_KEEP_PROFILE) rmSync(profileDir, { recursive: true, force: true });
  }
}

type Row = [string, string, string, string, number, string, string];

/** The device events the merge appended, in batches as they were synced (one account per batch). */
async function mergedRows(url: string, batch: number): Promise<Row[][]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql.unsafe<{ r: Row }[]>(
      `SELECT json_build_array(account_id, stream_version::text, event_id::text, type, schema_version,
                data::text, metadata::text) AS r
         FROM events WHERE metadata ? 'seq' ORDER BY account_id, stream_version`,
    );
    const batches: Row[][] = [];
    let current: Row[] = [];
    for (const { r } of rows) {
      if (current.length === batch || (current.length > 0 && current[0]?.[0] !== r[0])) {
        batches.push(current);
        current = [];
      }
      current.push(r);
    }
    if (current.length > 0) batches.push(current);
    return batches;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function walLsnBytes(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ b: string }[]>`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b`;
    return Number(rows[0]?.b ?? 0);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

const insertText = (table: string, n: number) =>
  `INSERT INTO ${table} (account_id, stream_version, event_id, type, schema_version, data, metadata) VALUES ${Array.from(
    { length: n },
    (_, i) =>
      `($${i * 7 + 1}, $${i * 7 + 2}, $${i * 7 + 3}::uuid, $${i * 7 + 4}, $${i * 7 + 5}, $${i * 7 + 6}::text::jsonb, $${i * 7 + 7}::text::jsonb)`,
  ).join(', ')}`;

interface BaselineResult {
  rows: number;
  seconds: number;
  rowsPerSec: number;
  postgresCores: number;
  postgresCpuMsPerBatch: number;
  /** Driver (this process) + backends, per batch. */
  cpuMsPerBatch: number;
  walBytesPerBatch: number;
  load: WindowLoad;
}

/** Runs `work` on every batch over `o.concurrency` lanes and a pool of `o.poolSize`, measuring it. */
async function baseline(
  url: string,
  name: string,
  batches: Row[][],
  o: MergeOptions,
  setup: (sql: postgres.Sql) => Promise<void>,
  work: (sql: postgres.Sql, batch: Row[]) => Promise<void>,
): Promise<BaselineResult> {
  const sql = postgres(url, { max: o.poolSize, onnotice: () => {} });
  try {
    await setup(sql);
    // Open every pool connection before the clock starts.
    await Promise.all(Array.from({ length: o.poolSize }, () => sql`SELECT pg_sleep(0.01)`));
    let next = 0;
    let inserted = 0;
    const wal0 = await walLsnBytes(url);
    const pg0 = await backendCpuSeconds(name);
    const self0 = selfCpuSeconds();
    const window = measureWindow();
    const t0 = performance.now();
    await lanes(o.concurrency, async () => {
      const b = batches[next++];
      if (!b) return false;
      await work(sql, b);
      inserted += b.length;
      return true;
    });
    const seconds = (performance.now() - t0) / 1000;
    const pg1 = await backendCpuSeconds(name);
    const load = window(pg1 - pg0 + (selfCpuSeconds() - self0));
    const wal1 = await walLsnBytes(url);
    const n = Math.max(1, next - 1);
    return {
      rows: inserted,
      seconds,
      rowsPerSec: inserted / seconds,
      postgresCores: round((pg1 - pg0) / seconds, 2),
      postgresCpuMsPerBatch: round(((pg1 - pg0) * 1e3) / n, 2),
      cpuMsPerBatch: round(((pg1 - pg0 + (selfCpuSeconds() - self0)) * 1e3) / n, 2),
      walBytesPerBatch: round((wal1 - wal0) / n, 0),
      load,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * What PostgreSQL can do for a sync of these rows with the least a correct server must do: BEGIN; lock
 * the device's cursor; INSERT the batch; move the cursor; COMMIT. Every statement prepared, postgres.js.
 */
function minimalTxBaseline(url: string, name: string, batches: Row[][], o: MergeOptions) {
  const texts = new Map<number, string>();
  return baseline(
    url,
    name,
    batches,
    o,
    async (sql) => {
      await sql.unsafe('CREATE TABLE bench_min_events (LIKE events INCLUDING ALL)');
      await sql.unsafe('CREATE TABLE bench_min_cursors (LIKE device_cursors INCLUDING ALL)');
      await sql.unsafe(
        `INSERT INTO bench_min_cursors (account_id, device_id, last_seq)
         SELECT DISTINCT account_id, metadata->>'deviceId', 0 FROM events WHERE metadata ? 'seq'`,
      );
    },
    async (sql, b) => {
      const first = b[0];
      if (!first) return;
      const deviceId = (JSON.parse(first[6]) as { deviceId: string }).deviceId;
      const lastSeq = (JSON.parse(b.at(-1)?.[6] ?? '{}') as { seq: number }).seq;
      const text = texts.get(b.length) ?? insertText('bench_min_events', b.length);
      texts.set(b.length, text);
      await sql.begin(async (tx) => {
        await tx.unsafe(
          'SELECT last_seq FROM bench_min_cursors WHERE account_id = $1 AND device_id = $2 FOR UPDATE',
          [first[0], deviceId],
          { prepare: true },
        );
        await tx.unsafe(text, b.flat(), { prepare: true });
        await tx.unsafe(
          'UPDATE bench_min_cursors SET last_seq = $3, last_sync_at = now() WHERE account_id = $1 AND device_id = $2',
          [first[0], deviceId, lastSeq],
          { prepare: true },
        );
      });
    },
  );
}

/**
 * The rows alone: the device events the merge appended, inserted again into a scratch table with the same
 * columns and indexes, one prepared multi-row INSERT per batch (one statement, one transaction each).
 */
function rawInsertBaseline(url: string, name: string, batches: Row[][], o: MergeOptions) {
  const texts = new Map<number, string>();
  return baseline(
    url,
    name,
    batches,
    o,
    async (sql) => {
      await sql.unsafe('CREATE TABLE bench_baseline_events (LIKE events INCLUDING ALL)');
    },
    async (sql, b) => {
      const text = texts.get(b.length) ?? insertText('bench_baseline_events', b.length);
      texts.set(b.length, text);
      await sql.unsafe(text, b.flat(), { prepare: true });
    },
  );
}
