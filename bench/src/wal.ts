/**
 * `pnpm bench:wal`: WAL written per sync by the merge, with `wal_compression` off and on (lz4, else
 * pglz), right after a checkpoint (every page first touched logs a full-page image) and once warm. The
 * syncs run in-process through the service (no HTTP): 50-event batches over 200 accounts, as `pnpm bench`.
 * WAL is attributed to the benchmark's database with `pg_walinspect` (records whose blocks belong to it,
 * full-page images included; commit records, which name no block, are left out), so other databases'
 * writes on a shared cluster do not count.
 */
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import { createSatchelServer, demoCatalogue, postgresDatabase } from '@satchel/server';
import { pino } from 'pino';
import postgres from 'postgres';
import { uuidv7 } from 'uuidv7';
import { measureWindow } from './machine-load.js';
import { dropAll, freshDatabase } from './pg.js';
import { round } from './stats.js';

const ACCOUNTS = 200;
const BATCH = 50;
const ROUNDS = 2;

async function lsn(sql: postgres.Sql): Promise<string> {
  const rows = await sql<{ l: string }[]>`SELECT pg_current_wal_lsn()::text AS l`;
  return rows[0]?.l ?? '0/0';
}

/** WAL bytes (and the full-page-image part) of the records that touch database `oid` between two LSNs. */
async function walOf(
  sql: postgres.Sql,
  oid: number,
  from: string,
  to: string,
): Promise<{ bytes: number; fpi: number }> {
  const rows = await sql<{ bytes: string; fpi: string }[]>`
    SELECT coalesce(sum(record_length), 0)::text AS bytes, coalesce(sum(fpi_length), 0)::text AS fpi
    FROM pg_get_wal_records_info(${from}::pg_lsn, ${to}::pg_lsn)
    WHERE block_ref LIKE ${`%/${oid}/%`}`;
  return { bytes: Number(rows[0]?.bytes ?? 0), fpi: Number(rows[0]?.fpi ?? 0) };
}

interface WalPoint {
  setting: string;
  /** Bytes per sync in the round right after a CHECKPOINT, and the full-page-image part of them. */
  afterCheckpoint: number;
  afterCheckpointFpi: number;
  /** Bytes per sync over the rounds after it. */
  warm: number;
  warmFpi: number;
}

async function run(setting: string): Promise<WalPoint> {
  const db = await freshDatabase('wal');
  const admin = postgres(db.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`ALTER DATABASE ${db.name} SET wal_compression = '${setting}'`);
  await admin.unsafe('CREATE EXTENSION IF NOT EXISTS pg_walinspect');
  const oidRows = await admin<
    { oid: string }[]
  >`SELECT oid::text FROM pg_database WHERE datname = ${db.name}`;
  const oid = Number(oidRows[0]?.oid);
  const pool = postgresDatabase(db.url, { max: 4 });
  try {
    const server = await createSatchelServer({
      db: pool,
      tokenSecret: 'wal-bench-secret-0123456789abcdef',
      logger: pino({ level: 'silent' }),
    });
    await server.service.catalogue.put(demoCatalogue(Date.now()));
    const devices: { accountId: string; deviceId: string; licenseId: string; seq: number }[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const accountId = `wal-${i}`;
      await server.service.createAccount(accountId, 'WAL household');
      const { deviceId } = await server.service.registerDevice(accountId, { name: 'WAL device' });
      const res = await server.service.requestLicense(accountId, deviceId, { titleId: 'paper-moon' });
      if (res.outcome !== 'granted') throw new Error('seeding: licence refused');
      devices.push({ accountId, deviceId, licenseId: res.license.licenseId, seq: 0 });
    }
    const round_ = async () => {
      const w0 = await lsn(admin);
      for (const d of devices) {
        const now = Date.now();
        const events = Array.from({ length: BATCH }, () => {
          const seq = ++d.seq;
          const type =
            seq === 1 ? 'DownloadCompleted' : seq % 2 === 0 ? 'PlaybackStarted' : 'PlaybackStopped';
          const data: Record<string, unknown> = { licenseId: d.licenseId, deviceId: d.deviceId, at: now };
          if (type !== 'DownloadCompleted') data.positionMs = (seq * 1000) % 7_200_000;
          return {
            eventId: uuidv7(),
            seq,
            type,
            v: CURRENT_EVENT_VERSIONS[type],
            occurredAt: now,
            trustedAt: now,
            data,
          };
        });
        await server.service.sync(d.accountId, d.deviceId, {
          protocolVersion: 1,
          deviceId: d.deviceId,
          snapshotVersion: null,
          events: events as never,
        });
      }
      return walOf(admin, oid, w0, await lsn(admin));
    };
    await round_();
    await admin`CHECKPOINT`;
    const cold = await round_();
    const warm = { bytes: 0, fpi: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      const w = await round_();
      warm.bytes += w.bytes;
      warm.fpi += w.fpi;
    }
    return {
      setting,
      afterCheckpoint: round(cold.bytes / ACCOUNTS, 0),
      afterCheckpointFpi: round(cold.fpi / ACCOUNTS, 0),
      warm: round(warm.bytes / (ROUNDS * ACCOUNTS), 0),
      warmFpi: round(warm.fpi / (ROUNDS * ACCOUNTS), 0),
    };
  } finally {
    await pool.close();
    await admin.end({ timeout: 2 });
    await db.drop();
  }
}

const window = measureWindow();
const results: WalPoint[] = [];
try {
  for (const setting of ['off', 'lz4', 'pglz']) {
    try {
      results.push(await run(setting));
    } catch (e) {
      console.error(`wal_compression = ${setting}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
} finally {
  await dropAll();
}
const load = window(0);
console.log(
  `WAL per 50-event sync (bytes), ${ACCOUNTS} accounts; machine: ${load.machineCores} cores busy, loadavg ${load.loadavg.join(' ')}`,
);
console.log('wal_compression  after a checkpoint (of it FPI)  warm (of it FPI)');
for (const r of results)
  console.log(
    `${r.setting.padEnd(15)}  ${`${r.afterCheckpoint} (${r.afterCheckpointFpi})`.padStart(28)}  ${`${r.warm} (${r.warmFpi})`.padStart(15)}`,
  );
console.log(JSON.stringify({ walPerSync: results, load }));
