// PostgreSQL restarted under sync load: a scratch cluster of the test's own (never the shared one on 5432)
// is crashed (`pg_ctl stop -m immediate`) and started again while devices push batches to the reference
// server. While the database is gone the server says it is not ready (/readyz 503) and answers syncs with
// a retryable 503; it reconnects by itself when the database is back, and nothing acknowledged is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCounters } from './lib/counters.js';
import { ProtocolDevice, verifyStore } from './lib/devices.js';
import { freePort, openDb, ScratchCluster } from './lib/pg.js';
import { FAULTS_SECRET, seedDevices } from './lib/seed.js';
import { buildSyncServer, ServerProcess, sleep } from './lib/server-process.js';
import { Traffic } from './lib/traffic.js';

async function readyz(url: string): Promise<number> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

describe('PostgreSQL restarted under load', () => {
  let cluster: ScratchCluster;
  let server: ServerProcess;
  let url: string;

  beforeAll(async () => {
    cluster = await ScratchCluster.create();
    const admin = openDb(cluster.url, 1);
    await admin.query('CREATE DATABASE satchel');
    await admin.close();
    url = cluster.url.replace(/\/postgres$/, '/satchel');
    server = new ServerProcess({
      bundle: await buildSyncServer(),
      port: await freePort(),
      env: { DATABASE_URL: url, SATCHEL_TOKEN_SECRET: FAULTS_SECRET, SATCHEL_DEMO_ACCOUNT: 'faults-demo' },
    });
  }, 120_000);

  afterAll(async () => {
    await server?.kill('SIGTERM');
    cluster?.destroy();
  });

  it('reports not-ready while the database is down, recovers by itself and loses nothing', async () => {
    const seedDb = openDb(url);
    const seeded = await seedDevices(seedDb, 2, 3, 'pgrestart');
    await seedDb.close();
    await server.start();
    const starts = server.starts;
    const devices = seeded.map((s) => new ProtocolDevice(s.accountId, s.deviceId, s.token, () => server.url));
    const traffic = new Traffic(devices);
    traffic.start();

    const restarts = 3;
    const outages: Array<{ notReady: boolean; recoveredMs: number }> = [];
    let stuck: ProtocolDevice[] = [];
    try {
      for (let i = 0; i < restarts; i++) {
        await sleep(1_000 + Math.random() * 1_000);
        cluster.stop('immediate');
        const notReady = await waitFor(async () => (await readyz(server.url)) === 503, 45_000);
        await sleep(500 + Math.random() * 1_500);
        const before = traffic.stats().byStatus;
        cluster.start();
        const back = Date.now();
        const recovered = await waitFor(async () => (await readyz(server.url)) === 200, 30_000);
        outages.push({ notReady, recoveredMs: recovered ? Date.now() - back : -1 });
        if ((before[500] ?? 0) > 0)
          console.error(
            server.output
              .filter((l) => l.includes('unhandled'))
              .slice(-3)
              .join('\n'),
          );
        expect(before[500] ?? 0, 'a sync while the database is down is a retryable 503, not a 500').toBe(0);
      }
      stuck = await traffic.drain(60_000);
    } finally {
      await server.kill('SIGTERM');
    }
    const db = openDb(url);
    try {
      const verdict = await verifyStore(db, devices);
      const stats = traffic.stats();
      addCounters({
        pgRestarts: restarts,
        acked: verdict.acked,
        lost: verdict.lost,
        duplicated: verdict.duplicated,
        '5xx': stats.byStatus[500] ?? 0,
      });
      console.info(
        `pg restart: ${JSON.stringify(outages)}, ${verdict.acked} acked, statuses ${JSON.stringify(stats.byStatus)}, network ${stats.network}`,
      );
      expect(server.starts, 'the server process was never restarted').toBe(starts);
      expect(outages.every((o) => o.notReady)).toBe(true);
      expect(outages.every((o) => o.recoveredMs >= 0)).toBe(true);
      expect(stats.byStatus[503] ?? 0).toBeGreaterThan(0);
      expect(verdict.problems).toEqual([]);
      expect(verdict.lost).toBe(0);
      expect(verdict.duplicated).toBe(0);
      expect(stuck.map((d) => d.deviceId)).toEqual([]);
      expect(verdict.acked).toBeGreaterThan(100);
    } finally {
      await db.close();
    }
  }, 300_000);
});
