// The reference server (apps/sync-server) as a child process, killed with SIGKILL at random instants under
// heavy sync traffic (half of the kills land between the database commit and the HTTP answer, through the
// SATCHEL_TEST_HOOKS hook), restarted, and the devices retry: nothing acknowledged is lost, nothing is
// applied twice, no device is left stuck. Once on PostgreSQL, once on the embedded PGlite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, pgliteDatabase } from '@satchel/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCounters } from './lib/counters.js';
import { ProtocolDevice, verifyStore } from './lib/devices.js';
import { freePort, freshDatabase, openDb } from './lib/pg.js';
import { FAULTS_SECRET, seedDevices } from './lib/seed.js';
import { buildSyncServer, ServerProcess, sleep } from './lib/server-process.js';
import { Traffic } from './lib/traffic.js';

let bundle: string;
beforeAll(async () => {
  bundle = await buildSyncServer();
}, 60_000);

async function killLoop(server: ServerProcess, kills: number) {
  let afterCommit = 0;
  for (let k = 0; k < kills; k++) {
    await sleep(300 + Math.random() * 900);
    if (k % 2 === 0) {
      // Kill while the server holds an answer whose transaction already committed.
      if ((await server.nextHook(5_000)) !== null) afterCommit++;
    }
    await server.kill('SIGKILL');
    await sleep(Math.random() * 400);
    await server.start();
  }
  return afterCommit;
}

const hooks = {
  SATCHEL_TEST_HOOKS: '1',
  SATCHEL_TEST_COMMIT_DELAY_MS: '300',
  SATCHEL_TEST_COMMIT_DELAY_RATE: '0.2',
  SATCHEL_TOKEN_SECRET: FAULTS_SECRET,
  SATCHEL_DEMO_ACCOUNT: 'faults-demo',
};

async function scenario(options: {
  kills: number;
  open: () => Promise<Database>;
  env: Record<string, string>;
}) {
  const seedDb = await options.open();
  const seeded = await seedDevices(seedDb, 3, 3, 'crash');
  await seedDb.close();

  const server = new ServerProcess({ bundle, port: await freePort(), env: { ...hooks, ...options.env } });
  await server.start();
  const devices = seeded.map((s) => new ProtocolDevice(s.accountId, s.deviceId, s.token, () => server.url));
  const traffic = new Traffic(devices);
  traffic.start();
  let stuck: ProtocolDevice[] = [];
  let afterCommit = 0;
  try {
    afterCommit = await killLoop(server, options.kills);
    stuck = await traffic.drain(60_000);
  } finally {
    await server.kill('SIGTERM');
  }
  const db = await options.open();
  try {
    const verdict = await verifyStore(db, devices);
    const stats = traffic.stats();
    const internal = Object.entries(stats.byStatus)
      .filter(([s]) => Number(s) === 500)
      .reduce((a, [, n]) => a + n, 0);
    addCounters({
      kills: options.kills,
      acked: verdict.acked,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      '5xx': internal,
    });
    console.info(
      `crash: ${options.kills} kills (${afterCommit} after commit), ${verdict.acked} events acked, ` +
        `${stats.requests} requests, statuses ${JSON.stringify(stats.byStatus)}, network errors ${stats.network}`,
    );
    expect(afterCommit).toBeGreaterThan(0);
    expect(verdict.problems).toEqual([]);
    expect(verdict.lost).toBe(0);
    expect(verdict.duplicated).toBe(0);
    expect(stuck.map((d) => d.deviceId)).toEqual([]);
    expect(stats.seqGaps).toBe(0);
    expect(internal).toBe(0);
    expect(verdict.acked).toBeGreaterThan(100);
  } finally {
    await db.close();
  }
}

describe('SIGKILL under sync traffic', () => {
  let pg: Awaited<ReturnType<typeof freshDatabase>>;
  let dataDir: string;
  beforeAll(async () => {
    pg = await freshDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'satchel-faults-pglite-'));
  });
  afterAll(async () => {
    await pg?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('on PostgreSQL: every acknowledged event is stored exactly once and every device drains', async () => {
    await scenario({ kills: 10, open: async () => openDb(pg.url), env: { DATABASE_URL: pg.url } });
  }, 240_000);

  it('on embedded PGlite: the same after kills of the process that owns the data directory', async () => {
    await scenario({
      kills: 3,
      open: () => pgliteDatabase(dataDir),
      env: { SATCHEL_DATA_DIR: dataDir, DATABASE_URL: '' },
    });
  }, 240_000);
});
