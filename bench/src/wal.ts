/**
 * `pnpm bench:wal`: WAL written per sync by the merge, with `wal_compression` off and on (lz4, else
 * pglz), right after a checkpoint (every page first touched logs a full-page image) and once warm. The
 * syncs run in-process through the service (no HTTP): 50-event batches over 200 accounts, as `pnpm bench`.
 * WAL is read cluster-wide (`pg_current_wal_lsn`): other databases' writes in the window count too.
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
const ROUNDS = 3;

async function walBytes(sql: postgres.Sql): Promise<number> {
  const rows = await sql<{ b: string }[]>`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b`;
  return Number(rows[0]?.b ?? 0);
}

async function run(setting: string): Promise<{ setting: string; afterCheckpoint: number; warm: number }> {
  const db = await freshDatabase('wal');
  const admin = postgres(db.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`ALTER DATABASE ${db.name} SET wal_compression = '${setting}'`);
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
      const w0 = await walBytes(admin);
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
      return (await walBytes(admin)) - w0;
    };
    await round_();
    await admin`CHECKPOINT`;
    const afterCheckpoint = await round_();
    let warm = 0;
    for (let r = 0; r < ROUNDS; r++) warm += await round_();
    return {
      setting,
      afterCheckpoint: round(afterCheckpoint / ACCOUNTS, 0),
      warm: round(warm / (ROUNDS * ACCOUNTS), 0),
    };
  } finally {
    await pool.close();
    await admin.end({ timeout: 2 });
    await db.drop();
  }
}

const window = measureWindow();
const results = [];
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
console.log('wal_compression  after a checkpoint  warm');
for (const r of results)
  console.log(
    `${r.setting.padEnd(15)}  ${String(r.afterCheckpoint).padStart(18)}  ${String(r.warm).padStart(4)}`,
  );
console.log(JSON.stringify({ walPerSync: results, load }));
