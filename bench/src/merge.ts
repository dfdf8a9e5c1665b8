import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import { createSatchelServer, demoCatalogue, postgresDatabase } from '@satchel/server';
import { pino } from 'pino';
import postgres from 'postgres';
import { uuidv7 } from 'uuidv7';
import { httpClient } from './http.js';
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
  /** Pool size of the server and of the baseline (same for both). */
  poolSize: number;
  profile: boolean;
  log: (line: string) => void;
}

export interface MergeResult {
  accounts: number;
  concurrency: number;
  batch: number;
  poolSize: number;
  syncs: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  baselineRows: number;
  baselineSeconds: number;
  baselineRowsPerSec: number;
  ratio: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Latency with one device syncing at a time (no queueing for connections). */
  singleP50Ms: number;
  singleP99Ms: number;
  peakRssMiB: number;
  /** CPU the server process used per second of the measured window (1 = one full core). */
  serverCores: number;
  /** Database statements per sync (BEGIN and COMMIT excluded). */
  statementsPerSync: number;
  /** Mean time a sync holds a pool connection (BEGIN to COMMIT answered). */
  connectionHoldMs: number;
  /** Share of the pool's connection-time held by sync transactions (1 = every connection always busy). */
  poolBusy: number;
  /** CPU the PostgreSQL backends of the benchmark database used per second of the window. */
  postgresCores: number;
  baselinePostgresCores: number;
  profile: ProfileSummary | null;
}

interface Device {
  accountId: string;
  deviceId: string;
  licenseId: string;
  token: string;
  seq: number;
  snapshotVersion: number | null;
  busy: boolean;
}

const SECRET = `bench-secret-${Math.random().toString(36).slice(2)}-0123456789`;

type SyncBody = { results: { status: string }[]; snapshot: { version: number } };

function batchFor(d: Device, size: number, now: number): string {
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
 * database; then the same rows are inserted raw (batched, same concurrency and pool) as the baseline.
 */
export async function benchMerge(o: MergeOptions): Promise<MergeResult> {
  const db = await freshDatabase('merge');
  const profileDir = o.profile ? mkdtempSync(join(tmpdir(), 'satchel-bench-prof-')) : undefined;
  try {
    const devices = await seed(db.url, o.accounts, o.log);
    const server = await startServerProcess({
      databaseUrl: db.url,
      tokenSecret: SECRET,
      poolSize: o.poolSize,
      cpuProfileDir: profileDir,
    });
    const client = httpClient(server.baseUrl, o.concurrency);
    let cursor = 0;
    let failures = 0;
    let firstFailure = '';
    const run = async (seconds: number, latencies: number[] | null, concurrency = o.concurrency) => {
      let syncs = 0;
      let events = 0;
      const deadline = performance.now() + seconds * 1000;
      await lanes(
        concurrency,
        async () => {
          let d: Device | undefined;
          for (let tries = 0; tries < devices.length; tries++) {
            const candidate = devices[cursor++ % devices.length];
            if (candidate && !candidate.busy) {
              d = candidate;
              break;
            }
          }
          if (!d) throw new Error('no idle device: more lanes than accounts');
          d.busy = true;
          const body = batchFor(d, o.batch, Date.now());
          const t0 = performance.now();
          const res = await client.post('/v1/sync', d.token, body);
          const ms = performance.now() - t0;
          d.busy = false;
          const r = res.body as SyncBody;
          const accepted = res.status === 200 ? r.results.filter((x) => x.status === 'accepted').length : 0;
          if (res.status !== 200 || accepted !== o.batch) {
            failures++;
            firstFailure ||= `HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`;
            return failures < 20;
          }
          d.snapshotVersion = r.snapshot.version;
          syncs++;
          events += accepted;
          latencies?.push(ms);
          return true;
        },
        deadline,
      );
      return { syncs, events };
    };

    o.log(`  warm-up ${o.warmupSec} s`);
    await run(o.warmupSec, null);
    if (failures > 0) throw new Error(`sync failed during warm-up: ${firstFailure}`);
    o.log(
      `  measuring ${o.durationSec} s: ${o.concurrency} devices, ${o.batch} events per sync, ${o.accounts} accounts`,
    );
    const latencies: number[] = [];
    const s0 = await server.reading();
    const pg0 = await backendCpuSeconds(db.name);
    const t0 = performance.now();
    const measured = await run(o.durationSec, latencies);
    const seconds = (performance.now() - t0) / 1000;
    const pg1 = await backendCpuSeconds(db.name);
    const s1 = await server.reading();
    o.log('  one device at a time, 3 s: latency without queueing');
    const single: number[] = [];
    await run(3, single, 1);
    client.close();
    const stats = await server.stop();
    if (failures > 0) throw new Error(`sync failed: ${firstFailure}`);
    const lat = summarize(latencies);
    const one = summarize(single);

    o.log('  baseline: raw batched INSERTs of the same rows');
    const baseline = await rawInsertBaseline(db.url, db.name, o);

    const eventsPerSec = measured.events / seconds;
    return {
      accounts: o.accounts,
      concurrency: o.concurrency,
      batch: o.batch,
      poolSize: o.poolSize,
      syncs: measured.syncs,
      events: measured.events,
      seconds: round(seconds, 2),
      eventsPerSec: round(eventsPerSec, 0),
      baselineRows: baseline.rows,
      baselineSeconds: round(baseline.seconds, 2),
      baselineRowsPerSec: round(baseline.rowsPerSec, 0),
      ratio: round(eventsPerSec / baseline.rowsPerSec, 3),
      p50Ms: round(lat.p50, 1),
      p95Ms: round(lat.p95, 1),
      p99Ms: round(lat.p99, 1),
      singleP50Ms: round(one.p50, 1),
      singleP99Ms: round(one.p99, 1),
      peakRssMiB: round(stats.maxRssBytes / 2 ** 20, 0),
      serverCores: round((s1.cpuUs - s0.cpuUs) / 1e6 / seconds, 2),
      statementsPerSync: round(
        (s1.statements - s0.statements) / Math.max(1, s1.transactions - s0.transactions),
        1,
      ),
      connectionHoldMs: round(
        (s1.transactionMs - s0.transactionMs) / Math.max(1, s1.transactions - s0.transactions),
        1,
      ),
      poolBusy: round((s1.transactionMs - s0.transactionMs) / (seconds * 1000 * o.poolSize), 2),
      postgresCores: round((pg1 - pg0) / seconds, 2),
      baselinePostgresCores: baseline.postgresCores,
      profile: profileDir
        ? summarizeProfile(profileDir, { fromUs: s0.monotonicUs, toUs: s1.monotonicUs })
        : null,
    };
  } finally {
    await db.drop();
    if (profileDir && !process.env.BENCH_KEEP_PROFILE) rmSync(profileDir, { recursive: true, force: true });
  }
}

type Row = [string, string, string, string, number, string, string];

/**
 * The PostgreSQL limit for these rows: the device events the merge appended, inserted again into a
 * scratch table with the same columns and indexes, in batches of the same size (one statement, one
 * transaction each), on the same number of lanes and the same pool size.
 */
async function rawInsertBaseline(
  url: string,
  name: string,
  o: MergeOptions,
): Promise<{ rows: number; seconds: number; rowsPerSec: number; postgresCores: number }> {
  const sql = postgres(url, { max: o.poolSize, onnotice: () => {} });
  try {
    await sql.unsafe('CREATE TABLE bench_baseline_events (LIKE events INCLUDING ALL)');
    const rows = await sql.unsafe<{ r: Row }[]>(
      `SELECT json_build_array(account_id, stream_version::text, event_id::text, type, schema_version,
                data::text, metadata::text) AS r
         FROM events WHERE metadata ? 'seq' ORDER BY account_id, stream_version`,
    );
    const batches: Row[][] = [];
    let current: Row[] = [];
    for (const { r } of rows) {
      if (current.length === o.batch || (current.length > 0 && current[0]?.[0] !== r[0])) {
        batches.push(current);
        current = [];
      }
      current.push(r);
    }
    if (current.length > 0) batches.push(current);
    const statement = (n: number) =>
      `INSERT INTO bench_baseline_events (account_id, stream_version, event_id, type, schema_version, data, metadata) VALUES ${Array.from(
        { length: n },
        (_, i) =>
          `($${i * 7 + 1}, $${i * 7 + 2}, $${i * 7 + 3}::uuid, $${i * 7 + 4}, $${i * 7 + 5}, $${i * 7 + 6}::text::jsonb, $${i * 7 + 7}::text::jsonb)`,
      ).join(', ')}`;
    const texts = new Map<number, string>();
    let next = 0;
    let inserted = 0;
    await sql`SELECT 1`;
    const pg0 = await backendCpuSeconds(name);
    const t0 = performance.now();
    await lanes(o.concurrency, async () => {
      const b = batches[next++];
      if (!b) return false;
      const text = texts.get(b.length) ?? statement(b.length);
      texts.set(b.length, text);
      await sql.unsafe(text, b.flat());
      inserted += b.length;
      return true;
    });
    const seconds = (performance.now() - t0) / 1000;
    const pg1 = await backendCpuSeconds(name);
    return {
      rows: inserted,
      seconds,
      rowsPerSec: inserted / seconds,
      postgresCores: round((pg1 - pg0) / seconds, 2),
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
