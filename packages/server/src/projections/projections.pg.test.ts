import { HOUR_MS, policy } from '@satchel/core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { createSatchelServer, type SatchelServer } from '../server.js';
import { type FreshDatabase, freshPostgresDatabase, requirePostgres } from '../testing/databases.js';
import { seedHistory } from '../testing/history.js';
import { feedUpTo, readStudio, recomputeStudio } from '../testing/studio-reference.js';
import { ProjectionRunner } from './runner.js';
import { STUDIO_ACCOUNTING, studioAccounting, studioReport, studioReportCsv } from './studio-accounting.js';

const T0 = Date.UTC(2026, 0, 20, 12);
const TITLES = ['night-train', 'harbour-lights', 'quiet-river'];
const run = await requirePostgres('projections.pg.test.ts');

let fresh: FreshDatabase;
let db: Database;
let server: SatchelServer;
const clock = { now: T0 };

async function liveGeneration(q: Database): Promise<{ generation: number; position: number }> {
  const rows = await q.query<{ generation: number; position: string }>(
    `SELECT generation, position FROM projection_checkpoints WHERE projection = $1 AND status = 'live'`,
    [STUDIO_ACCOUNTING],
  );
  return { generation: Number(rows[0]?.generation), position: Number(rows[0]?.position) };
}

async function expectEqualsRecompute(q: Database) {
  const { generation, position } = await liveGeneration(q);
  const events = await feedUpTo(server.service.accounts.store, q, position);
  expect(await readStudio(q, generation)).toEqual(recomputeStudio(events));
}

describe.skipIf(!run)('projection runner and studio accounting (PostgreSQL)', () => {
  beforeAll(async () => {
    fresh = await freshPostgresDatabase();
    db = fresh.open();
    server = await createSatchelServer({
      db,
      tokenSecret: 'test-secret-0123456789abcdef',
      logger: pino({ level: 'silent' }),
      now: () => clock.now,
    });
    await server.service.catalogue.put([
      { titleId: 'night-train', name: 'Night Train', studio: 'Northlight', policy: policy() },
      {
        titleId: 'harbour-lights',
        name: 'Harbour Lights',
        studio: 'Harbour',
        policy: policy({ maxDownloadsPerYear: 2, maxRenewals: 1 }),
      },
      { titleId: 'quiet-river', name: 'Quiet River', studio: 'Northlight', policy: policy() },
    ]);
    await seedHistory(server.service, clock, { accounts: 12, steps: 30, titles: TITLES, seed: 7 });
  }, 120_000);
  afterAll(async () => {
    await fresh?.drop();
  });

  it('catches up in checkpointed batches and equals a recompute from the events', async () => {
    const runner = new ProjectionRunner(db, server.service.accounts.store, [studioAccounting()], {
      batchSize: 37,
    });
    const processed = await runner.catchUpWithHead();
    expect(processed).toBeGreaterThan(100);
    await expectEqualsRecompute(db);
    const [lag] = await runner.lag();
    expect(lag).toMatchObject({ projection: STUDIO_ACCOUNTING, eventsBehind: 0, secondsBehind: 0 });
    await runner.stop();
  });

  it('reports per studio, title and month, with distinct accounts and devices and month-end actives; CSV', async () => {
    const rows = await studioReport(db, { from: '2026-01', to: '2027-12' });
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.studio))).toEqual(new Set(['Harbour', 'Northlight']));
    const events = await feedUpTo(server.service.accounts.store, db, (await liveGeneration(db)).position);
    const ref = recomputeStudio(events);
    // Issued per title and month, summed over accounts, from the independent recompute.
    const issued = new Map<string, number>();
    for (const line of ref.counts) {
      const [, title, m, measure, n] = line.split('|');
      if (measure === 'issued') issued.set(`${title}|${m}`, (issued.get(`${title}|${m}`) ?? 0) + Number(n));
    }
    for (const r of rows) expect(r.issued).toBe(issued.get(`${r.titleId}|${r.month}`) ?? 0);
    expect(rows.reduce((a, r) => a + r.issued, 0)).toBe([...issued.values()].reduce((a, n) => a + n, 0));
    for (const r of rows) {
      expect(r.devices).toBeGreaterThanOrEqual(r.accounts);
      expect(r.accounts).toBeLessThanOrEqual(12);
    }
    const csv = studioReportCsv(rows);
    expect(csv.split('\r\n')[0]).toMatch(/^studio,title_id,month,issued,renewed,released,/);
    expect(csv.trim().split('\r\n')).toHaveLength(rows.length + 1);
    const northlight = await studioReport(db, { from: '2026-01', to: '2027-12', studio: 'Northlight' });
    expect(northlight.every((r) => r.studio === 'Northlight')).toBe(true);
    await expect(studioReport(db, { from: '2026-13', to: '2026-01' })).rejects.toThrow(RangeError);
  });

  it('active at month end counts the terms running at the first instant of the next month', async () => {
    const fixedClock = { now: Date.UTC(2026, 5, 30, 12) };
    const s = await createSatchelServer({
      db,
      tokenSecret: 'test-secret-0123456789abcdef',
      logger: pino({ level: 'silent' }),
      now: () => fixedClock.now,
    });
    await s.service.catalogue.put([{ titleId: 'june-only', name: 'June', studio: 'Solo', policy: policy() }]);
    await s.service.createAccount('june-acct', 'June');
    const { deviceId } = await s.service.registerDevice('june-acct', { name: 'd' });
    const a = await s.service.requestLicense('june-acct', deviceId, { titleId: 'june-only' });
    fixedClock.now += HOUR_MS;
    const b = await s.service.requestLicense('june-acct', deviceId, { titleId: 'june-only' });
    expect(a.outcome).toBe('granted');
    expect(b).toMatchObject({ outcome: 'refused', refusal: { code: 'ALREADY_LICENSED' } });
    const runner = new ProjectionRunner(db, s.service.accounts.store, [studioAccounting()]);
    await runner.catchUpWithHead();
    await runner.stop();
    const [june, july] = await studioReport(db, { from: '2026-06', to: '2026-07', studio: 'Solo' });
    // Issued 30 June: 30-day rental, so active at the end of June, expired by the end of July.
    expect(june).toMatchObject({
      month: '2026-06',
      issued: 1,
      accounts: 1,
      devices: 1,
      activeAtMonthEnd: 1,
      refused: { ALREADY_LICENSED: 1 },
    });
    expect(july).toBeUndefined();
  });

  it('rebuilds a new generation while the live one keeps serving, then swaps and drops the old rows', async () => {
    const runner = new ProjectionRunner(db, server.service.accounts.store, [studioAccounting()], {
      batchSize: 50,
    });
    await runner.catchUpWithHead();
    const before = await liveGeneration(db);
    const reportBefore = await studioReport(db, { from: '2026-01', to: '2027-12' });
    const building = await runner.rebuild(STUDIO_ACCOUNTING);
    expect(building).toBe(before.generation + 1);
    expect(await runner.rebuild(STUDIO_ACCOUNTING)).toBe(building);
    // A partial rebuild: the live generation still answers, unchanged.
    const slow = new ProjectionRunner(db, server.service.accounts.store, [studioAccounting()], {
      batchSize: 5,
    });
    await slow.runOnce();
    expect((await liveGeneration(db)).generation).toBe(before.generation);
    expect(await studioReport(db, { from: '2026-01', to: '2027-12' })).toEqual(reportBefore);
    const lags = await slow.lag();
    expect(lags.find((l) => l.generation === building)?.eventsBehind).toBeGreaterThan(0);
    await slow.catchUpWithHead();
    expect((await liveGeneration(db)).generation).toBe(building);
    expect(await studioReport(db, { from: '2026-01', to: '2027-12' })).toEqual(reportBefore);
    await expectEqualsRecompute(db);
    const left = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM studio_license_terms WHERE generation = $1',
      [before.generation],
    );
    expect(Number(left[0]?.n)).toBe(0);
    await runner.stop();
    await slow.stop();
  });

  it('side by side: one instance holds the lease and runs; the other takes over when it stops', async () => {
    const batches: { instance: string; position: number }[] = [];
    const instance = (instanceId: string) =>
      new ProjectionRunner(fresh.open(3), server.service.accounts.store, [studioAccounting()], {
        instanceId,
        batchSize: 20,
        idleMs: 20,
        onBatch: (_p, _g, _n, position) => batches.push({ instance: instanceId, position }),
      });
    const a = instance('instance-a');
    const b = instance('instance-b');
    await a.catchUpWithHead();
    a.start();
    b.start();
    await seedHistory(server.service, clock, {
      accounts: 4,
      steps: 20,
      titles: TITLES,
      seed: 11,
      prefix: 'side-a',
    });
    for (let i = 0; i < 600 && batches.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 100));
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.every((x) => x.instance === 'instance-a')).toBe(true);
    await a.stop();
    await seedHistory(server.service, clock, {
      accounts: 3,
      steps: 20,
      titles: TITLES,
      seed: 12,
      prefix: 'side-b',
    });
    for (let i = 0; i < 1200 && (await b.lag())[0]?.eventsBehind !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await b.stop();
    expect(batches.some((x) => x.instance === 'instance-b')).toBe(true);
    await expectEqualsRecompute(db);
  });
});
